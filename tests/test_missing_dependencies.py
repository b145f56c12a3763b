"""A core install (`make run`: no torch, transformers, vLLM or datasets) asking for a model
backend or a hub download gets one `harness: error:` line naming what to install, exit 2.

The real CLI runs in a subprocess whose `sitecustomize` (on PYTHONPATH) makes the chosen
packages unimportable, as if they were not installed, whatever this venv has.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from shared_data import SHARED_DATA, need_shared

BLOCKER = '''
import importlib.abc
import os
import sys

BLOCKED = set(os.environ["BLOCK_MODULES"].split(","))


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
'''


def run_without(
    blocked: str, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    environment = {
        **os.environ,
        **(env or {}),
        "PYTHONPATH": str(site),
        "BLOCK_MODULES": blocked,
        "HARNESS_RESULTS_DIR": str(tmp_path / "results"),
    }
    return subprocess.run(
        [sys.executable, "-m", "harness", "-q", "run", *args],
        capture_output=True, text=True, timeout=120, check=False, env=environment,
        cwd=tmp_path,
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("harness: error:")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def test_the_blocker_makes_a_module_missing(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(site), "BLOCK_MODULES": "torch"}
    done = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True,
                          text=True, check=False, env=env)
    assert "ModuleNotFoundError: No module named 'torch'" in done.stderr


def test_hf_alias_without_torch(tmp_path: Path) -> None:
    mbpp = need_shared(SHARED_DATA / "mbpp")
    done = run_without("torch", tmp_path, "--model", "codet5p-770m-lora", "--task", "mbpp",
                       "--data-dir", str(mbpp))
    line = one_error_line(done)
    assert "the hf backend needs torch and transformers; torch is not installed" in line
    assert "`make backends`" in line and "'.[hf]'" in line


@pytest.mark.parametrize(
    ("blocked", "model", "expected"),
    [
        ("transformers", "hf:Salesforce/codet5p-220m", "transformers is not installed"),
        ("peft", "codet5p-770m-lora", "the hf backend needs peft for adapters; peft is not"),
        ("vllm", "vllm:Qwen/Qwen2.5-Coder-0.5B", "the vllm backend needs vllm; vllm is not"),
        ("vllm,huggingface_hub", "vllm:Qwen/Qwen2.5-Coder-0.5B", "vllm is not installed"),
    ],
)
def test_each_backend_names_what_is_missing(
    blocked: str, model: str, expected: str, tmp_path: Path
) -> None:
    line = one_error_line(run_without(blocked, tmp_path, "--model", model, "--task", "humaneval"))
    assert expected in line
    assert "`make backends`" in line


def test_hub_download_without_datasets(tmp_path: Path) -> None:
    # Online as far as the harness knows, with nothing cached: the download is attempted, and
    # fails at `import datasets` before any network access.
    env = {"HARNESS_CACHE_DIR": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "",
           "HF_DATASETS_OFFLINE": "", "HARNESS_OFFLINE": "", "HARNESS_MBPP_DIR": "",
           "HARNESS_DATA_DIR": ""}
    done = run_without("datasets", tmp_path, "--model", "reference", "--task", "mbpp", env=env)
    line = one_error_line(done)
    assert "mbpp.jsonl not found" in line
    assert "hub downloads need datasets; datasets is not installed" in line
    assert "'.[hub]'" in line
