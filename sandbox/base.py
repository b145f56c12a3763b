"""The execution interface: programs in, outcomes out, through an isolation backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


class Status(StrEnum):
    PASSED = "passed"  # the program ran to its end
    FAILED = "failed"  # a test assertion failed, or the program exited/died before its end
    TIMEOUT = "timeout"  # wall-clock or CPU limit reached
    ERROR = "error"  # an exception other than AssertionError (detail = its last line)


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0  # wall clock, whole process group
    memory_mb: int = 4096  # RLIMIT_AS
    file_size_mb: int = 64  # RLIMIT_FSIZE
    max_processes: int = 64  # RLIMIT_NPROC (binding because the child runs unprivileged)
    max_output_bytes: int = 16 * 1024  # captured stdout/stderr each
    max_result_bytes: int = 256 * 1024 * 1024  # a call job's encoded outputs

    @property
    def cpu_s(self) -> int:
        return int(self.timeout_s) + 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Calls:
    """After the program ran to its end, call functions it defined and return their outputs.

    The verdict is then made outside the sandbox, by trusted code comparing the decoded
    outputs (``harness.sandbox.values``): nothing in the candidate's process can forge it.
    """

    # Wire text (harness.sandbox.values) of a list of [function name, args list, kwargs dict].
    wire_inputs: str
    # Per call, in CPU seconds; None: only the job's own limits apply.
    cpu_limits: tuple[float, ...] | None = None
    # Outputs whose wire text is longer come with its sha256 (``CallResult.digest``), which
    # trusted code can compare with the reference's instead of reading the output.
    digest_above: int | None = None


@dataclass(frozen=True)
class ExecJob:
    """Run ``program`` (complete Python source) with ``limits``; it passes if it ends normally."""

    job_id: str
    program: str
    limits: Limits = field(default_factory=Limits)
    # The installed third-party libraries (top-level module names) the program may import;
    # None: all of them. Others fail to import, as where they are not installed.
    libraries: tuple[str, ...] | None = None
    calls: Calls | None = None
    # What else decides the verdict (the digest of the trusted check a call job's outputs
    # go through): part of cache keys, never seen by the sandbox.
    verdict_key: str = ""


# In a stream of jobs for a backend that ``waits_for_jobs``: none is ready yet, but one may
# come once a job already started has finished (its sample's next stage).
NOT_YET = ExecJob("not-yet", "")


@dataclass(frozen=True)
class Outcome:
    status: Status
    detail: str = ""  # exception's last line, signal, or reason
    duration_s: float = 0.0
    stdout: str = ""
    stderr: str = ""
    cached: bool = False
    calls: str | None = None  # a call job's per-call records (JSON text, untrusted)
    cpu_s: float = 0.0
    # A wall-clock timeout while the job mostly waited for a CPU: worth a re-run. A job that
    # used up its CPU budget timed out for real.
    starved: bool = False
    # The sandbox, not the program, caused this outcome (dead or unhealthy worker, setup
    # failure): retried in a fresh worker, never cached as the program's verdict.
    sandbox_fault: bool = False

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    @property
    def measured_s(self) -> float:
        """The job's time for calibrating limits: its CPU seconds (those of the processes
        it waited for too), which the machine's load does not stretch as it does the wall
        clock (a hostile run's CPU storm made a 5 s reference take 111 s); the wall-clock
        duration where no CPU time was reported."""
        return self.cpu_s if self.cpu_s > 0 else self.duration_s


class Sandbox(ABC):
    """An isolation backend running jobs on a pool of long-lived workers.

    Use as a context manager: ``__enter__`` starts workers (or containers), ``__exit__``
    always stops and removes them.
    """

    name: ClassVar[str]
    # Whether ``run`` takes ``NOT_YET`` in its jobs (collect an outcome, then ask again);
    # ``execute`` gives the other backends their jobs in rounds instead.
    waits_for_jobs: ClassVar[bool] = False

    def __init__(self, workers: int = 2) -> None:
        self.workers = workers

    def start(self) -> None:  # noqa: B027 (optional hook)
        """Start the worker pool."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Stop workers and remove everything the backend created."""

    @abstractmethod
    def run(self, jobs: Iterable[ExecJob]) -> Iterator[tuple[ExecJob, Outcome]]:
        """Yield each job with its outcome as it finishes (any order)."""

    def run_retrying(
        self, jobs: Iterable[ExecJob], retry_timeouts: int
    ) -> Iterator[tuple[ExecJob, Outcome]]:
        """Like :meth:`run`, but a job that timed out while starved of CPU
        (``Outcome.starved``: a moment of load should not flip a verdict) runs up to
        ``retry_timeouts`` more times before the timeout is final; a job that used up its
        CPU budget timed out for real and is not re-run.

        This default re-runs those jobs after all others have finished; a backend that can
        interleave them with the remaining jobs overrides it.
        """
        pending: Iterable[ExecJob] = jobs
        for attempt in range(retry_timeouts + 1):
            final = attempt == retry_timeouts
            timed_out: list[ExecJob] = []
            for job, outcome in self.run(pending):
                if outcome.status is Status.TIMEOUT and outcome.starved and not final:
                    timed_out.append(job)
                else:
                    yield job, outcome
            if not timed_out:
                return
            pending = timed_out

    def identity(self) -> str:
        """Backend name plus anything that changes outcomes (image id): part of cache keys."""
        return self.name

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
