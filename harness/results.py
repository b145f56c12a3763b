"""The run folder: run.json, samples.jsonl, executions.jsonl, metrics.json (see
docs/results-format.md). Appends are fsynced per record; whole files are written atomically;
a lock keeps two processes out of one folder; a torn last line from a kill is repaired."""

from __future__ import annotations

import fcntl
import re
import shutil
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness import settings
from harness.errors import HarnessError
from harness.io import JsonlAppender, atomic_write_json, read_jsonl_tolerant
from harness.schema import ExecutionRecord, Metrics, RunInfo, SampleRecord, first_error

SampleId = tuple[str, int]


def results_root() -> Path:
    return settings.results_root()


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "model"


def repair_jsonl(path: Path) -> None:
    """Cut a partial last line left by a kill, so appends start on a fresh line."""
    if not path.exists():
        return
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end != len(data):
        with open(path, "r+b") as handle:
            handle.truncate(end)


class RunStore:
    """The one writer of a run folder. Only the runner opens it; the stages take and return
    records, so each can be used (and tested) without a folder."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.run_json = run_dir / "run.json"
        self.samples_path = run_dir / "samples.jsonl"
        self.executions_path = run_dir / "executions.jsonl"
        self.metrics_path = run_dir / "metrics.json"
        self._lock_handle: Any = None
        self._samples: JsonlAppender | None = None
        self._executions: JsonlAppender | None = None

    def open(self, config_hash: str, fresh: bool) -> None:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._lock_handle = open(self.run_dir / ".lock", "w")  # noqa: SIM115 (held until close)
        except OSError as exc:
            raise HarnessError(f"cannot use {self.run_dir} as the run folder: "
                               f"{exc.strerror or exc}") from exc
        try:
            fcntl.flock(self._lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise HarnessError(f"{self.run_dir} is in use by another harness process") from exc
        if fresh:
            for path in (self.samples_path, self.executions_path, self.metrics_path,
                         self.run_json):
                path.unlink(missing_ok=True)
        previous = self.read_run_info()
        if previous and previous.config_hash != config_hash:
            raise HarnessError(
                f"{self.run_dir} holds a run with other settings; pass --fresh to replace it "
                "or --output-dir for a new folder"
            )
        for path in (self.samples_path, self.executions_path):
            repair_jsonl(path)
        self._samples = JsonlAppender(self.samples_path)
        self._executions = JsonlAppender(self.executions_path)

    def close(self) -> None:
        for appender in (self._samples, self._executions):
            if appender is not None:
                appender.close()
        self._samples = self._executions = None
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_run_info(self) -> RunInfo | None:
        if not self.run_json.exists():
            return None
        try:
            return RunInfo.model_validate_json(self.run_json.read_bytes())
        except ValidationError as exc:
            raise HarnessError(f"{self.run_json}: not a run.json this harness can resume "
                               f"({first_error(exc)}); pass --fresh to start over") from exc

    def write_run_info(self, info: RunInfo) -> None:
        atomic_write_json(self.run_json, info.model_dump(mode="json"))

    def write_metrics(self, metrics: Metrics) -> None:
        atomic_write_json(self.metrics_path, metrics.model_dump(mode="json", exclude_none=True))

    def read_metrics(self) -> Metrics | None:
        if not self.metrics_path.exists():
            return None
        return Metrics.model_validate_json(self.metrics_path.read_bytes())

    def samples(self) -> dict[SampleId, SampleRecord]:
        records = (SampleRecord.model_validate(r) for r in read_jsonl_tolerant(self.samples_path))
        return {(r.key, r.sample): r for r in records}

    def executions(self) -> dict[SampleId, ExecutionRecord]:
        records = (ExecutionRecord.model_validate(r)
                   for r in read_jsonl_tolerant(self.executions_path))
        return {(r.key, r.sample): r for r in records}

    def add_sample(self, record: SampleRecord) -> None:
        assert self._samples is not None, "RunStore.open() first"
        self._samples.write(record.model_dump(mode="json"))

    def add_execution(self, record: ExecutionRecord) -> None:
        assert self._executions is not None, "RunStore.open() first"
        self._executions.write(record.model_dump(mode="json"))

    def discard_executions(self) -> None:
        """Forget every verdict (``--no-exec-cache``): the samples are executed again."""
        assert self._executions is not None, "RunStore.open() first"
        self._executions.close()
        self.executions_path.unlink(missing_ok=True)
        self.metrics_path.unlink(missing_ok=True)
        self._executions = JsonlAppender(self.executions_path)


def remove_run(run_dir: Path) -> None:
    shutil.rmtree(run_dir, ignore_errors=True)
