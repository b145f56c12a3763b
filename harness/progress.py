"""Progress bars (tqdm on stderr), off with --quiet or when disabled."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass


@contextmanager
def progress(total: int, description: str, enabled: bool = True, position: int = 0
             ) -> Iterator[Any]:
    """A bar on stderr; ``position`` stacks bars shown at once (generation and execution)."""
    if not enabled:
        yield _NoBar()
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=description, unit="sample", dynamic_ncols=True,
              mininterval=0.5, position=position, leave=True) as bar:
        yield bar
