"""A persistent generation cache: completions keyed by what determines them.

Key: (model fingerprint, prompt digest, sampling digest, sample index).

* The model fingerprint (``ModelAPI.fingerprint()``) covers the weights, adapter, prompt
  template, chat mode and backend options. With the prompt's text and messages it fixes the
  fully rendered prompt, since a chat template belongs to the model's tokenizer files.
* The sampling digest covers temperature, top_p, max_new_tokens, stop and seed, but not n:
  sample ``i`` is the same whatever n is, so raising n from 10 to 20 generates only samples
  10-19. With temperature 0 (greedy) the seed and top_p do not matter and are left out.

SQLite in WAL mode: several runs (processes) may read and write the same cache file; each
``put`` is committed at once, so a killed run keeps everything it generated.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.backends.prompting import prompt_digest
from harness.errors import HarnessError
from harness.records import Completion, GenerationRequest, SamplingParams

_SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    fingerprint TEXT NOT NULL,
    prompt TEXT NOT NULL,
    params TEXT NOT NULL,
    sample INTEGER NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT,
    num_tokens INTEGER,
    prompt_truncated INTEGER NOT NULL DEFAULT 0,
    extra TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    PRIMARY KEY (fingerprint, prompt, params, sample)
) WITHOUT ROWID
"""


def sampling_digest(params: SamplingParams) -> str:
    """Identity of the sampling parameters that change sample ``i`` (n excluded)."""
    payload: dict[str, Any] = {
        "temperature": params.temperature,
        "max_new_tokens": params.max_new_tokens,
        "stop": list(params.stop),
    }
    if params.temperature > 0:
        payload["top_p"] = params.top_p
        payload["seed"] = params.seed
        payload["seeding"] = 2  # sample seeds derived from (seed, sample, prompt)
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


class GenerationCache:
    """Completions of earlier runs, shared across runs through one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise HarnessError(f"generation cache {self.path} cannot be opened: {exc}") from exc

    def get(self, fingerprint: str, request: GenerationRequest, sample: int) -> Completion | None:
        """The cached completion of one sample, re-keyed to ``request.key``; None if absent."""
        return self.get_many(fingerprint, request, (sample,)).get(sample)

    def get_many(
        self, fingerprint: str, request: GenerationRequest, samples: tuple[int, ...] | None = None
    ) -> dict[int, Completion]:
        """Cached completions of ``samples`` (default: the request's sample indices)."""
        wanted = request.sample_indices if samples is None else samples
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        query = (
            "SELECT sample, text, finish_reason, num_tokens, prompt_truncated, extra "
            "FROM completions WHERE fingerprint=? AND prompt=? AND params=? "
            f"AND sample IN ({marks})"
        )
        key = (fingerprint, prompt_digest(request.prompt), sampling_digest(request.params))
        with self._lock:
            rows = self._db.execute(query, (*key, *wanted)).fetchall()
        return {
            sample: Completion(
                key=request.key,
                sample=sample,
                text=text,
                finish_reason=finish_reason,
                num_tokens=num_tokens,
                prompt_truncated=bool(truncated),
                extra={**json.loads(extra), "cached": True},
            )
            for sample, text, finish_reason, num_tokens, truncated, extra in rows
        }

    def missing(self, fingerprint: str, request: GenerationRequest) -> GenerationRequest | None:
        """The part of ``request`` not in the cache (None when all of it is)."""
        cached = self.get_many(fingerprint, request)
        todo = tuple(i for i in request.sample_indices if i not in cached)
        if not todo:
            return None
        if len(todo) == len(request.sample_indices):
            return request
        return replace(request, sample_indices=todo)

    def put(self, fingerprint: str, request: GenerationRequest, completion: Completion) -> None:
        extra = {k: v for k, v in completion.extra.items() if k != "cached"}
        try:
            extra_json = json.dumps(extra, sort_keys=True)
        except TypeError:
            extra_json = "{}"
        row = (
            fingerprint,
            prompt_digest(request.prompt),
            sampling_digest(request.params),
            completion.sample,
            completion.text,
            completion.finish_reason,
            completion.num_tokens,
            int(completion.prompt_truncated),
            extra_json,
            time.time(),
        )
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO completions (fingerprint, prompt, params, sample, text, "
                "finish_reason, num_tokens, prompt_truncated, extra, created) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                row,
            )
            self._db.commit()

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT COUNT(*) FROM completions").fetchone()
        return int(count)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> GenerationCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
