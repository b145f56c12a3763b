"""The run folder: run.json, samples.jsonl, executions.jsonl, metrics.json (see
docs/results-format.md). Appends are fsynced per record; whole files are written atomically;
a lock keeps two processes out of one folder; a torn last line from a kill is repaired."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.io import JsonlAppender, atomic_write_json, read_jsonl_tolerant

SCHEMA_VERSION = 1
SampleId = tuple[str, int]


def results_root() -> Path:
    return Path(os.environ.get("HARNESS_RESULTS_DIR", "results"))


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
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock_handle = open(self.run_dir / ".lock", "w")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(self._lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise HarnessError(f"{self.run_dir} is in use by another harness process") from exc
        if fresh:
            for path in (self.samples_path, self.executions_path, self.metrics_path,
                         self.run_json):
                path.unlink(missing_ok=True)
        previous = self.read_run_json()
        if previous and previous.get("config_hash") != config_hash:
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
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read_run_json(self) -> dict[str, Any] | None:
        if not self.run_json.exists():
            return None
        try:
            data: dict[str, Any] = json.loads(self.run_json.read_text())
            return data
        except json.JSONDecodeError as exc:
            raise HarnessError(f"{self.run_json}: corrupt ({exc.msg})") from exc

    def write_run_json(self, data: dict[str, Any]) -> None:
        atomic_write_json(self.run_json, {"schema_version": SCHEMA_VERSION, **data})

    def write_metrics(self, data: dict[str, Any]) -> None:
        atomic_write_json(self.metrics_path, {"schema_version": SCHEMA_VERSION, **data})

    def samples(self) -> dict[SampleId, dict[str, Any]]:
        return {(r["key"], r["sample"]): r for r in read_jsonl_tolerant(self.samples_path)}

    def executions(self) -> dict[SampleId, dict[str, Any]]:
        return {(r["key"], r["sample"]): r for r in read_jsonl_tolerant(self.executions_path)}

    def add_sample(self, record: dict[str, Any]) -> None:
        assert self._samples is not None, "RunStore.open() first"
        self._samples.write(record)

    def add_execution(self, record: dict[str, Any]) -> None:
        assert self._executions is not None, "RunStore.open() first"
        self._executions.write(record)


def remove_run(run_dir: Path) -> None:
    shutil.rmtree(run_dir, ignore_errors=True)
