"""Reference runs: each problem's reference solution, run once in its own sandboxed process,
establishes what candidates are checked against outside their process (tasks/judge.py).

Results are cached by content: the reference program, the calls, the sandbox's identity and
the machine (the measured times set the time limits). The cache holds only what the
reference's own job returned, written by trusted code; a run that was not healthy (not
passed, implausible duration) is never stored. The records are stored as they came, not
compressed: a run of HumanEval+ reads them all (about 300 MB) before its first job, and
inflating them took longer than the jobs of most problems.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import mmap
import os
import tempfile
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.sandbox import ExecJob, Outcome, Sandbox, Status
from harness.sandbox.calibration import machine_fingerprint
from harness.sandbox.values import CallRecords, call_times
from harness.tasks.judge import REFERENCE_TIMEOUT_S, Checker, Expectation, reference_limits

log = logging.getLogger(__name__)

# 2: ints beyond 4300 digits cross as hex; 3: records one per line; 4: not compressed, with
# the records' sha256; 5: the duration is CPU seconds (``Outcome.measured_s``); 6: long
# float lists cross packed
FORMAT_VERSION = 6


@dataclass(frozen=True)
class ReferenceRun:
    """What a reference's job returned. Its call records (``Outcome.calls``) are held as
    their two parts, the line of times and the outputs' lines, so that the outputs (up to
    hundreds of megabytes) are never copied to be cut from the times."""

    status: str
    detail: str
    duration_s: float  # CPU seconds where the sandbox reported them (Outcome.measured_s)
    times: str | None  # the records' first line; None: no records
    outputs: str = ""  # the records' other lines
    calls_sha256: str = ""  # of the whole records, where known (computed once, when stored)

    @classmethod
    def of(cls, status: str, detail: str, duration_s: float, calls: str | None
           ) -> ReferenceRun:
        if calls is None:
            return cls(status, detail, duration_s, None)
        times, _, outputs = calls.partition("\n")
        digest = hashlib.sha256(calls.encode("ascii", "replace")).hexdigest()
        return cls(status, detail, duration_s, times, outputs, digest)

    @property
    def plausible(self) -> bool:
        return (self.status == "passed" and self.times is not None
                and math.isfinite(self.duration_s) and 0 <= self.duration_s < REFERENCE_TIMEOUT_S)


def reference_key(job: ExecJob, identity: str) -> str:
    assert job.calls is not None
    inputs = hashlib.sha256(job.calls.wire_inputs.encode("ascii")).hexdigest()
    material = json.dumps([FORMAT_VERSION, job.program, inputs, job.libraries,
                           identity, machine_fingerprint()], sort_keys=True)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def _read(path: Path) -> ReferenceRun | None:
    """A cached run: a JSON line, then the call records as they came (ASCII). Mapped, not
    read: each part is copied once, into its text."""
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0,
                                                  access=mmap.ACCESS_READ) as data:
            header_end = data.find(b"\n")
            if header_end < 0:
                return None
            header = json.loads(data[:header_end])
            if header.get("records") != len(data) - header_end - 1:
                return None
            times_end = data.find(b"\n", header_end + 1)
            if times_end < 0:
                times_end = len(data)
            with memoryview(data) as view:
                times = str(view[header_end + 1 : times_end], "ascii")
                outputs = str(view[times_end + 1 :], "ascii")
        run = ReferenceRun(str(header["status"]), str(header["detail"]),
                           float(header["duration_s"]), times, outputs, str(header["sha256"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return run if run.plausible else None


def _write(path: Path, run: ReferenceRun) -> None:
    assert run.times is not None
    times, outputs = run.times.encode("ascii"), run.outputs.encode("ascii")
    records = len(times) + (1 + len(outputs) if outputs else 0)
    header = json.dumps({"status": run.status, "detail": run.detail,
                         "duration_s": run.duration_s, "records": records,
                         "sha256": run.calls_sha256},
                        ensure_ascii=True).encode("ascii")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ref-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(header + b"\n" + times)
            if outputs:
                handle.write(b"\n")
                handle.write(outputs)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def reference_jobs(checkers: Mapping[str, Checker]) -> dict[str, ExecJob]:
    jobs = {}
    for key, checker in checkers.items():
        program, calls = checker.reference()
        jobs[key] = ExecJob(f"reference:{key}", program, reference_limits(), checker.libraries,
                            calls=calls)
    return jobs


def run_references(
    checkers: Mapping[str, Checker],
    sandbox: Sandbox,
    cache_dir: Path,
    progress: Callable[[int], AbstractContextManager[Any]] | None = None,
) -> dict[str, Expectation | None]:
    """key -> the problem's expectation, or None where it must be checked in-process."""
    identity = sandbox.identity()
    jobs = reference_jobs(checkers)
    # Each run's expectation as soon as it is read: the runs' records are not all held twice.
    found: dict[str, Expectation | None] = {}
    paths = {key: cache_dir / f"{reference_key(job, identity)}.calls"
             for key, job in jobs.items()}
    for key, path in paths.items():
        cached = _read(path) if path.exists() else None
        if cached is not None:
            found[key] = expectation(checkers[key], cached)
    missing = [job for key, job in jobs.items() if key not in found]
    if missing:
        log.info("running %d reference solutions in the %s sandbox", len(missing), sandbox.name)
        by_id = {job.job_id: key for key, job in jobs.items()}

        def measure(on_done: Callable[[], None]) -> None:
            for job, outcome in sandbox.run_retrying(missing, retry_timeouts=1):
                on_done()
                key = by_id[job.job_id]
                if outcome.status is Status.TIMEOUT or outcome.sandbox_fault:
                    unfinished[key] = f"{outcome.status.value} {outcome.detail[:100]}"
                    continue
                run = _from_outcome(outcome)
                found[key] = expectation(checkers[key], run)
                if run.plausible:
                    _write(paths[key], run)
                else:
                    log.warning("reference solution of %s did not run cleanly in the %s "
                                "sandbox (%s %s): checked in-process", key, sandbox.name,
                                outcome.status.value, outcome.detail[:200])

        # A reference that did not finish says nothing about the problem: load (another
        # run's) or the sandbox stopped it. Checking its candidates in-process instead would
        # let anyone who can load the machine downgrade the check.
        unfinished: dict[str, str] = {}
        if progress is None:
            measure(lambda: None)
        else:
            with progress(len(missing)) as bar:
                measure(lambda: bar.update(1))
        if unfinished:
            key, why = next(iter(unfinished.items()))
            raise HarnessError(
                f"the reference solutions of {len(unfinished)} problems did not finish in the "
                f"{sandbox.name} sandbox (e.g. {key}: {why}); is the machine overloaded? Run "
                "again: finished reference runs are kept")
        # Fresh workers for the candidates: nothing of the reference runs (their programs,
        # their outputs) may remain in the memory that candidates' processes are forked from.
        sandbox.close()
        sandbox.start()
    return {key: found[key] for key in checkers}


def _from_outcome(outcome: Outcome) -> ReferenceRun:
    status = outcome.status.value
    if outcome.sandbox_fault:
        status = Status.ERROR.value
    return ReferenceRun.of(status, outcome.detail, float(outcome.measured_s), outcome.calls)


def expectation(checker: Checker, run: ReferenceRun) -> Expectation | None:
    if not run.plausible or run.times is None:
        return None
    try:
        found = checker.expect(CallRecords(call_times(run.times), run.outputs), run.duration_s)
    except ValueError as exc:
        log.warning("reference outputs not decodable (%s): checked in-process", exc)
        return None
    if found is None:
        return None
    # The check's identity from the text the outputs were read from: hashing it costs
    # little, encoding a million outputs again costs seconds.
    return replace(found, source_sha256=run.calls_sha256)
