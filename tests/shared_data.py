"""Where the shared benchmark data sits (beside the repository in CI), and skipping without it."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"
EXTERNAL = SHARED / "external"


def need_shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present (the shared benchmark data sits beside the repo in CI)")
    return path
