"""The execution stage: sample records -> programs -> sandbox -> execution records.

An :class:`Executor` opens the sandbox, probes it for what the problems require, fixes the
time limits (calibrated from the reference solutions once per machine and dataset, unless
--timeout fixes them), then turns samples into verdicts as they are given, so samples can
be executed while others are still being generated. Problems whose requirements the
sandbox lacks are excluded and reported, never silently dropped.
"""

from __future__ import annotations

import gc
import json
import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from harness.errors import HarnessError
from harness.io import safe_text
from harness.progress import progress
from harness.sandbox import ExecJob, Limits, Outcome, Sandbox, Status, open_sandbox
from harness.schema import ExcludedInfo, ExecutionRecord, LimitsInfo, SampleRecord, SandboxInfo
from harness.settings import cache_dir
from harness.tasks import Problem, Program, Task
from harness.tasks.judge import (
    CHECK_IN_PROCESS,
    CHECK_OUTSIDE,
    Checker,
    Expectation,
    call_job,
    verdict_of,
)

JUDGE_VERSION = 4  # bump when trusted checking or the wire changes verdicts (cache keys)

log = logging.getLogger(__name__)

CALIBRATION_FLOOR_S = 3.0
CALIBRATION_FACTOR = 4.0
DETAIL_CHARS = 500


@dataclass(frozen=True)
class ExecSettings:
    sandbox: str | None = None
    workers: int | None = None
    timeout: float | None = None  # fixed limit; None: calibrated
    cache: bool = True
    progress: bool = True
    executor: str = "local"  # or "ray": one sandbox pool per node of a Ray cluster
    ray_address: str | None = None


@dataclass(frozen=True)
class ExecutionInfo:
    sandbox: SandboxInfo
    limits: LimitsInfo
    excluded: ExcludedInfo | None = None
    # Problem key -> CHECK_OUTSIDE or CHECK_IN_PROCESS (where the verdict is made).
    checking: dict[str, str] = field(default_factory=dict)

    @property
    def excluded_keys(self) -> set[str]:
        return set(self.excluded.keys) if self.excluded else set()


def job_id(key: str, sample: int) -> str:
    return f"{key}#{sample}"


def no_code_record(problem: Problem, sample: SampleRecord) -> ExecutionRecord:
    """The verdict on an answer in which no code was found: failed, without running."""
    detail = sample.extraction or "no code found in the answer"
    return ExecutionRecord(key=problem.key, task_id=problem.task_id, sample=sample.sample,
                           status="failed", detail=f"no code: {detail}"[:DETAIL_CHARS])


def solution_of(task: Task, problem: Problem, sample: SampleRecord) -> str:
    return (sample.completion if sample.kind == "solution"
            else task.solution(problem, sample.completion))


def make_job(task: Task, problem: Problem, sample: SampleRecord, timeout: float | None
             ) -> ExecJob:
    """The in-process job: the program runs its own tests (``CHECK_IN_PROCESS``)."""
    solution = solution_of(task, problem, sample)
    program = task.program(problem, solution)
    if program is None:
        raise HarnessError(f"task {task.name} does not execute programs")
    limits = program.limits or Limits()
    if timeout is not None and program.limits is None:
        limits = replace(limits, timeout_s=timeout)
    return ExecJob(job_id(problem.key, sample.sample), program.source, limits, program.libraries)


def call_job_of(checker: Checker, expectation: Expectation, identifier: str, program: str,
                timeout: float) -> ExecJob:
    """The job of a problem checked outside: the candidate's ``program``, then the calls."""
    return ExecJob(identifier, program, Limits(timeout_s=timeout), checker.libraries,
                   calls=call_job(checker, expectation),
                   verdict_key=f"{JUDGE_VERSION}:{expectation.digest}:{checker.rules()}")


def call_timeout(expectation: Expectation) -> float:
    """The whole program's wall-clock limit: the checker's (evalplus's, with its per-input
    limits), else calibrated on the reference run like any program."""
    if expectation.timeout_s is not None:
        return expectation.timeout_s
    return round(max(CALIBRATION_FLOOR_S, CALIBRATION_FACTOR * expectation.reference_s), 3)


def judged(checker: Checker, expectation: Expectation, outcome: Outcome) -> Outcome:
    """The verdict on a call job: trusted checking of the outputs it returned."""
    base = replace(outcome, calls=None)
    if outcome.status is not Status.PASSED:
        return base
    try:
        verdict = verdict_of(checker, expectation, outcome.calls or "")
    except Exception as exc:  # a bug in trusted checking must show, not pass
        log.exception("checking failed")
        return replace(base, status=Status.ERROR, detail=f"checker failed: {exc!r}")
    return replace(base, status=Status(verdict.status), detail=verdict.detail)


