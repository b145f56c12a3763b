"""The sandbox executor: worker protocol and verdicts, pool recovery, cache, execute(),
calibration and backend selection (local and bwrap; Docker in test_sandbox_docker.py)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.sandbox import ExecJob, Limits, Outcome, Sandbox, Status, open_sandbox
from harness.sandbox.bwrap import BwrapSandbox
from harness.sandbox.cache import ExecutionCache, cache_key
from harness.sandbox.calibration import calibrate_limits
from harness.sandbox.execute import execute
from harness.sandbox.interpreter import Interpreter
from harness.sandbox.local import LocalSandbox

LIMITS = Limits(timeout_s=3.0, memory_mb=1024, max_output_bytes=1000)


@pytest.fixture(scope="module", params=["local", "bwrap"])
def sandbox(request) -> Iterator[Sandbox]:
    with open_sandbox(request.param, workers=2) as opened:
        yield opened


def run_one(sandbox: Sandbox, program: str, limits: Limits = LIMITS) -> Outcome:
    [(_, outcome)] = list(sandbox.run([ExecJob("job", program, limits)]))
    return outcome


# --------------------------------------------------------------------------- verdicts


@pytest.mark.parametrize(
    ("program", "status", "detail"),
    [
        ("def f(x):\n    return x + 1\nassert f(1) == 2\n", "passed", ""),
        ("assert 1 == 2, 'one is not two'", "failed", "AssertionError: one is not two"),
        ("import math\nmath.nope()", "error",
         "AttributeError: module 'math' has no attribute 'nope'"),
        ("def f(:\n    pass", "error", "SyntaxError"),
        ("raise KeyboardInterrupt", "error", "KeyboardInterrupt"),
        ("import sys\nsys.exit(0)\nassert False", "failed", "exited before the end"),
        ("exit()\nassert False", "failed", "exited before the end"),
        ("import os\nos._exit(0)", "failed", "exited before the end (exit code 0)"),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "failed", "SIGKILL"),
        ("import os\nos.abort()", "failed", "killed by SIGABRT"),
        ("while True:\n    pass", "timeout", "wall-clock limit of 1s"),
    ],
)
def test_verdicts(sandbox, program, status, detail):
    outcome = run_one(sandbox, program, replace(LIMITS, timeout_s=1.0))
    assert outcome.status.value == status, outcome
    assert detail in outcome.detail


def test_output_is_captured_and_capped(sandbox):
    outcome = run_one(sandbox, "import sys\nprint('hello')\nprint('x' * 5000, file=sys.stderr)")
    assert outcome.passed
    assert outcome.stdout == "hello\n"
    assert outcome.stderr.startswith("x" * 1000)
    assert "4001 more bytes not kept" in outcome.stderr


def test_failure_prints_the_traceback_of_the_program_only(sandbox):
    outcome = run_one(sandbox, "def check():\n    assert 2 + 2 == 5\ncheck()")
    assert outcome.status is Status.FAILED
    assert 'File "<program>", line 2, in check' in outcome.stderr
    assert "assert 2 + 2 == 5" in outcome.stderr
    assert "worker" not in outcome.stderr


def test_each_job_gets_a_fresh_directory_and_a_scrubbed_environment(sandbox):
    os.environ["HARNESS_TEST_TOKEN"] = "do-not-leak"
    try:
        program = (
            "import os, json\n"
            "assert os.listdir('.') == [], os.listdir('.')\n"
            "open('left-behind', 'w').write('x')\n"
            "print(json.dumps({'cwd': os.getcwd(), 'env': dict(os.environ),"
            " 'uid': os.getuid()}))\n"
        )
        outcomes = [run_one(sandbox, program) for _ in range(2)]
    finally:
        del os.environ["HARNESS_TEST_TOKEN"]
    # The second job found its folder empty although the first left a file in its own (with
    # a private /tmp per worker both may have the same path: it is wiped between jobs).
    assert [o.status for o in outcomes] == [Status.PASSED, Status.PASSED], outcomes
    first, second = (json.loads(o.stdout) for o in outcomes)
    assert first["env"]["HOME"] == first["cwd"] and second["env"]["HOME"] == second["cwd"]
    assert "HARNESS_TEST_TOKEN" not in first["env"]
    assert first["env"]["PYTHONHASHSEED"] == "0"
    if os.geteuid() == 0:
        assert first["uid"] != 0  # root drops to an unprivileged uid before running code


def test_rlimits_are_applied(sandbox):
    limits = replace(LIMITS, memory_mb=700, file_size_mb=3, max_processes=17)
    program = (
        "import resource as r\n"
        "print(r.getrlimit(r.RLIMIT_AS)[0] // 2**20, r.getrlimit(r.RLIMIT_FSIZE)[0] // 2**20,"
        " r.getrlimit(r.RLIMIT_NPROC)[0], r.getrlimit(r.RLIMIT_CPU)[0])"
    )
    assert run_one(sandbox, program, limits).stdout.split() == ["700", "3", "17", "5"]


def test_string_hashes_are_reproducible(sandbox):
    program = "print(hash('harness'))"
    assert run_one(sandbox, program).stdout == run_one(sandbox, program).stdout


def test_many_jobs_each_yield_exactly_once(sandbox):
    jobs = [ExecJob(f"j{i}", f"assert {i} % 3 != 0", LIMITS) for i in range(25)]
    results = {job.job_id: outcome.status for job, outcome in sandbox.run(jobs)}
    assert len(results) == 25
    assert all((results[f"j{i}"] is Status.FAILED) == (i % 3 == 0) for i in range(25))


def test_abandoning_a_run_leaves_the_pool_usable(sandbox):
    jobs = [ExecJob(str(i), "import time\ntime.sleep(0.2)", LIMITS) for i in range(6)]
    for _ in sandbox.run(jobs):
        break
    assert run_one(sandbox, "assert True").passed


def test_the_standard_library_is_importable_after_the_uid_drop(sandbox):
    program = "import fractions, xml.dom.minidom, email.mime.text, sqlite3, decimal\nprint(1)"
    assert run_one(sandbox, program).stdout == "1\n"


# --------------------------------------------------------------------------- pool recovery


def worker_processes(sandbox: BwrapSandbox) -> list[int]:
    """The pids of the pool's worker (inside bwrap): what a job can no longer reach."""
    launcher = sandbox._pool[0].proc.pid
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(stat[1]), []).append(int(entry))
    found, todo = [], [launcher]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def test_a_job_cannot_reach_its_worker():
    # Each job has its own pid namespace: the worker is not there to be killed.
    with BwrapSandbox(workers=1) as sandbox:
        jobs = [ExecJob("killer", "import os\nos.kill(os.getppid(), 9)", LIMITS),
                ExecJob("after", "assert True", LIMITS)]
        outcomes = dict((job.job_id, outcome) for job, outcome in sandbox.run(jobs))
    assert not outcomes["killer"].passed
    assert not outcomes["killer"].sandbox_fault
    assert outcomes["after"].passed


