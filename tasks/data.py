"""Finding dataset files: --data-dir, environment variables, a local cache, then the hub.

Search order for a task's file ``NAME`` in folder ``SUBDIR`` (e.g. ``mbpp``):

1. ``--data-dir DIR``: ``DIR/NAME`` or ``DIR/SUBDIR/NAME``
2. ``$HARNESS_<SUBDIR>_DIR/NAME`` (e.g. ``HARNESS_MBPP_DIR``)
3. ``$HARNESS_DATA_DIR/SUBDIR/NAME``
4. the download cache ``$HARNESS_CACHE_DIR/data/SUBDIR/NAME`` (default ``~/.cache/harness``)
5. the Hugging Face hub through ``datasets`` (skipped when ``HF_HUB_OFFLINE``/
   ``HF_DATASETS_OFFLINE``/``HARNESS_OFFLINE`` is set), saved into the cache of step 4.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.deps import HUB_INSTALL, missing_dependency
from harness.errors import DataNotFoundError
from harness.io import atomic_write_text, parsed_line, text_lines
from harness.settings import cache_dir, dataset_dir_env, dataset_roots, datasets_offline
from harness.tasks.base import TaskOptions

log = logging.getLogger(__name__)

HubExporter = Callable[[Path], None]  # writes the expected file at the given path


def candidate_paths(names: Iterable[str], subdir: str, options: TaskOptions) -> list[Path]:
    roots: list[Path] = []
    if options.data_dir is not None:
        roots += [options.data_dir, options.data_dir / subdir]
    roots += dataset_roots(subdir)
    roots.append(cache_dir() / "data" / subdir)
    return [root / name for root in roots for name in names]


def locate(
    names: str | list[str],
    *,
    subdir: str,
    options: TaskOptions,
    hub: tuple[str, HubExporter] | None = None,
) -> Path:
    """Return the first existing file among ``names`` (alternatives, best first)."""
    names = [names] if isinstance(names, str) else names
    for path in candidate_paths(names, subdir, options):
        if path.is_file():
            return path
    target = cache_dir() / "data" / subdir / names[0]
    why = "offline"
    if hub is not None and not datasets_offline():
        hub_id, export = hub
        try:
            log.info("downloading %s from the hub into %s", hub_id, target)
            target.parent.mkdir(parents=True, exist_ok=True)
            export(target)
            return target
        except ImportError as exc:  # the exporters import `datasets` only when they run
            why = missing_dependency("hub downloads need datasets", HUB_INSTALL, exc)
        except Exception as exc:  # any hub failure becomes the one-line error below
            why = f"hub download of {hub_id} failed: {type(exc).__name__}: {exc}".splitlines()[0]
    where = f"--data-dir DIR, ${dataset_dir_env(subdir)}, or $HARNESS_DATA_DIR/{subdir}/"
    raise DataNotFoundError(
        f"{subdir}: dataset file {names[0]} not found; put it in {where} ({why})"
    )


def export_hub_dataset(hub_id: str, split: str, config: str | None = None) -> HubExporter:
    """An exporter that saves a hub dataset split as JSON lines."""

    def export(target: Path) -> None:
        import datasets  # heavy; only imported when a download is needed

        rows = datasets.load_dataset(hub_id, config, split=split)
        atomic_write_text(target, "".join(json.dumps(dict(row)) + "\n" for row in rows))

    return export


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Read JSON lines from a plain or .gz file; a bad line is a one-line error."""
    for number, line in text_lines(path):
        yield parsed_line(path, number, line)
