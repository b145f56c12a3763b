"""The run folder's files, defined once: run.json, samples.jsonl, executions.jsonl and
metrics.json. Writers (the runner and its stages) and readers (``harness.reports``, the
Python API, the tests) all go through these models, and ``docs/schema/`` holds their JSON
Schemas (``python -m harness.schema docs/schema`` regenerates them).

``schema_version`` 2 added ``model_fingerprint`` and ``answers`` to metrics.json, the answer
extraction fields to samples, and typed per-problem pass@k (``pass_at``). Readers accept
version 1 files: their per-problem ``pass@k`` keys are moved into ``pass_at``. ``clean``
(metrics.json) is optional and written only by runs with ``--exclude-problems``: files
without it are unchanged, so it did not need a new version.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SCHEMA_VERSION = 2
Status = Literal["passed", "failed", "timeout", "error"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "timeout", "error")


class Record(BaseModel):
    # Unknown fields are refused: a typo or drift between writer and reader fails loudly.
    model_config = ConfigDict(extra="forbid")


class DatasetFileInfo(Record):
    path: str
    sha256: str


class TaskInfo(Record):
    name: str
    version: str
    settings: dict[str, Any] = Field(default_factory=dict)
    num_problems: int


class SamplingInfo(Record):
    n: int
    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int
    stop: list[str] = Field(default_factory=list)


class LimitsInfo(Record):
    timeouts_s: dict[str, float] = Field(default_factory=dict)
    calibrated: bool
    floor_s: float
    factor: float


class SandboxInfo(Record):
    backend: str
    identity: str


class MachineInfo(Record):
    hostname: str
    platform: str
    python: str
    cpus: int | None
    processor: str


class RunInfo(Record):
    """run.json: what was run, with what, where; rewritten at the end of the run."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    command: list[str]
    config: dict[str, Any]
    config_hash: str
    model: dict[str, Any] = Field(description="the model spec's fields plus `fingerprint`")
    model_fingerprint: str = ""
    task: TaskInfo
    mode: Literal["completion", "chat", "samples"] = "completion"
    sampling: SamplingInfo | None = None
    dataset_files: list[DatasetFileInfo] = Field(default_factory=list)
    dataset_sha256: str
    seed: int = 0
    notes: list[str] = Field(default_factory=list)
    packages: dict[str, str] = Field(default_factory=dict)
    git_commit: str | None = None
    machine: MachineInfo | None = None
    limits: LimitsInfo | None = None
    sandbox: SandboxInfo | None = None
    started: str
    finished: str | None = None
    status: Literal["running", "complete"] = "running"


class SampleRecord(Record):
    """One line of samples.jsonl: a model's answer as generated and as executed."""

    key: str
    task_id: str
    sample: int
    raw: str = Field(description="the text as the model (or samples file) gave it")
    completion: str = Field(description="what is executed/scored: the post-processed "
                            "completion, or the whole program when kind is 'solution'")
    kind: Literal["completion", "solution"] = "completion"
    finish_reason: str | None = None
    num_tokens: int | None = None
    prompt_truncated: bool = False
    code_found: bool = Field(True, description="False when extraction found no usable code")
    extraction: str = Field("", description="why no code was found, or extraction notes")


class ExecutionRecord(Record):
    """One line of executions.jsonl: the verdict on one sample."""

    key: str
    task_id: str
    sample: int
    status: Status
    detail: str = ""
    duration_s: float = 0.0
    cached: bool = False


class ProblemMetrics(Record):
    key: str
    task_id: str
    n: int
    correct: int | None = None
    pass_at: dict[str, float] = Field(default_factory=dict, description="'pass@k' -> percent")
    scores: dict[str, float] = Field(default_factory=dict)
    checking: Literal["outside", "in-process"] | None = Field(
        None, description="where verdicts were made: 'outside' the candidate's process, from "
        "its outputs (trusted code), or 'in-process' by a program that runs its own tests "
        "(a weaker guarantee); absent for tasks that do not execute")


class AnswerCounts(Record):
    """How the answers ended: verdicts plus the answers that never reached the tests."""

    samples: int = 0
    passed: int = 0
    failed: int = 0
    timeout: int = 0
    error: int = 0
    no_code: int = Field(0, description="answers in which no usable code was found")
    truncated: int = Field(0, description="answers cut by max_new_tokens (finish_reason length)")
    truncated_no_code: int = Field(0, description="cut by max_new_tokens before any code")


class ExcludedInfo(Record):
    count: int
    missing_libraries: dict[str, int] = Field(default_factory=dict)
    keys: list[str] = Field(default_factory=list)


class LeftOutInfo(Record):
    count: int
    reasons: dict[str, str] = Field(default_factory=dict)


