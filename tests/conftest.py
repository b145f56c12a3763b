"""Shared test settings: offline, results and caches under a per-session folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# `python -m pytest` puts the working directory on sys.path; from the repository root that
# would make tasks/ and sandbox/ importable a second time as top-level `tasks` and `sandbox`
# (they are harness.tasks and harness.sandbox only). Tests see the installed package and
# their own helpers in tests/, nothing else from the checkout.
_REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _REPO]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def isolated_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run folders go to a temporary results root; caches are shared within the session."""
    root = tmp_path_factory.mktemp("harness")
    os.environ["HARNESS_RESULTS_DIR"] = str(root / "results")
    os.environ.setdefault("HARNESS_CACHE_DIR", str(root / "cache"))
    return root
