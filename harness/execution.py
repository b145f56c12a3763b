"""The execution stage: samples -> programs -> sandbox -> outcomes in executions.jsonl.

Time limits come from the reference solutions' measured runtimes (calibrated once per
machine and dataset) unless --timeout fixes them. Programs that import libraries the
sandbox lacks are excluded and reported, never silently dropped."""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.progress import progress
from harness.sandbox import ExecJob, Limits, Sandbox
from harness.tasks import Problem
from harness.tasks.data import cache_dir

if TYPE_CHECKING:
    from harness.config import RunConfig
    from harness.results import RunStore
    from harness.runner import RunPlan

log = logging.getLogger(__name__)

CALIBRATION_FLOOR_S = 3.0
CALIBRATION_FACTOR = 4.0


def job_id(key: str, sample: int) -> str:
    return f"{key}#{sample}"


def execute_samples(config: RunConfig, plan: RunPlan, store: RunStore) -> dict[str, Any]:
    from harness.sandbox import open_sandbox
    from harness.sandbox.cache import ExecutionCache
    from harness.sandbox.execute import execute

    task = plan.task
    problems = {p.key: p for p in plan.problems}
    samples = store.samples()
    done = store.executions()
    missing_samples = [(k, i) for k, n in plan.samples_per_problem.items() for i in range(n)
                       if (k, i) not in samples]
    if missing_samples:
        raise HarnessError(f"{len(missing_samples)} samples were not generated; rerun to resume")
    pending = [samples[(k, i)] for k, n in plan.samples_per_problem.items() for i in range(n)
               if (k, i) not in done]
    with open_sandbox(config.sandbox, config.workers) as sandbox:
        info: dict[str, Any] = {"sandbox": {"backend": sandbox.name,
                                            "identity": sandbox.identity()}}
        reference_programs = {key: task.program(p, task.solution(p, p.reference))
                        for key, p in problems.items()}
        missing_libs = probe_missing_modules(
            sandbox, {m for prog in reference_programs.values() if prog for m in prog.requires})
        excluded = {key: sorted(set(prog.requires) & missing_libs)
                    for key, prog in reference_programs.items()
                    if prog is not None and set(prog.requires) & missing_libs}
        if excluded:
            by_lib = Counter(lib for libs in excluded.values() for lib in libs)
            info["excluded"] = {"count": len(excluded), "missing_libraries": dict(by_lib),
                                "keys": sorted(excluded)}
            log.warning("%d problems need libraries or capabilities the %s sandbox lacks: %s",
                        len(excluded), sandbox.name, dict(by_lib))
        timeouts = time_limits(config, plan, sandbox, reference_programs, excluded)
        info["limits"] = {"timeouts_s": timeouts,
                          "calibrated": config.timeout is None,
                          "floor_s": CALIBRATION_FLOOR_S, "factor": CALIBRATION_FACTOR}
        jobs = []
        for record in pending:
            if record["key"] in excluded:
                continue
            problem = problems[record["key"]]
            jobs.append(make_job(task, problem, record, timeouts.get(problem.key)))
        if not jobs:
            return info
        cache = ExecutionCache(cache_dir() / "executions.sqlite") if config.exec_cache else None
        with progress(len(jobs), f"execute ({sandbox.name})", config.progress) as bar:
            for job, outcome in execute(jobs, sandbox, cache):
                key, _, sample = job.job_id.rpartition("#")
                store.add_execution({
                    "key": key, "task_id": problems[key].task_id, "sample": int(sample),
                    "status": outcome.status.value, "detail": outcome.detail[:500],
                    "duration_s": round(outcome.duration_s, 4), "cached": outcome.cached,
                })
                bar.update(1)
    return info


def make_job(task: Any, problem: Problem, record: dict[str, Any], timeout: float | None
             ) -> ExecJob:
    code = record["completion"]
    solution = code if record.get("kind") == "solution" else task.solution(problem, code)
    program = task.program(problem, solution)
    limits = program.limits or Limits()
    if timeout is not None and program.limits is None:
        limits = replace(limits, timeout_s=timeout)
    return ExecJob(job_id(problem.key, record["sample"]), program.source, limits,
                   program.libraries)


def time_limits(config: RunConfig, plan: RunPlan, sandbox: Sandbox,
                reference_programs: dict[str, Any], excluded: dict[str, list[str]]
                ) -> dict[str, float]:
    if config.timeout is not None:
        return {p.key: config.timeout for p in plan.problems}
    from harness.sandbox.calibration import calibrate_limits

    reference_jobs = []
    for problem in plan.problems:
        if problem.key in excluded:
            continue
        program = reference_programs[problem.key]
        if program is not None:
            reference_jobs.append(ExecJob(problem.key, program.source,
                                          program.limits or Limits(timeout_s=120.0),
                                          program.libraries))
    return calibrate_limits(reference_jobs, sandbox, floor_s=CALIBRATION_FLOOR_S,
                            factor=CALIBRATION_FACTOR, cache_dir=cache_dir() / "calibration",
                            dataset_hash=plan.dataset_sha256)


PROBE = """import importlib.metadata, importlib.util, json, re, sys

def release(text):
    match = re.match(r"\\d+(?:\\.\\d+)*", text)
    return tuple(int(part) for part in match.group().split(".")) if match else ()

def importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False

def installed_version(module):
    for dist in importlib.metadata.packages_distributions().get(module, []):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None

found = {}
for requirement in %r:
    name, _, bound = requirement.partition("<")
    if name.startswith("@"):
        found[requirement] = False
    elif name == "python":
        found[requirement] = sys.version_info[:3] < release(bound)
    elif not importable(name):
        found[requirement] = False
    elif bound:
        version = installed_version(name)
        found[requirement] = version is not None and release(version) < release(bound)
    else:
        found[requirement] = True
print("HARNESS-PROBE " + json.dumps(found))
"""


def probe_missing_modules(sandbox: Sandbox, requirements: set[str]) -> set[str]:
    """The requirements (``Program.requires``) that the sandbox does not meet.

    A requirement is a top-level module name that must be importable; ``module<VERSION``
    also needs the installed distribution older than VERSION; ``python<VERSION`` compares
    the sandbox's Python; ``@capability`` (``@network``) is never met: no sandbox has one.
    """
    if not requirements:
        return set()
    job = ExecJob("probe-modules", PROBE % sorted(requirements), Limits(timeout_s=60.0))
    for _, outcome in sandbox.run([job]):
        for line in outcome.stdout.splitlines():
            if line.startswith("HARNESS-PROBE "):
                found: dict[str, bool] = json.loads(line.removeprefix("HARNESS-PROBE "))
                return {name for name, ok in found.items() if not ok}
        raise HarnessError(f"could not probe the {sandbox.name} sandbox for libraries: "
                           f"{outcome.status.value} {outcome.detail}")
    raise HarnessError(f"the {sandbox.name} sandbox returned no probe result")
