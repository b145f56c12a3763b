"""Shared test settings: offline, results and caches under a per-session folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"
EXTERNAL = SHARED / "external"

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


def need_shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present (the shared benchmark data sits beside the repo in CI)")
    return path