class CleanScore(Record):
    """The run scored without the problems ``--exclude-problems`` names (e.g. those a
    contamination report flags): the same scorer over the remaining problems, so the numbers
    equal those of a run over exactly those problems."""

    source: str = Field(description="where the excluded ids came from: 'report PATH', "
                        "'list PATH' or 'list'")
    num_problems: int = Field(description="problems behind the clean score")
    num_excluded: int = Field(description="problems of this run left out")
    excluded: list[str] = Field(default_factory=list, description="their keys")
    metrics: dict[str, float] = Field(default_factory=dict)
    ci95: dict[str, tuple[float, float]] = Field(default_factory=dict)


class Metrics(Record):
    """metrics.json: scores (percent), 95% intervals, counts and per-problem results."""

    schema_version: int = SCHEMA_VERSION
    run_id: str
    task: str
    task_version: str
    model: str
    model_fingerprint: str = ""
    num_problems: int
    n: int
    n_max: int | None = None
    k: list[int] = Field(default_factory=list)
    complete: bool = True
    dataset_sha256: str
    config_hash: str
    metrics: dict[str, float] = Field(default_factory=dict)
    ci95: dict[str, tuple[float, float]] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    answers: AnswerCounts | None = None
    signatures: dict[str, str] = Field(default_factory=dict)
    per_problem: list[ProblemMetrics] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    excluded: ExcludedInfo | None = None
    left_out: LeftOutInfo | None = None
    clean: CleanScore | None = Field(None, description="the score without the problems "
                                     "--exclude-problems names")
    created: str

    @model_validator(mode="before")
    @classmethod
    def _upgrade_v1(cls, data: Any) -> Any:
        # Version 1 kept per-problem pass@k as top-level keys of each row.
        version = data.get("schema_version") if isinstance(data, dict) else None
        if isinstance(version, int) and version < 2:
            data = dict(data)
            rows = []
            for row in data.get("per_problem", []):
                row = dict(row)
                passes = {k: row.pop(k) for k in list(row) if k.startswith("pass@")}
                rows.append({**row, "pass_at": {**row.get("pass_at", {}), **passes}})
            data["per_problem"] = rows
        return data


SUMMARY_FORMAT = "harness-summary"


class SummaryProblem(Record):
    """One problem of a summarised run; fields at their defaults are left out of the file."""

    key: str
    task_id: str | None = Field(None, description="written only when it differs from key")
    n: int
    correct: int | None = Field(None, description="absent when the task does not execute")
    scores: dict[str, float] = Field(default_factory=dict)


class SummaryRun(Record):
    """A finished run as a summary keeps it: metrics.json's identity, scores and per-problem
    outcomes (per-problem pass@k follows from n and correct), plus the generation settings
    that tell runs of one model apart."""

    run_id: str = ""
    task: str
    task_version: str
    model: str
    model_fingerprint: str = ""
    num_problems: int
    n: int
    k: list[int] = Field(default_factory=list)
    complete: bool
    dataset_sha256: str
    config_hash: str = ""
    settings: dict[str, Any] = Field(default_factory=dict,
                                     description="temperature and top_p when not the defaults")
    metrics: dict[str, float] = Field(default_factory=dict)
    ci95: dict[str, tuple[float, float]] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    created: str
    per_problem: list[SummaryProblem]


class SummaryFile(Record):
    """A summary file (``harness summary``, ``harness gate --write-baseline``): compact,
    self-contained finished runs, one per task, e.g. a CI baseline kept in git."""

    format: Literal["harness-summary"] = "harness-summary"
    schema_version: int = SCHEMA_VERSION
    runs: list[SummaryRun] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _upgrade_v1(cls, data: Any) -> Any:
        # Version 1 repeated schema_version in every run.
        if isinstance(data, dict) and isinstance(data.get("schema_version"), int) \
                and data["schema_version"] < 2:
            runs = data.get("runs")
            if isinstance(runs, list):
                data = {**data, "runs": [
                    {k: v for k, v in run.items() if k != "schema_version"}
                    if isinstance(run, dict) else run for run in runs]}
        return data


def first_error(exc: ValidationError) -> str:
    """The first problem of a validation error in one line: the field's path, what is
    wrong, and the value found."""
    error = exc.errors()[0]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}"
                    for part in error["loc"]).lstrip(".")
    if error["type"] == "missing":
        return f"field {where!r} is missing"
    if error["type"] == "extra_forbidden":
        return f"field {where!r} is not part of the format"
    found = json.dumps(error.get("input"), default=str)
    found = found if len(found) <= 60 else found[:57] + "..."
    message = error["msg"][:1].lower() + error["msg"][1:]
    return f"field {where!r}: {message}, got {found}" if where else message


FILES: dict[str, type[Record]] = {
    "run": RunInfo,
    "sample": SampleRecord,
    "execution": ExecutionRecord,
    "metrics": Metrics,
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each file, by file name under docs/schema/."""
    models: dict[str, type[Record]] = {**FILES, "summary": SummaryFile}
    return {f"{name}.schema.json": model.model_json_schema() for name, model in models.items()}


def write_json_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = folder / name
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":  # python -m harness.schema docs/schema
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schema")
    for written_path in write_json_schemas(target):
        sys.stdout.write(f"{written_path}\n")