def _without_collections(prepare: Callable[[Sandbox], ExecutionInfo], sandbox: Sandbox
                         ) -> ExecutionInfo:
    """``prepare(sandbox)`` without the garbage collector: it makes the checks of every
    problem (HumanEval+: 125,000 inputs, each a few containers), which live as long as the
    run; collecting while they were made traversed them again and again (a sixth of the time
    before the first job)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return prepare(sandbox)
    finally:
        if enabled:
            gc.enable()


class Executor:
    """Executes samples of one task's problems in one sandbox session."""

    def __init__(self, task: Task, problems: list[Problem], settings: ExecSettings,
                 dataset_sha256: str) -> None:
        self.task = task
        self.problems = {p.key: p for p in problems}
        self.settings = settings
        self.dataset_sha256 = dataset_sha256
        self._sandbox: Sandbox | None = None
        self._cache: Any = None
        self.info: ExecutionInfo | None = None
        self.timeouts: dict[str, float] = {}
        self.checkers: dict[str, Checker] = {}
        self.expectations: dict[str, Expectation] = {}
        # Per problem checked outside: the stages its candidates run in (Checker.stages)
        self.stages: dict[str, tuple[Expectation, ...]] = {}
        # Per job id (a sample) past its first stage: its stage, what the earlier ones did
        self._later_stage: dict[str, tuple[int, Outcome]] = {}

    def __enter__(self) -> Executor:
        self._sandbox = self._open_sandbox()
        try:
            self._sandbox.__enter__()
            self.info = _without_collections(self._prepare, self._sandbox)
            if self.settings.cache:
                from harness.sandbox.cache import ExecutionCache

                self._cache = ExecutionCache(cache_dir() / "executions.sqlite")
        except BaseException:
            self._sandbox.__exit__(None, None, None)
            raise
        return self

    def _open_sandbox(self) -> Sandbox:
        if self.settings.executor == "local":
            return open_sandbox(self.settings.sandbox, self.settings.workers)
        if self.settings.executor != "ray":
            raise HarnessError(f"unknown executor {self.settings.executor!r}; local or ray")
        from harness.distributed import open_executor_sandbox

        return open_executor_sandbox(self.settings.executor, self.settings.sandbox,
                                     self.settings.workers, self.settings.ray_address)

    def __exit__(self, *exc: object) -> None:
        if self._sandbox is not None:
            self._sandbox.__exit__(None, None, None)
            self._sandbox = None

    def _prepare(self, sandbox: Sandbox) -> ExecutionInfo:
        checkers = {key: c for key, p in self.problems.items()
                    if (c := self.task.checker(p)) is not None}
        references = {key: self.task.program(p, self.task.solution(p, p.reference))
                      for key, p in self.problems.items() if key not in checkers}
        missing = probe_missing_modules(
            sandbox, {m for prog in references.values() if prog for m in prog.requires})
        excluded = {key: sorted(set(prog.requires) & missing)
                    for key, prog in references.items()
                    if prog is not None and set(prog.requires) & missing}
        excluded_info = None
        if excluded:
            by_lib = Counter(lib for libs in excluded.values() for lib in libs)
            excluded_info = ExcludedInfo(count=len(excluded), missing_libraries=dict(by_lib),
                                         keys=sorted(excluded))
            log.warning("%d problems need libraries or capabilities the %s sandbox lacks: %s",
                        len(excluded), sandbox.name, dict(by_lib))
        self._check_outside(sandbox, checkers, references)
        self.timeouts = self._time_limits(sandbox, references, set(excluded))
        for key, expectation in self.expectations.items():
            self.timeouts[key] = (self.settings.timeout if self.settings.timeout is not None
                                  and expectation.timeout_s is None
                                  else call_timeout(expectation))
        checking = {key: CHECK_OUTSIDE if key in self.expectations else CHECK_IN_PROCESS
                    for key in self.problems}
        return ExecutionInfo(
            sandbox=SandboxInfo(backend=sandbox.name, identity=sandbox.identity()),
            limits=LimitsInfo(timeouts_s=self.timeouts,
                              calibrated=self.settings.timeout is None,
                              floor_s=CALIBRATION_FLOOR_S, factor=CALIBRATION_FACTOR),
            excluded=excluded_info, checking=checking)

    def _check_outside(self, sandbox: Sandbox, checkers: dict[str, Checker],
                       references: dict[str, Program | None]) -> None:
        """Run the reference solutions of the problems checked outside; those whose
        reference run cannot be used fall back to in-process programs (``references``)."""
        if not checkers:
            return
        from harness.references import run_references

        def bar(total: int) -> Any:
            return progress(total, f"reference runs ({sandbox.name})", self.settings.progress)

        found = run_references(checkers, sandbox, cache_dir() / "references", bar)
        for key, expectation in found.items():
            if expectation is None:
                problem = self.problems[key]
                references[key] = self.task.program(
                    problem, self.task.solution(problem, problem.reference))
            else:
                self.checkers[key] = checkers[key]
                self.stages[key] = checkers[key].stages(expectation)
                if len(self.stages[key]) > 1:  # the stages hold their own parts of the text
                    expectation = replace(expectation, outputs=(), outputs_text=None)
                self.expectations[key] = expectation
        fallback = len(found) - len(self.expectations)
        if fallback:
            log.warning("%d of %d problems are checked inside the candidate's process "
                        "(their tests cannot be checked from outputs alone)", fallback,
                        len(found))

    def _time_limits(self, sandbox: Sandbox, references: dict[str, Program | None],
                     excluded: set[str]) -> dict[str, float]:
        if self.settings.timeout is not None:
            return {key: self.settings.timeout for key in self.problems}
        from harness.sandbox.calibration import calibrate_limits

        jobs = [ExecJob(key, program.source, program.limits or Limits(timeout_s=120.0),
                        program.libraries)
                for key, program in references.items()
                if program is not None and key not in excluded]

        def bar(total: int) -> Any:
            return progress(total, f"calibrate time limits ({sandbox.name})",
                            self.settings.progress)

        return calibrate_limits(jobs, sandbox, floor_s=CALIBRATION_FLOOR_S,
                                factor=CALIBRATION_FACTOR, cache_dir=cache_dir() / "calibration",
                                dataset_hash=self.dataset_sha256, progress=bar)

    def run(self, samples: Iterable[SampleRecord]) -> Iterator[ExecutionRecord]:
        """A verdict for each sample of a problem that is not excluded, as they finish.
        ``samples`` is read lazily: it may still be growing (generation under way)."""
        assert self._sandbox is not None and self.info is not None, "use `with Executor(...)`"
        from harness.sandbox.execute import execute

        excluded = self.info.excluded_keys
        unrun: deque[ExecutionRecord] = deque()

        def jobs() -> Iterator[ExecJob]:
            for sample in samples:
                if sample.key in excluded:
                    continue
                problem = self.problems[sample.key]
                if not sample.code_found:
                    unrun.append(no_code_record(problem, sample))
                    continue
                yield self.job(problem, sample)

        finished = execute(jobs(), self._sandbox, self._cache, self._judge, self._next_stage)
        for job, outcome in finished:
            while unrun:
                yield unrun.popleft()
            key, _, index = job.job_id.rpartition("#")
            staged = self._later_stage.pop(job.job_id, None)
            if staged is not None:
                outcome = _after(staged[1], outcome)
            yield ExecutionRecord(
                key=key, task_id=self.problems[key].task_id, sample=int(index),
                status=outcome.status.value, detail=safe_text(outcome.detail)[:DETAIL_CHARS],
                duration_s=round(outcome.duration_s, 4), cached=outcome.cached)
        while unrun:
            yield unrun.popleft()

    def heaviest_first(self, samples: list[SampleRecord]) -> list[SampleRecord]:
        """``samples`` with the slowest problems' first (by their reference's time): the
        long jobs start while the short ones can still fill the workers around them, instead
        of a long one starting last and running alone."""
        return sorted(samples, key=lambda sample: self._cost(sample.key), reverse=True)

    def _cost(self, key: str) -> float:
        """How long a problem's job is expected to take: its reference's time."""
        expectation = self.expectations.get(key)
        if expectation is not None:
            return expectation.reference_s
        return self.timeouts.get(key, 0.0) / CALIBRATION_FACTOR

    def job(self, problem: Problem, sample: SampleRecord) -> ExecJob:
        expectation = self.expectations.get(problem.key)
        if expectation is None:
            return make_job(self.task, problem, sample, self.timeouts.get(problem.key))
        checker = self.checkers[problem.key]
        return self._call_job(problem.key, sample.sample,
                              checker.candidate(solution_of(self.task, problem, sample)), 0)

    def _call_job(self, key: str, sample: int, program: str, stage: int) -> ExecJob:
        """Stage ``stage`` of a sample checked outside; ``program``: the candidate's."""
        expectation = self.stages[key][stage]
        timeout = self.timeouts[key] if len(self.stages[key]) == 1 else call_timeout(expectation)
        return call_job_of(self.checkers[key], expectation, job_id(key, sample), program,
                           timeout)

    def _next_stage(self, job: ExecJob, outcome: Outcome) -> ExecJob | None:
        """The sample's next stage once this one passed (HumanEval+: its plus inputs), else
        None: ``outcome`` is the sample's verdict."""
        key, _, index = job.job_id.rpartition("#")
        stage = self._stage(job)
        if outcome.status is not Status.PASSED or stage + 1 >= len(self.stages.get(key, ())):
            return None
        staged = self._later_stage.get(job.job_id)
        self._later_stage[job.job_id] = (
            stage + 1, outcome if staged is None else _after(staged[1], outcome))
        return self._call_job(key, int(index), job.program, stage + 1)

    def _stage(self, job: ExecJob) -> int:
        staged = self._later_stage.get(job.job_id)
        return 0 if staged is None else staged[0]

    def _judge(self, job: ExecJob, outcome: Outcome) -> Outcome:
        if job.calls is None:
            return outcome
        key = job.job_id.rpartition("#")[0]
        return judged(self.checkers[key], self.stages[key][self._stage(job)], outcome)


def _after(earlier: Outcome, outcome: Outcome) -> Outcome:
    """A sample's ``outcome`` in its last stage, with the time of its ``earlier`` ones."""
    return replace(outcome, duration_s=earlier.duration_s + outcome.duration_s,
                   cached=earlier.cached and outcome.cached)


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