def test_a_killed_worker_is_replaced_and_its_job_run_again():
    with BwrapSandbox(workers=1) as sandbox:
        sandbox.start()
        victims = worker_processes(sandbox)

        def kill_soon() -> None:
            time.sleep(0.5)
            for pid in victims:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_soon)
        killer.start()
        outcome = run_one(sandbox, "import time\ntime.sleep(1.5)")
        killer.join()
        assert outcome.passed  # run again in a fresh worker
        assert run_one(sandbox, "assert True").passed


def test_a_frozen_worker_times_out_and_is_replaced():
    with BwrapSandbox(workers=1) as sandbox:
        sandbox.answer_grace_s = 1.0
        sandbox.start()
        for pid in worker_processes(sandbox):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
        outcome = run_one(sandbox, "while True: pass", replace(LIMITS, timeout_s=1.0))
        assert outcome.status is Status.TIMEOUT
        assert run_one(sandbox, "assert True").passed


def test_a_worker_that_cannot_start_is_a_clear_error(monkeypatch):
    sandbox = LocalSandbox(workers=1)
    sandbox.interpreter = Interpreter("/nonexistent/python", ("/nonexistent",), "3.11.0", "x")
    with pytest.raises(HarnessError, match="cannot start a local sandbox worker"):
        sandbox.start()


# --------------------------------------------------------------------------- selection


def test_open_sandbox_defaults_to_bwrap_where_it_works():
    sandbox = open_sandbox(None, workers=1)
    assert sandbox.name == "bwrap"
    assert sandbox.workers == 1


def test_unknown_sandbox_names_get_a_suggestion():
    with pytest.raises(HarnessError, match="did you mean 'bwrap'"):
        open_sandbox("bwarp")


def test_identity_names_backend_python_and_worker_code():
    identity = open_sandbox("local", 1).identity()
    assert identity.startswith("local:py3.")
    assert identity != open_sandbox("bwrap", 1).identity()


# --------------------------------------------------------------------------- cache


def test_cache_is_keyed_by_content(tmp_path):
    job = ExecJob("a", "assert True", LIMITS)
    key = cache_key(job, "bwrap:x")
    assert cache_key(replace(job, job_id="other"), "bwrap:x") == key
    assert cache_key(replace(job, program="assert 1"), "bwrap:x") != key
    assert cache_key(replace(job, limits=replace(LIMITS, timeout_s=4.0)), "bwrap:x") != key
    assert cache_key(job, "docker:sha256:other-image") != key

    with ExecutionCache(tmp_path / "cache.sqlite") as cache:
        assert cache.get(job, "bwrap:x") is None
        cache.put(job, "bwrap:x", Outcome(Status.FAILED, "AssertionError", 0.5, "out", "err"))
    with ExecutionCache(tmp_path / "cache.sqlite") as reopened:
        hit = reopened.get(job, "bwrap:x")
        assert hit == Outcome(Status.FAILED, "AssertionError", 0.5, "out", "err", cached=True)
        assert reopened.get(job, "docker:sha256:other-image") is None
        assert len(reopened) == 1


