"""Text helpers shared by tasks and backends (a leaf module: it imports nothing of the harness)."""

from __future__ import annotations

from collections.abc import Iterable


def find_stop(text: str, stop: Iterable[str], start: int = 0) -> int | None:
    """Index of the earliest occurrence of any stop sequence in ``text[start:]``, or None.
    Empty stop sequences are ignored (they would match everywhere)."""
    positions = [text.find(s, start) for s in stop if s]
    found = [p for p in positions if p >= 0]
    return min(found) if found else None


def truncate_at_stop(text: str, stop: Iterable[str]) -> str:
    """``text`` up to (not including) its earliest stop sequence."""
    index = find_stop(text, stop)
    return text if index is None else text[:index]
