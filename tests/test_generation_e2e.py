"""Real generation backends through the CLI: `harness run --model ... --task humaneval --n 4`
with tiny random models built at test time (a T5 with a LoRA adapter through a models-file
alias, a Llama through `hf:PATH`, `vllm:` and `openai:` against a local server), stop
sequences, and a kill mid-generation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from tiny_models import build_lora_adapter, build_tiny_llama, build_tiny_t5

from harness.tasks.humaneval import HUMANEVAL_STOP as STOP_SEQUENCES

pytestmark = pytest.mark.timeout(900)

CODET5P_TEMPLATE = ("### Instruction: Create a Python script for this problem: {prompt} "
                    "### Response:")


def harness_args(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness", "-q", "run", "--task", "humaneval", *args]


def run_harness(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(harness_args(*args), capture_output=True, text=True, timeout=800,
                          check=False, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-cli-models")
    t5 = build_tiny_t5(root / "t5")
    return {"t5": t5, "t5-lora": build_lora_adapter(t5, root / "t5-lora"),
            "llama": build_tiny_llama(root / "llama")}


def test_seq2seq_lora_alias_from_a_models_file(models: dict[str, Path], tmp_path: Path) -> None:
    models_file = tmp_path / "models.toml"
    models_file.write_text(
        "[models.tiny-t5-lora]\n"
        'backend = "hf"\n'
        f'model = "{models["t5"]}"\n'
        f'adapter = "{models["t5-lora"]}"\n'
        f'template = "{CODET5P_TEMPLATE}"\n'
        'sampling = { temperature = 0.8, max_new_tokens = 24 }\n'
    )
    out = tmp_path / "run"
    run_harness("--model", "tiny-t5-lora", "--models-file", str(models_file), "--limit", "3",
                "--n", "4", "--seed", "7", "--output-dir", str(out))
    samples = read_jsonl(out / "samples.jsonl")
    per_problem = Counter(s["task_id"] for s in samples)
    assert per_problem == {"HumanEval/0": 4, "HumanEval/1": 4, "HumanEval/2": 4}
    assert sorted({s["sample"] for s in samples}) == [0, 1, 2, 3]
    assert len({s["raw"] for s in samples}) > 1  # sampled, not four copies
    run = json.loads((out / "run.json").read_text())
    assert run["model"]["adapter"] == str(models["t5-lora"])
    assert run["model"]["template"] == CODET5P_TEMPLATE
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 4 and metrics["num_problems"] == 3
    assert set(metrics["metrics"]) >= {"pass@1"}


def test_causal_model_stops_and_resumes_after_sigkill(models: dict[str, Path],
                                                      tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = harness_args("--model", f"hf:{models['llama']}", "--limit", "40", "--n", "4",
                        "--temperature", "0.8", "--max-new-tokens", "96", "--batch-size", "8",
                        "--output-dir", str(out), "--sandbox", "local", "--timeout", "5")
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "HARNESS_CACHE_DIR": str(tmp_path / "cache")}  # nothing cached from elsewhere
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, env=env)
    samples_file = out / "samples.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if samples_file.exists() and samples_file.read_text().count("\n") >= 8:
            break
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    written = samples_file.read_text().splitlines()
    assert 8 <= len(written) < 160, "the kill must land mid-generation"
    assert not (out / "metrics.json").exists()

    done = subprocess.run(args, capture_output=True, text=True, timeout=800, check=False, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    samples = read_jsonl(samples_file)
    assert [json.dumps(s) for s in samples[: len(written)]] == [
        json.dumps(json.loads(line)) for line in written]  # kept, not regenerated
    assert len(samples) == 160
    assert len({(s["key"], s["sample"]) for s in samples}) == 160
    assert all(n == 4 for n in Counter(s["key"] for s in samples).values())
    # The backend ends each sequence at the task's stop sequences: none survives in raw text.
    assert not [s for s in samples if any(stop in s["raw"] for stop in STOP_SEQUENCES)]
    assert any(s["finish_reason"] == "stop" for s in samples)
    assert json.loads((out / "metrics.json").read_text())["n"] == 4


@pytest.mark.slow
@pytest.mark.vllm
def test_vllm_with_adapter_through_the_cli(models: dict[str, Path], tmp_path: Path) -> None:
    lora = build_lora_adapter(models["llama"], tmp_path / "lora")
    models_file = tmp_path / "models.toml"
    models_file.write_text(
        "[models.tiny-vllm]\n"
        'backend = "vllm"\n'
        f'model = "{models["llama"]}"\n'
        f'adapter = "{lora}"\n'
        "options = { max_model_len = 512, kv_cache_gb = 0.25 }\n"
    )
    out = tmp_path / "run"
    run_harness("--model", "tiny-vllm", "--models-file", str(models_file), "--limit", "2",
                "--n", "4", "--temperature", "0.8", "--max-new-tokens", "48",
                "--output-dir", str(out))
    samples = read_jsonl(out / "samples.jsonl")
    assert Counter(s["task_id"] for s in samples) == {"HumanEval/0": 4, "HumanEval/1": 4}
    assert not [s for s in samples if any(stop in s["raw"] for stop in STOP_SEQUENCES)]
    assert json.loads((out / "metrics.json").read_text())["n"] == 4


def test_openai_compatible_server_through_the_cli(models: dict[str, Path], tmp_path: Path) -> None:
    from openai_server import OpenAIServer

    out = tmp_path / "run"
    with OpenAIServer(model_dir=models["llama"]) as server:
        run_harness("--model", "openai:tiny-llama", "--base-url", server.base_url, "--limit",
                    "2", "--n", "4", "--temperature", "0.8", "--max-new-tokens", "32",
                    "--output-dir", str(out))
        served = len(server.requests)
    samples = read_jsonl(out / "samples.jsonl")
    assert Counter(s["task_id"] for s in samples) == {"HumanEval/0": 4, "HumanEval/1": 4}
    assert served >= 2  # the completions came over HTTP
    assert not [s for s in samples if any(stop in s["raw"] for stop in STOP_SEQUENCES)]
    assert json.loads((out / "metrics.json").read_text())["n"] == 4