class ScriptedSandbox(Sandbox):
    """Answers from a script: program -> list of statuses, one per run of that program
    (a timeout is starved of CPU when the program's name says so)."""

    name = "scripted"

    def __init__(self, script: dict[str, list[Status]], duration: float = 0.1) -> None:
        super().__init__(workers=1)
        self.script = {k: list(v) for k, v in script.items()}
        self.duration = duration
        self.ran: list[str] = []

    def run(self, jobs: Iterable[ExecJob]) -> Iterator[tuple[ExecJob, Outcome]]:
        for job in jobs:
            self.ran.append(job.program)
            yield job, Outcome(self.script[job.program].pop(0), duration_s=self.duration,
                               starved="starved" in job.program)


def test_execute_uses_the_cache_and_runs_duplicates_once(tmp_path):
    sandbox = ScriptedSandbox({"p": [Status.PASSED], "q": [Status.FAILED]})
    jobs = [ExecJob("1", "p"), ExecJob("2", "q"), ExecJob("3", "p")]
    with ExecutionCache(tmp_path / "c.sqlite") as cache:
        first = {job.job_id: outcome for job, outcome in execute(jobs, sandbox, cache)}
        second = {job.job_id: outcome for job, outcome in execute(jobs, sandbox, cache)}
    assert sandbox.ran == ["p", "q"]
    assert {k: (o.status, o.cached) for k, o in first.items()} == {
        "1": (Status.PASSED, False), "2": (Status.FAILED, False), "3": (Status.PASSED, True)}
    assert all(o.cached for o in second.values())
    assert {k: o.status for k, o in second.items()} == {k: o.status for k, o in first.items()}


def test_execute_reruns_only_a_starved_timeout_once_before_it_is_final(tmp_path):
    sandbox = ScriptedSandbox({"flaky-starved": [Status.TIMEOUT, Status.PASSED],
                               "slow-starved": [Status.TIMEOUT, Status.TIMEOUT],
                               "loop": [Status.TIMEOUT, Status.PASSED]})
    jobs = [ExecJob("flaky", "flaky-starved"), ExecJob("slow", "slow-starved"),
            ExecJob("loop", "loop")]
    with ExecutionCache(tmp_path / "c.sqlite") as cache:
        outcomes = {job.job_id: outcome.status for job, outcome in execute(jobs, sandbox, cache)}
        assert outcomes == {"flaky": Status.PASSED, "slow": Status.TIMEOUT,
                            "loop": Status.TIMEOUT}
        assert cache.get(jobs[1], sandbox.identity()) is None  # load decided it: not kept
        assert cache.get(jobs[2], sandbox.identity()).status is Status.TIMEOUT
    assert [sandbox.ran.count(p) for p in ("flaky-starved", "slow-starved", "loop")] == [2, 2, 1]


def test_execute_without_cache_runs_everything(sandbox):
    jobs = [ExecJob(str(i), "assert True", LIMITS) for i in range(4)]
    outcomes = list(execute(jobs, sandbox, None))
    assert sorted(job.job_id for job, _ in outcomes) == ["0", "1", "2", "3"]
    assert not any(outcome.cached for _, outcome in outcomes)


# --------------------------------------------------------------------------- calibration


def test_calibration_measures_once_and_applies_floor_and_factor(tmp_path):
    fast, slow = ExecJob("fast", "fast"), ExecJob("slow", "slow")
    sandbox = ScriptedSandbox({"fast": [Status.PASSED], "slow": [Status.PASSED]}, duration=2.0)
    sandbox.duration = 2.0
    limits = calibrate_limits([slow], sandbox, floor_s=3.0, factor=4.0, cache_dir=tmp_path,
                              dataset_hash="abc")
    assert limits == {"slow": 8.0}
    sandbox.duration = 0.1
    limits = calibrate_limits([fast, slow], sandbox, floor_s=3.0, factor=4.0,
                              cache_dir=tmp_path, dataset_hash="abc")
    assert limits == {"fast": 3.0, "slow": 8.0}
    assert sandbox.ran == ["slow", "fast"]  # each measured once, then read from the cache
    [saved] = tmp_path.glob("runtimes-*.json")
    assert json.loads(saved.read_text())["runtimes"]["slow"]["runtime_s"] == 2.0
    other = calibrate_limits([fast], ScriptedSandbox({"fast": [Status.PASSED]}, duration=1.5),
                             floor_s=3.0, factor=4.0, cache_dir=tmp_path, dataset_hash="new")
    assert other == {"fast": 6.0}  # another dataset hash is measured anew


