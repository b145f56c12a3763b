"""``harness contamination``: scan a corpus for a task's problems and write the report.

The report (JSON, :class:`ContaminationReport`) lists every problem with the share of its
solution and prompt found in the corpus, the longest overlap and where the overlaps are,
and which problems are *flagged*: those with a solution or prompt share of at least
``threshold`` within a single corpus document that also holds a contiguous overlap of
``ngram + RUN_EXTRA`` tokens (or the whole text, for short ones). The union share over the
whole corpus is reported too, but does not flag: generic code spread over many files adds
up there. ``--exclude-problems REPORT`` reads ``flagged`` back (``harness.exclusions``).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.contamination import (
    DEFAULT_NGRAM,
    MIN_RENAMED,
    RUN_EXTRA,
    Index,
    Text,
    build_index,
    find,
    merge,
)
from harness.corpus import Document, ReadStats, read_corpus
from harness.errors import HarnessError
from harness.io import atomic_write_text
from harness.provenance import combined_sha256, utc_now
from harness.tasks import Problem, Task

log = logging.getLogger(__name__)

REPORT_FORMAT = "harness-contamination"
DEFAULT_THRESHOLD = 0.7
NORMALIZATION = [
    "whitespace and line breaks ignored",
    "comments and triple-quoted strings (docstrings) left out of the code stream",
    "string literals compared by content (quote style, prefix and backslashes ignored)",
    "trailing commas before a closing bracket dropped",
    "identifiers renamed consistently match (keywords, builtins, attributes and imported "
    "modules compare as written)",
    "prompts compared as lower-cased words (punctuation ignored)",
]
# With --workers, documents go to the workers in batches of up to BATCH_BYTES (or
# BATCH_DOCUMENTS), and at most IN_FLIGHT_PER_WORKER batches per worker are out at once:
# this bounds memory, and keeps the cost of passing small documents between processes low.
BATCH_BYTES = 1 << 20
BATCH_DOCUMENTS = 512
IN_FLIGHT_PER_WORKER = 4


class Report(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Location(Report):
    source: str
    row: int | None = Field(None, description="JSON Lines line (1-based) or Parquet row "
                            "(0-based); null for a source file")
    line: int = Field(description="line in the document where the overlap starts")


class Hit(Location):
    part: Literal["solution", "prompt"]
    tokens: int = Field(description="the longest contiguous overlap in this document")
    kind: Literal["exact", "renamed", "text"]
    share: float = Field(description="share of the part covered within this document")


class PartResult(Report):
    tokens: int = Field(description="tokens scored (solution: code tokens of the reference "
                        "solution; prompt: words)")
    coverable: int = Field(description="tokens inside n-grams that are checked (n-grams "
                           "common to several problems are not)")
    window: int = Field(description="n-gram size used; 0: too short to check")
    share: float = Field(description="share covered by n-grams found anywhere in the corpus")
    document_share: float = Field(description="the largest share covered within one document "
                                  "that holds a long enough contiguous overlap")
    document: Location | None = None
    longest: int = Field(0, description="tokens of the longest contiguous overlap")
    kind: Literal["exact", "renamed", "text", ""] = ""
    longest_at: Location | None = None


class ProblemResult(Report):
    key: str
    task_id: str
    flagged: bool
    reasons: list[str] = Field(default_factory=list)
    solution: PartResult
    prompt: PartResult
    locations: list[Hit] = Field(default_factory=list)


class ScanInfo(Report):
    documents: int
    bytes: int
    skipped: int
    seconds: float
    mb_per_s: float
    workers: int


class ContaminationReport(Report):
    format: Literal["harness-contamination"] = "harness-contamination"
    version: int = 1
    task: str
    task_version: str
    task_settings: dict[str, Any] = Field(default_factory=dict)
    dataset_sha256: str
    corpus: list[str]
    ngram: int
    threshold: float
    criterion: str
    normalization: list[str]
    created: str
    scan: ScanInfo
    num_problems: int
    num_flagged: int
    flagged: list[str] = Field(description="problem keys to leave out of a clean score")
    problems: list[ProblemResult]


# ---------------------------------------------------------------------------- scan


_WORKER_INDEX: Index | None = None


def _init_worker(index: Index) -> None:
    global _WORKER_INDEX
    _WORKER_INDEX = index


def _find_in_worker(batch: list[Document]) -> list[list[Any]]:
    assert _WORKER_INDEX is not None
    return [find(_WORKER_INDEX, document) for document in batch]


def batches(documents: Iterator[Document]) -> Iterator[list[Document]]:
    batch: list[Document] = []
    size = 0
    for document in documents:
        batch.append(document)
        size += len(document.text)
        if size >= BATCH_BYTES or len(batch) >= BATCH_DOCUMENTS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


@dataclass
class Scan:
    stats: ReadStats
    seconds: float


def scan(index: Index, corpora: Sequence[Path], text_field: str = "text", workers: int = 1,
         show_progress: bool = False) -> Scan:
    """Stream every document through :func:`find` and :func:`merge`. With ``workers`` > 1
    the documents are matched in worker processes, a bounded number of batches at a time,
    so memory stays bounded whatever the corpus size."""
    read = ReadStats()
    began = time.monotonic()
    documents: Iterator[Document] = (d for root in corpora
                                     for d in read_corpus(root, text_field, read))
    bar = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(desc="scan corpus", unit="doc", mininterval=0.5, dynamic_ncols=True)
    try:
        if workers <= 1:
            for document in documents:
                merge(index, find(index, document))
                if bar is not None:
                    bar.update(1)
        else:
            slots = threading.Semaphore(workers * IN_FLIGHT_PER_WORKER)

            def bounded() -> Iterator[list[Document]]:
                for batch in batches(documents):
                    slots.acquire()
                    yield batch

            context = multiprocessing.get_context()
            with context.Pool(workers, initializer=_init_worker, initargs=(index,)) as pool:
                for found in pool.imap(_find_in_worker, bounded()):
                    slots.release()
                    for findings in found:
                        merge(index, findings)
                    if bar is not None:
                        bar.update(len(found))
    finally:
        if bar is not None:
            bar.close()
    return Scan(read, time.monotonic() - began)


# -------------------------------------------------------------------------- report


def problem_texts(task: Task, problem: Problem) -> tuple[str, str, str]:
    """(solution, prompt, context) of a problem as a training corpus would hold them: the
    reference solution as a whole program, the problem statement without the task's
    template, and the leading part of the solution that the prompt gave (HumanEval's
    imports and signature: their n-grams reach into the solution, but only the canonical
    solution is scored, so a copy of the body alone counts in full)."""
    solution = task.solution(problem, problem.reference)
    meta = problem.metadata
    context = ""
    if isinstance(meta.get("prompt"), str):  # HumanEval and its variants
        prompt = str(meta["prompt"])
        context = prompt if solution.startswith(prompt) else ""
    elif isinstance(meta.get("prefix"), str):  # infilling: the code around the gap
        prompt = f"{meta['prefix']}\n{meta.get('suffix', '')}"
    else:
        prompt = task.chat_problem(problem)
    return solution, prompt, context


def part_result(text: Text) -> PartResult:
    return PartResult(
        tokens=len(text.stream) - text.focus, coverable=text.coverable, window=text.window,
        share=round(text.share(), 4),
        document_share=round(text.document_share, 4),
        document=Location(**text.document_at) if text.document_at else None,
        longest=text.longest, kind=text.longest_kind,  # type: ignore[arg-type]
        longest_at=Location(**text.longest_at) if text.longest_at else None)


def check(task: Task, problems: Sequence[Problem], corpora: Sequence[Path], *,
          ngram: int = DEFAULT_NGRAM, threshold: float = DEFAULT_THRESHOLD,
          text_field: str = "text", workers: int = 1, show_progress: bool = False
          ) -> ContaminationReport:
    if ngram < 4:
        raise HarnessError(f"--ngram must be at least 4, not {ngram}")
    if not 0 < threshold <= 1:
        raise HarnessError(f"--threshold must be in (0, 1], not {threshold}")
    pairs: list[tuple[str, str, str]] = []
    position: dict[tuple[str, str, str], int] = {}
    owners: dict[str, tuple[int, int]] = {}
    for problem in problems:
        solution, prompt, context = problem_texts(task, problem)
        ids = []
        for pair in (("solution", solution, context), ("prompt", prompt, "")):
            if pair not in position:  # problems sharing a text (infilling) share its entry
                position[pair] = len(pairs)
                pairs.append(pair)
            ids.append(position[pair])
        owners[problem.key] = (ids[0], ids[1])
    index = build_index(pairs, ngram)
    result = scan(index, corpora, text_field, workers, show_progress)
    rows = []
    for problem in problems:
        solution_text, prompt_text = (index.texts[i] for i in owners[problem.key])
        reasons = [f"{text.part}: {text.document_share:.0%} in one document"
                   for text in (solution_text, prompt_text)
                   if text.window and text.document_share >= threshold]
        hits = [Hit(**hit, part=text.part)  # type: ignore[arg-type]
                for text in (solution_text, prompt_text)
                for hit in text.locations]
        hits.sort(key=lambda h: (-h.share, -h.tokens))
        rows.append(ProblemResult(
            key=problem.key, task_id=problem.task_id, flagged=bool(reasons), reasons=reasons,
            solution=part_result(solution_text), prompt=part_result(prompt_text),
            locations=hits[:5]))
    flagged = [row.key for row in rows if row.flagged]
    stats = result.stats
    return ContaminationReport(
        task=task.name, task_version=task.version, task_settings=task.settings(),
        dataset_sha256=combined_sha256([f.sha256 for f in task.dataset_files]),
        corpus=[str(c) for c in corpora], ngram=ngram, threshold=threshold,
        criterion=(f"solution or prompt share >= {threshold} within one document that holds "
                   f"a contiguous overlap of >= {ngram + RUN_EXTRA} tokens or the whole text "
                   f"(renamed: >= {2 * ngram} tokens or the whole text, and only for texts of "
                   f">= {MIN_RENAMED} tokens)"),
        normalization=NORMALIZATION, created=utc_now(),
        scan=ScanInfo(documents=stats.documents, bytes=stats.bytes, skipped=stats.skipped,
                      seconds=round(result.seconds, 3),
                      mb_per_s=round(stats.bytes / 1e6 / result.seconds, 3)
                      if result.seconds > 0 else 0.0, workers=workers),
        num_problems=len(rows), num_flagged=len(flagged), flagged=flagged, problems=rows)


def write_report(report: ContaminationReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, report.model_dump_json(indent=1) + "\n")


def read_report(path: Path) -> ContaminationReport:
    from pydantic import ValidationError

    try:
        return ContaminationReport.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HarnessError(f"{path}: not a contamination report ({first})") from exc


__all__ = [
    "DEFAULT_THRESHOLD",
    "ContaminationReport",
    "check",
    "problem_texts",
    "read_report",
    "scan",
    "write_report",
]
