"""Every execution task scores 100% with its reference solutions, over the whole dataset,
through the CLI and the default sandbox with calibrated limits (slow: minutes each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from shared_data import SHARED_DATA, need_shared

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

CASES = [  # task, data folder (None: packaged), problems scored
    ("humaneval", None, 164),
    ("humaneval-plus", "humanevalplus", 164),
    ("mbpp", "mbpp", 500),
    ("mbpp-sanitized", "mbpp", 257),
    ("mbpp-plus", "mbppplus", 378),
]


@pytest.mark.parametrize(("task", "folder", "count"), CASES, ids=[c[0] for c in CASES])
def test_reference_scores_100(task: str, folder: str | None, count: int, tmp_path: Path) -> None:
    args = [sys.executable, "-m", "harness", "-q", "run", "--model", "reference", "--task", task,
            "--output-dir", str(tmp_path / "run")]
    if folder is not None:
        args += ["--data-dir", str(need_shared(SHARED_DATA / folder))]
    done = subprocess.run(args, capture_output=True, text=True, timeout=1700, check=False,
                          env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    failing = [row["key"] for row in metrics["per_problem"] if row["correct"] != row["n"]]
    assert failing == []
    assert metrics["metrics"]["pass@1"] == 100.0
    assert metrics["num_problems"] == count
    assert "excluded" not in metrics
