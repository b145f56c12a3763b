"""Execution cache keyed by content: sha256(program, limits, sandbox identity).

The program is the complete source (completion plus tests), the identity names the backend,
the Python version, the worker's code and, for Docker, the image id. Re-scoring the same
samples is instant; changing the image, the limits or the worker misses the cache. Never
keyed by file paths. SQLite in WAL mode; one writer at a time (a run), readers anytime.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path

from harness.errors import HarnessError
from harness.sandbox.base import ExecJob, Outcome, Status

SCHEMA_VERSION = 1


def cache_key(job: ExecJob, identity: str) -> str:
    material = json.dumps(
        {"v": SCHEMA_VERSION, "program": job.program, "limits": job.limits.to_dict(),
         "sandbox": identity,
         "libraries": None if job.libraries is None else sorted(job.libraries)},
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
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS outcomes ("
                " key TEXT PRIMARY KEY, status TEXT NOT NULL, detail TEXT NOT NULL,"
                " duration_s REAL NOT NULL, stdout TEXT NOT NULL, stderr TEXT NOT NULL,"
                " created REAL NOT NULL)"
            )
            self._db.commit()
        except sqlite3.Error as exc:
            raise HarnessError(f"cannot open the execution cache {self.path}: {exc}") from exc

    def get(self, job: ExecJob, identity: str) -> Outcome | None:
        return self.get_key(cache_key(job, identity))

    def get_key(self, key: str) -> Outcome | None:
        with self._lock:
            row = self._db.execute(
                "SELECT status, detail, duration_s, stdout, stderr FROM outcomes WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        status, detail, duration_s, stdout, stderr = row
        return Outcome(Status(status), detail, duration_s, stdout, stderr, cached=True)

    def put(self, job: ExecJob, identity: str, outcome: Outcome) -> None:
        self.put_key(cache_key(job, identity), outcome)

    def put_key(self, key: str, outcome: Outcome) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, outcome.status.value, outcome.detail, outcome.duration_s,
                 outcome.stdout, outcome.stderr, time.time()),
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM outcomes").fetchone()
        return int(count)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ExecutionCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
