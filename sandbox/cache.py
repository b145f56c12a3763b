"""Execution cache keyed by content: sha256(program, limits, sandbox identity).

The program is the complete source (completion plus tests), the identity names the backend,
the Python version, the worker's code and, for Docker, the image id. Re-scoring the same
samples is instant; changing the image, the limits or the worker misses the cache. Never
keyed by file paths. SQLite in WAL mode; one writer at a time (a run), readers anytime.

Only the programs' own verdicts are stored: never an outcome the sandbox caused
(``Outcome.sandbox_fault``; see ``execute.py`` for what else is not cached). Texts are stored
with lone surrogates replaced, so hostile output cannot break a write. Schema 2 (the table
``outcomes_v2``) replaced schema 1, whose entries could hold forged or sandbox-caused
verdicts: they are dropped, never read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from pathlib import Path

from harness.errors import HarnessError
from harness.io import safe_text
from harness.sandbox.base import ExecJob, Outcome, Status

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
TABLE = "outcomes_v2"


def cache_key(job: ExecJob, identity: str) -> str:
    material = json.dumps(
        {"v": SCHEMA_VERSION, "program": job.program, "limits": job.limits.to_dict(),
         "sandbox": identity,
         "libraries": None if job.libraries is None else sorted(job.libraries),
         "calls": None if job.calls is None else [job.calls.wire_inputs, job.calls.cpu_limits],
         "verdict": job.verdict_key},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class ExecutionCache:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("DROP TABLE IF EXISTS outcomes")  # schema 1: not trusted
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                " key TEXT PRIMARY KEY, status TEXT NOT NULL, detail TEXT NOT NULL,"
                " duration_s REAL NOT NULL, stdout TEXT NOT NULL, stderr TEXT NOT NULL,"
                " calls TEXT, cpu_s REAL NOT NULL, created REAL NOT NULL)"
            )
            self._db.commit()
        except sqlite3.Error as exc:
            raise HarnessError(f"cannot open the execution cache {self.path}: {exc}") from exc

    def get(self, job: ExecJob, identity: str) -> Outcome | None:
        return self.get_key(cache_key(job, identity))

    def get_key(self, key: str) -> Outcome | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT status, detail, duration_s, stdout, stderr, calls, cpu_s FROM {TABLE}"
                " WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        status, detail, duration_s, stdout, stderr, calls, cpu_s = row
        try:
            verdict = Status(status)
        except ValueError:
            return None
        return Outcome(verdict, detail, duration_s, stdout, stderr, cached=True, calls=calls,
                       cpu_s=cpu_s)

    def put(self, job: ExecJob, identity: str, outcome: Outcome) -> None:
        self.put_key(cache_key(job, identity), outcome)

    def put_key(self, key: str, outcome: Outcome) -> None:
        if outcome.sandbox_fault:  # not the program's verdict: never reused
            log.debug("not caching an outcome the sandbox caused: %s", outcome.detail)
            return
        calls = None if outcome.calls is None else safe_text(outcome.calls)
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, outcome.status.value, safe_text(outcome.detail), outcome.duration_s,
                 safe_text(outcome.stdout), safe_text(outcome.stderr), calls, outcome.cpu_s,
                 time.time()),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()
        return int(count)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ExecutionCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
