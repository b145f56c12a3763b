"""Progress bars (tqdm on stderr), off with --quiet or when disabled."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass


@contextmanager
def progress(total: int, description: str, enabled: bool = True) -> Iterator[Any]:
    if not enabled:
        yield _NoBar()
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=description, unit="sample", dynamic_ncols=True,
              mininterval=0.5) as bar:
        yield bar
