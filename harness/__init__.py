"""harness: an execution-based benchmark harness for code-generation models.

``harness.run(...)`` and ``harness.evaluate(...)`` (see :mod:`harness.api`) are imported on
first use, so ``import harness`` stays cheap and has no side effects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from harness.api import RunOutput, evaluate, run

__all__ = ["RunOutput", "__version__", "evaluate", "run"]


def __getattr__(name: str) -> Any:
    if name in ("run", "evaluate", "RunOutput"):
        from harness import api

        return getattr(api, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
