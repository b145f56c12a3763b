"""Atomic file writes and append-only JSON lines."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_text(text: str) -> str:
    """``text`` with lone surrogates (from invalid UTF-8 or hostile programs) replaced, so it
    can be written as UTF-8 and shown on a terminal."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def json_line(data: Any, **options: Any) -> str:
    """JSON text that is valid UTF-8 whatever the strings hold: lone surrogates are kept as
    ``\\udXXX`` escapes (which JSON readers restore) instead of failing the write."""
    text = json.dumps(data, ensure_ascii=False, **options)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, ensure_ascii=True, **options)
    return text


# What json.loads raises on text it cannot turn into a value: malformed JSON
# (JSONDecodeError), a number of more than 4,300 digits (ValueError) or nesting deeper than
# its parser goes (RecursionError). Each is bad input, never a traceback.
JSON_ERRORS = (ValueError, RecursionError)
# What reading a damaged text file, plain or gzip, can raise (zlib.error is no OSError)
READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)


def text_lines(path: Path, errors: str = "strict") -> Iterator[tuple[int, str]]:
    """(line number, line) of a UTF-8 text file, gzip-compressed where its name ends in
    .gz, blank lines left out; a file that cannot be read (missing, damaged, not UTF-8 with
    ``errors="strict"``) is one HarnessError."""
    from harness.errors import HarnessError

    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors=errors) as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    yield number, line
    except READ_ERRORS as exc:
        raise HarnessError(f"{path}: cannot read: {exc}") from exc


def parsed_line(path: Path, number: int, line: str) -> Any:
    """The JSON value of line ``number`` of ``path``; one HarnessError if it is not JSON."""
    from harness.errors import HarnessError

    try:
        return json.loads(line)
    except JSON_ERRORS as exc:
        raise HarnessError(f"{path}:{number}: not valid JSON: {json_problem(exc)}") from exc


def json_problem(exc: BaseException) -> str:
    """Why ``json.loads`` refused some text (one of ``JSON_ERRORS``), in a few words."""
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc).split(";")[0]


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json_line(data, indent=2) + "\n")


class JsonlAppender:
    """Appends one JSON object per line. Each line is flushed to the OS at once, so a killed
    process loses at most a partial last line (which readers skip); fsync, which only a
    machine crash needs, runs at most every ``SYNC_INTERVAL_S`` and on close (per record it
    cost more than executing a HumanEval program)."""

    SYNC_INTERVAL_S = 1.0

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._synced = time.monotonic()

    def write(self, record: dict[str, Any]) -> None:
        self._handle.write(json_line(record) + "\n")
        self._handle.flush()
        if time.monotonic() - self._synced >= self.SYNC_INTERVAL_S:
            self.sync()

    def sync(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._synced = time.monotonic()

    def close(self) -> None:
        if not self._handle.closed:
            self.sync()
            self._handle.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_jsonl_tolerant(path: Path) -> list[dict[str, Any]]:
    """Read our own append-only files; a torn last line (from a kill) is dropped."""
    if not path.exists():
        return []
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.endswith("\n"):
                break  # torn write at the end
            try:
                records.append(json.loads(line))
            except JSON_ERRORS:
                break
    return records