def test_calibration_on_a_real_sandbox(sandbox, tmp_path: Path):
    # Calibrated on CPU time: time a reference spends not running (here asleep; under
    # another run's load, waiting for a CPU) does not stretch its limit.
    busy = ("import time\nstart = time.process_time()\n"
            "while time.process_time() - start < 1.0:\n    pass")
    jobs = [ExecJob("quick", "assert True", Limits(timeout_s=30)),
            ExecJob("busy", busy, Limits(timeout_s=30)),
            ExecJob("sleepy", "import time\ntime.sleep(1.0)", Limits(timeout_s=30))]
    limits = calibrate_limits(jobs, sandbox, floor_s=0.5, factor=2.0, cache_dir=tmp_path,
                              dataset_hash="d")
    assert limits["quick"] == 0.5
    assert 2.0 <= limits["busy"] < 2.6
    assert limits["sleepy"] == 0.5


def test_nothing_a_job_leaves_in_tmp_reaches_the_next_job(sandbox):
    program = ("import os, glob\n"
               "found = glob.glob('/tmp/harness-left-*') + glob.glob('/dev/shm/harness-left-*')\n"
               "open(f'/tmp/harness-left-{os.getpid()}', 'w').write('x')\n"
               "open(f'/dev/shm/harness-left-{os.getpid()}', 'w').write('x')\n"
               "assert found == [], found")
    outcomes = [run_one(sandbox, program) for _ in range(4)]  # 2 workers: some reuse one
    assert all(o.passed for o in outcomes), outcomes


def test_a_timeout_that_used_its_cpu_is_not_run_again():
    with LocalSandbox(workers=2) as sandbox:
        jobs = [ExecJob("loop", "while True: pass", replace(LIMITS, timeout_s=1.0)),
                ExecJob("ok", "assert True", LIMITS)]
        sent_before = sandbox._seq  # one per job sent to a worker
        outcomes = {job.job_id: outcome for job, outcome in execute(jobs, sandbox, None)}
        sent = sandbox._seq - sent_before
    assert outcomes["loop"].status is Status.TIMEOUT and not outcomes["loop"].starved
    assert outcomes["loop"].cpu_s > 0.5  # it burned its CPU: a real timeout
    assert sent == 2
    assert outcomes["ok"].passed


# --------------------------------------------------------------------------- worker safety


def test_kill_everything_cleanup_is_never_used_in_the_hosts_pid_namespace():
    import subprocess
    import sys

    from harness.sandbox.pool import WORKER_SCRIPT

    # In a separate process: a Worker makes its process a subreaper and undumpable.
    uid = 4_000_000 if os.geteuid() == 0 else None
    check = (f"import sys; sys.path.insert(0, {str(WORKER_SCRIPT.parent)!r}); import worker\n"
             f"w = worker.Worker({{'uid': {uid!r}, 'pid_namespace': True, 'preload': []}})\n"
             "print(worker._in_initial_pid_ns(), w.pid_namespace); w.close()")
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["True", "False"]  # falls back to killing descendants


@pytest.mark.skipif(os.geteuid() != 0, reason="only root could run programs as root")
def test_the_worker_refuses_to_run_programs_as_root():
    import socket
    import struct
    import subprocess
    import sys

    from harness.sandbox.pool import WORKER_SCRIPT

    ours, theirs = socket.socketpair()
    proc = subprocess.Popen([sys.executable, "-s", str(WORKER_SCRIPT), "--fd",
                             str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                            stderr=subprocess.PIPE, text=True)
    theirs.close()
    body = json.dumps({"uid": None}).encode()
    ours.sendall(struct.pack(">I", len(body)) + body)
    assert proc.wait(timeout=30) != 0
    assert "refusing to run programs as root" in proc.stderr.read()
    assert ours.recv(100) == b""  # never said it was ready


def test_the_default_sandbox_is_the_pool_its_probe_started() -> None:
    """No separate probe pool: the default bwrap sandbox comes back started (its probe job
    passed on it), and runs jobs as any other."""
    from harness.sandbox.bwrap import bwrap_problem

    sandbox = open_sandbox(workers=1)
    try:
        if bwrap_problem() is None:
            assert isinstance(sandbox, BwrapSandbox) and sandbox.started
        else:
            assert isinstance(sandbox, LocalSandbox)
        with sandbox:
            [(_, outcome)] = sandbox.run([ExecJob("after-probe", "assert 1 + 1 == 2")])
        assert outcome.passed, outcome
    finally:
        sandbox.close()
