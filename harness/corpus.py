"""Streaming readers for training corpora: one document at a time, in bounded memory.

A corpus is a folder (walked in sorted order), or a single file:

* source files (any text file; binary files, recognised by a NUL byte in their first 8 KiB,
  are skipped): one document each;
* JSON Lines (``.jsonl``, ``.ndjson``, optionally ``.gz``): one document per line, the text
  in ``text_field`` (default ``text``; ``content`` and ``code``, as The Stack and many
  fine-tuning sets name it, are tried when it is absent);
* Parquet (``.parquet``, through pyarrow): one document per row, read in row batches of
  that one column.

Nothing is read ahead: memory holds the current document (and one Parquet batch).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.deps import requires
from harness.errors import HarnessError
from harness.io import parsed_line, text_lines

log = logging.getLogger(__name__)

FALLBACK_FIELDS = ("content", "code")
PARQUET_BATCH_ROWS = 256
PARQUET_INSTALL = "pip install 'harness[contamination]' (or pyarrow)"
_JSONL = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")


@dataclass(frozen=True)
class Document:
    source: str  # the file
    row: int | None  # the line (JSON Lines, 1-based) or row (Parquet, 0-based); None: a file
    text: str


@dataclass
class ReadStats:
    documents: int = 0
    bytes: int = 0
    skipped: int = 0  # binary files, rows without text

    def count(self, document: Document) -> Document:
        self.documents += 1
        self.bytes += len(document.text.encode("utf-8", "replace"))
        return document


def corpus_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    if not root.is_dir():
        raise HarnessError(f"corpus {root} does not exist")
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(folder) / name


def read_corpus(root: Path, text_field: str = "text", stats: ReadStats | None = None
                ) -> Iterator[Document]:
    """Every document of the corpus at ``root``, one at a time."""
    stats = stats if stats is not None else ReadStats()
    for path in corpus_files(root):
        name = path.name.lower()
        if name.endswith(_JSONL):
            documents = read_jsonl_documents(path, text_field, stats)
        elif name.endswith(".parquet"):
            documents = read_parquet_documents(path, text_field, stats)
        else:
            documents = read_source_file(path, stats)
        for document in documents:
            yield stats.count(document)


def read_source_file(path: Path, stats: ReadStats) -> Iterator[Document]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.warning("corpus: cannot read %s: %s", path, exc)
        stats.skipped += 1
        return
    if b"\0" in data[:8192]:
        stats.skipped += 1
        return
    yield Document(str(path), None, data.decode("utf-8", "replace"))


def text_of(record: Any, field: str) -> str | None:
    if not isinstance(record, dict):
        return None
    for name in (field, *FALLBACK_FIELDS):
        value = record.get(name)
        if isinstance(value, str):
            return value
    return None


def read_jsonl_documents(path: Path, field: str, stats: ReadStats) -> Iterator[Document]:
    for number, line in text_lines(path, errors="replace"):
        text = text_of(parsed_line(path, number, line), field)
        if text is None:
            stats.skipped += 1
            continue
        yield Document(str(path), number, text)


def read_parquet_documents(path: Path, field: str, stats: ReadStats) -> Iterator[Document]:
    with requires("reading Parquet corpora needs pyarrow", PARQUET_INSTALL):
        import pyarrow.parquet as pq
    parquet = pq.ParquetFile(path)
    names = parquet.schema_arrow.names
    column = next((n for n in (field, *FALLBACK_FIELDS) if n in names), None)
    if column is None:
        raise HarnessError(f"{path}: no column {field!r} (columns: {', '.join(names)}); "
                           "name the text column with --text-field")
    row = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=[column]):
        for value in batch.column(0).to_pylist():
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            if isinstance(value, str):
                yield Document(str(path), row, value)
            else:
                stats.skipped += 1
            row += 1


__all__ = ["Document", "ReadStats", "corpus_files", "read_corpus"]
