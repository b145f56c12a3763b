"""Call jobs and the worker's own defences, with real workers (local and bwrap).

- call jobs: the outputs of each call come back encoded, per call ok/raised/timeout/bad/
  missing, with fresh inputs for every call and per-call CPU limits;
- a job cannot touch its worker or later jobs: sabotage of the worker (prlimit, chmod,
  signals, found through getppid() or a /proc scan) does not change the next job's verdict,
  and nothing a job writes to /tmp, /var/tmp, /dev/shm or next to its folder reaches the next;
- memory is capped over a job's whole process tree;
- timeouts say whether the job was starved of CPU or used it;
- hostile text (lone surrogates, NUL, invalid UTF-8, huge lines) never breaks a result.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import math
import os
import resource
import socket
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from harness.sandbox import Calls, ExecJob, Limits, Outcome, Sandbox, Status, open_sandbox
from harness.sandbox.pool import WORKER_SCRIPT
from harness.sandbox.values import (
    CallResult,
    ForeignDict,
    ForeignFloat,
    ForeignInt,
    ForeignTuple,
    decode_calls,
    encode_calls,
)

LIMITS = Limits(timeout_s=10.0, memory_mb=1024, max_output_bytes=2000)


@pytest.fixture(scope="module", params=["local", "bwrap"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    # One worker: every job runs after the previous one in the same worker (if it is still
    # trusted), which is what the sabotage tests need.
    with open_sandbox(request.param, workers=1) as opened:
        yield opened


def run(sandbox: Sandbox, program: str, limits: Limits = LIMITS,
        calls: Calls | None = None) -> Outcome:
    [(_, outcome)] = list(sandbox.run([ExecJob("job", program, limits, calls=calls)]))
    return outcome


def call(sandbox: Sandbox, program: str, inputs: list[tuple[str, list[Any], dict[str, Any]]],
         cpu_limits: tuple[float, ...] | None = None,
         limits: Limits = LIMITS) -> tuple[Outcome, list[CallResult]]:
    outcome = run(sandbox, program, limits, Calls(encode_calls(inputs), cpu_limits))
    return outcome, decode_calls(outcome.calls) if outcome.calls is not None else []


def isolation(sandbox: Sandbox) -> str:
    return str(sandbox._pool[0].info.get("isolation"))


# --------------------------------------------------------------------------- call jobs

WIRE_TYPES = textwrap.dedent("""
    import collections, math

    class Meters(float):
        def __eq__(self, other):
            return True
        __hash__ = float.__hash__

    Point = collections.namedtuple("Point", "x y")

    def value(kind):
        return {
            "none": None, "bool": True, "int": 2**100, "float": 0.1, "negzero": -0.0,
            "nan": math.nan, "inf": -math.inf, "str": "h\\u00e9\\ud800\\x00",
            "bytes": b"\\x00\\xff",
            "complex": 1 - 2j, "list": [1, [2]], "tuple": (1, "a"), "dict": {1: "a", "b": (2,)},
            "set": {1, 2}, "frozenset": frozenset({3}), "subfloat": Meters(2.5),
            "namedtuple": Point(1, 2), "counter": collections.Counter("aab"),
            "ordered": collections.OrderedDict([(2, 1), (1, 2)]),
        }[kind]
""")
EXPECTED: dict[str, Any] = {
    "none": None, "bool": True, "int": 2**100, "float": 0.1, "negzero": -0.0, "nan": math.nan,
    "inf": -math.inf, "str": "h\u00e9\ud800\x00", "bytes": b"\x00\xff", "complex": 1 - 2j,
    "list": [1, [2]], "tuple": (1, "a"), "dict": {1: "a", "b": (2,)}, "set": {1, 2},
    "frozenset": frozenset({3}),
}


def test_calls_return_every_wire_type(sandbox):
    kinds = [*EXPECTED, "subfloat", "namedtuple", "counter", "ordered"]
    outcome, results = call(sandbox, WIRE_TYPES, [("value", [kind], {}) for kind in kinds])
    assert outcome.status is Status.PASSED, outcome
    assert [r.kind for r in results] == ["ok"] * len(kinds)
    got = {kind: result.output for kind, result in zip(kinds, results, strict=True)}
    for kind, expected in EXPECTED.items():
        value = got[kind]
        assert type(value) is type(expected), kind
        if isinstance(expected, float):
            assert math.isnan(value) if math.isnan(expected) else (
                value == expected and math.copysign(1, value) == math.copysign(1, expected))
        else:
            assert value == expected, kind
    assert type(got["subfloat"]) is ForeignFloat and got["subfloat"] == 2.5
    assert got["subfloat"] != 3.0  # its lying __eq__ stayed in the sandbox
    assert got["subfloat"].type_name == "__main__.Meters"
    assert type(got["namedtuple"]) is ForeignTuple and got["namedtuple"] == (1, 2)
    assert type(got["counter"]) is ForeignDict and got["counter"] == {"a": 2, "b": 1}
    assert list(got["ordered"]) == [2, 1] and got["ordered"].type_name.endswith("OrderedDict")
    assert all(r.cpu_s >= 0 and r.wall_s >= 0 for r in results)


def test_numpy_scalars_come_back_as_what_they_stand_for(sandbox):
    program = textwrap.dedent("""
        try:
            import numpy as np
        except ImportError:
            np = None

        def value(kind):
            if np is None:
                return "no numpy"
            return {"f64": np.float64(0.5), "f32": np.float32(0.25), "i64": np.int64(7),
                    "bool": np.bool_(True), "array": np.arange(3)}[kind]
    """)
    kinds = ["f64", "f32", "i64", "bool", "array"]
    outcome, results = call(sandbox, program, [("value", [k], {}) for k in kinds])
    assert outcome.passed, outcome
    if results[0].output == "no numpy":
        pytest.skip("the sandbox interpreter has no numpy")
    f64, f32, i64, flag, array = results
    assert type(f64.output) is ForeignFloat and f64.output == 0.5
    assert f64.output.type_name == "numpy.float64"
    assert type(f32.output) is ForeignFloat and f32.output.type_name == "numpy.float32"
    assert type(i64.output) is ForeignInt and i64.output == 7
    assert i64.output.type_name == "numpy.int64"
    assert type(flag.output) is ForeignInt and flag.output == 1
    assert array == CallResult("bad", None, "unsupported type numpy.ndarray", array.cpu_s,
                               array.wall_s)


def test_a_call_that_raises_ends_the_calls(sandbox):
    program = ("def half(n):\n    if n % 2:\n        raise ValueError(f'odd: {n}')\n"
               "    return n // 2\n")
    outcome, results = call(sandbox, program, [("half", [4], {}), ("half", [3], {}),
                                               ("half", [2], {})])
    assert outcome.status is Status.PASSED  # the program and the driver ran to their end
    assert [(r.kind, r.output, r.detail) for r in results] == [
        ("ok", 2, ""), ("raised", None, "ValueError: odd: 3")]
    outcome, results = call(sandbox, "def f():\n    assert 1 == 2, 'no'\n", [("f", [], {})])
    assert results[0].detail == "AssertionError: no"
    outcome, results = call(sandbox, "import sys\ndef f():\n    sys.exit(0)\n", [("f", [], {})])
    assert results[0].kind == "raised" and results[0].detail.startswith("SystemExit")


def test_keyword_arguments_reach_the_function(sandbox):
    program = "def f(a, *, b=1):\n    return (a, b)\n"
    _, results = call(sandbox, program, [("f", [1], {"b": 2}), ("f", [3], {})])
    assert [r.output for r in results] == [(1, 2), (3, 1)]


@pytest.mark.parametrize("swallow", [False, True])
def test_a_call_over_its_cpu_limit_is_a_timeout(sandbox, swallow):
    body = ("    while True:\n        try:\n            while True:\n                pass\n"
            "        except BaseException:\n            pass\n") if swallow else (
            "    while True:\n        pass\n")
    program = f"def spin(n):\n    if n == 0:\n        return 'quick'\n{body}"
    started = time.monotonic()
    outcome, results = call(sandbox, program, [("spin", [0], {}), ("spin", [1], {}),
                                               ("spin", [0], {})], cpu_limits=(1.0, 0.5, 1.0))
    assert time.monotonic() - started < 8  # not the job's 10 s wall-clock limit
    assert outcome.status is Status.TIMEOUT, outcome
    assert outcome.detail == "input 1: CPU limit of 0.5s reached"
    assert not outcome.starved
    assert [r.kind for r in results] == ["ok", "timeout"]
    assert results[1].detail == "CPU limit of 0.5s reached"
    assert results[1].cpu_s >= 0.4  # (the kernel's tick-based CPU accounting is coarse)


@pytest.mark.parametrize(("returned", "reason"), [
    ("(x for x in [])", "unsupported type builtins.generator"),
    ("object()", "unsupported type builtins.object"),
    ("Thing()", "unsupported type __main__.Thing"),
    ("cycle", "a cycle through a list"),
])
def test_an_output_that_cannot_be_encoded_is_bad(sandbox, returned, reason):
    program = (f"import sys\nsys.set_int_max_str_digits(0)\nclass Thing:\n    pass\n"
               f"cycle = []\ncycle.append(cycle)\ndef f():\n    return {returned}\n")
    outcome, results = call(sandbox, program, [("f", [], {}), ("f", [], {})])
    assert outcome.passed
    assert [(r.kind, r.detail) for r in results] == [("bad", reason)]


def test_ints_of_any_length_come_back(sandbox):
    program = "def f(n):\n    return [3 ** n, -(7 ** n)]\n"
    outcome, results = call(sandbox, program, [("f", [30000], {}), ("f", [5], {})])
    assert outcome.passed
    assert [r.output for r in results] == [[3**30000, -(7**30000)], [3**5, -(7**5)]]


def test_long_float_lists_cross_packed_both_ways(sandbox):
    """Lists of many floats (a HumanEval+ output can hold ten million) cross as packed
    float64 in both directions, ints among them staying ints; fresh for every call."""
    program = ("def f(xs):\n    xs.append(0.5)\n"
               "    return [1, 3] + [x / 2 for x in xs] + [2 ** 53, 0.75]\n")
    floats = [i / 3 for i in range(1000)]
    inputs: list[tuple[str, list[Any], dict[str, Any]]] = [("f", [floats], {})] * 2
    assert encode_calls(inputs).count('{"p":') == 2
    limits = replace(LIMITS, max_output_bytes=1 << 20)
    outcome = run(sandbox, program, limits, Calls(encode_calls(inputs), None))
    assert outcome.passed and outcome.calls is not None
    assert outcome.calls.count('{"p":') == 2
    expected = [1, 3, *(x / 2 for x in floats), 0.25, 2**53, 0.75]
    results = decode_calls(outcome.calls)
    for result in results:
        assert result.output == expected
        assert [type(x) for x in result.output] == [type(x) for x in expected]


def test_a_missing_function_is_reported(sandbox):
    outcome, results = call(sandbox, "g = 3\n", [("f", [], {}), ("f", [], {})])
    assert outcome.passed
    assert results == [CallResult("missing", None, "no function named f")]
    _, results = call(sandbox, "g = 3\n", [("g", [], {})])
    assert results == [CallResult("missing", None, "no function named g")]


def test_a_call_cannot_change_the_inputs_of_the_next(sandbox):
    program = "def grow(items, extra):\n    items.append(len(items))\n    extra['k'] = 1\n" \
              "    return items, sorted(extra)\n"
    inputs: list[tuple[str, list[Any], dict[str, Any]]] = [("grow", [[1, 2], {}], {})] * 3
    _, results = call(sandbox, program, inputs)
    assert [r.output for r in results] == [([1, 2, 2], ["k"])] * 3


def test_outputs_over_the_cap_fail_the_job(sandbox):
    program = "def f(n):\n    return 'x' * n\n"
    limits = replace(LIMITS, max_result_bytes=10_000)
    outcome, _ = call(sandbox, program, [("f", [3000], {})] * 5, limits=limits)
    assert outcome.status is Status.FAILED
    assert outcome.detail == "outputs larger than 10000 bytes"
    outcome, results = call(sandbox, program, [("f", [3000], {})] * 2, limits=limits)
    assert outcome.passed and len(results) == 2


def test_a_program_that_fails_before_the_calls_returns_none(sandbox):
    outcome, results = call(sandbox, "def f():\n    return 1\nraise KeyError('x')\n",
                            [("f", [], {})])
    assert outcome.status is Status.ERROR and outcome.detail == "KeyError: 'x'"
    assert outcome.calls is None and results == []


def test_calls_count_only_from_the_jobs_own_process(sandbox):
    # A forked copy that reaches the end is not the job's process: no report, no outputs.
    program = "import os\nif os.fork() != 0:\n    os._exit(0)\ndef f():\n    return 1\n"
    outcome, results = call(sandbox, program, [("f", [], {})])
    assert outcome.status is Status.FAILED and results == []


# --------------------------------------------------------------------------- jobs vs the worker

SABOTAGE = textwrap.dedent("""
    import os, resource, signal, glob, stat

    def targets():
        pids = {os.getppid()}
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                pids.add(int(entry))
        return [p for p in pids if p > 0]

    for pid in targets():
        for limit in (resource.RLIMIT_NPROC, resource.RLIMIT_NOFILE, resource.RLIMIT_AS,
                      resource.RLIMIT_CPU):
            try:
                resource.prlimit(pid, limit, (1, 1))
            except OSError:
                pass
    for folder in glob.glob("/tmp/harness-worker-*") + glob.glob("/tmp/*") + [".."]:
        try:
            os.chmod(folder, 0)
        except OSError:
            pass
    for pid in targets():
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    assert False, "a wrong program"
""")


def test_sabotage_of_the_worker_does_not_change_the_next_verdict(sandbox):
    run(sandbox, SABOTAGE, replace(LIMITS, timeout_s=5.0))
    outcome, results = call(sandbox, "def f(x):\n    return x * 2\n", [("f", [21], {})])
    assert outcome.passed and not outcome.sandbox_fault, outcome
    assert [r.output for r in results] == [42]
    if isolation(sandbox) == "namespaces":
        # It never reached the worker: no replacement was needed.
        assert run(sandbox, "import os\nassert os.getppid() == 0").passed


MEMORY_SCAN = textwrap.dedent('''
    import gc, re, sys

    def found(*patterns):
        """Which patterns match anywhere in this process: its memory (live or freed), its
        objects, its frames. Patterns, not the texts they match: no copy of those is made."""
        compiled = [(p, re.compile(p.encode())) for p in patterns]
        hits = set()
        with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
            for line in maps:
                fields = line.split()
                start, end = (int(x, 16) for x in fields[0].split("-"))
                if not fields[1].startswith("r") or end - start > 1 << 28:
                    continue
                try:
                    mem.seek(start)
                    data = mem.read(end - start)
                except (OSError, ValueError, OverflowError):
                    continue
                hits |= {p for p, c in compiled if c.search(data)}
        texts = [o for o in gc.get_objects() if isinstance(o, str)]
        frame = sys._getframe()
        while frame is not None:
            for value in list(frame.f_locals.values()):
                try:
                    texts.append(repr(value))
                except ValueError:  # an int too long to show
                    pass
            frame = frame.f_back
        for text in texts:
            hits |= {p for p, c in compiled if re.search(c.pattern.decode(), text)}
        return sorted(hits)
''')


def test_a_job_inherits_nothing_of_earlier_jobs(sandbox):
    # The job before: a program with a secret in its source, inputs and outputs.
    earlier = ("SOURCE = 'harness-secret-source'\n"
               "def f(x):\n    return 'harness-secret-' + x\n")
    outcome, results = call(sandbox, earlier, [("f", ["input"], {})] * 3)
    assert [r.output for r in results] == ["harness-secret-input"] * 3
    program = MEMORY_SCAN + ("print(found('harness-secre[t]-source', 'harness-secre[t]-input',"
                             " 'secret-inpu[t]', '\"ok\":\"harnes[s]'))\n")
    outcome = run(sandbox, program)
    assert outcome.passed, outcome
    assert outcome.stdout.strip() == "[]"


def test_nothing_a_job_writes_reaches_the_next_job(sandbox):
    program = textwrap.dedent("""
        import os, glob
        places = ["/tmp", "/var/tmp", "/dev/shm", os.path.dirname(os.getcwd())]
        found = [p for place in places for p in glob.glob(os.path.join(place, "left-by-*"))]
        for place in places:
            try:
                with open(os.path.join(place, f"left-by-{os.getpid()}"), "w") as handle:
                    handle.write("x")
            except OSError:
                pass
        assert found == [], found
    """)
    outcomes = [run(sandbox, program) for _ in range(3)]
    assert all(o.passed for o in outcomes), outcomes


def test_namespaced_jobs_see_only_their_own_processes(sandbox):
    if isolation(sandbox) != "namespaces":
        pytest.skip(f"this worker uses {isolation(sandbox)} isolation")
    program = ("import os\n"
               "print(os.getppid(), os.listdir('/tmp') == [os.path.basename(os.getcwd())])")
    outcome = run(sandbox, program)
    assert outcome.stdout.split() == ["0", "True"]
    info = sandbox._pool[0].info
    if info.get("private_proc"):
        outcome = run(sandbox, "import os\nprint(sorted(p for p in os.listdir('/proc') "
                               "if p.isdigit()) == ['1', str(os.getpid())])")
        assert outcome.stdout.strip() == "True"
    capabilities = "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])"
    assert run(sandbox, capabilities).stdout.strip() == "0000000000000000"
    if info.get("userns_blocked"):  # as bwrap's --disable-userns
        program = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                   "assert libc.unshare(0x10000000) != 0\n")
        assert run(sandbox, program).passed


# --------------------------------------------------------------------------- worker health


class RawWorker:
    """The worker on a socketpair, spoken to frame by frame."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.sock, theirs = socket.socketpair()
        self.proc = subprocess.Popen([sys.executable, "-s", str(WORKER_SCRIPT), "--fd",
                                      str(theirs.fileno())], pass_fds=(theirs.fileno(),))
        theirs.close()
        self.send(config)
        self.ready = self.receive()

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def receive(self) -> dict[str, Any]:
        header = self.sock.recv(4, socket.MSG_WAITALL)
        body = self.sock.recv(struct.unpack(">I", header)[0], socket.MSG_WAITALL)
        return dict(json.loads(body))

    def job(self, program: str) -> dict[str, Any]:
        self.send({"seq": 1, "program": program, "limits": {**LIMITS.to_dict(), "cpu_s": 12}})
        return self.receive()

    def close(self) -> None:
        self.sock.close()
        self.proc.wait(timeout=30)


@pytest.mark.skipif(os.geteuid() != 0, reason="tampers with a worker of another uid")
def test_a_tampered_worker_reports_itself_unhealthy():
    # What a program of the worker's own uid could do where there are no namespaces
    # (bwrap without user namespaces, docker): done here from outside.
    worker = RawWorker({"uid": 4_100_000, "env": {}, "namespaces": False})
    try:
        assert worker.ready["isolation"] == "uid"
        assert "unhealthy" not in worker.job("assert True")
        os.chmod(worker.ready["tmp_base"], 0o777)
        answer = worker.job("assert True")
        assert answer["status"] == "passed"  # the job's own verdict stays
        assert answer["unhealthy"].endswith("has mode 0o777")
        os.chmod(worker.ready["tmp_base"], 0o711)
        assert "unhealthy" not in worker.job("assert True")
        resource.prlimit(worker.proc.pid, resource.RLIMIT_NOFILE, (64, 64))
        assert worker.job("assert True")["unhealthy"] == "its rlimits changed (RLIMIT_NOFILE)"
    finally:
        worker.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop needs root")
def test_the_ready_frame_says_how_jobs_are_isolated():
    worker = RawWorker({"uid": 4_100_001, "env": {}})
    try:
        assert worker.ready["isolation"] in ("namespaces", "uid")
        answer = worker.job("import os\nprint(os.getuid())")
        assert answer["stdout"] == "4100001\n"
    finally:
        worker.close()


# --------------------------------------------------------------------------- memory

FORK_AND_ALLOCATE = textwrap.dedent("""
    import os, time
    children = []
    for _ in range({count}):
        pid = os.fork()
        if pid == 0:
            block = bytearray({size_mb} * 2**20)
            for i in range(0, len(block), 4096):
                block[i] = 1
            time.sleep(30)
            os._exit(0)
        children.append(pid)
    time.sleep({hold_s})
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
""")


def test_memory_is_capped_over_the_whole_process_tree(sandbox):
    program = FORK_AND_ALLOCATE.format(count=4, size_mb=300, hold_s=20)
    limits = replace(LIMITS, memory_mb=600, timeout_s=30.0, max_processes=32)
    started = time.monotonic()
    outcome = run(sandbox, program, limits)
    assert outcome.status is Status.FAILED, outcome
    assert outcome.detail == "memory limit of 600 MiB exceeded (process tree)"
    assert time.monotonic() - started < 20
    # Shared pages count once: a few forks of small programs stay well under the cap.
    small = FORK_AND_ALLOCATE.format(count=4, size_mb=50, hold_s=1)
    assert run(sandbox, small, limits).passed


MEMFD_HOG = textwrap.dedent("""
    import mmap, os, time
    for _ in range({processes} - 1):
        if os.fork() == 0:
            break
    kept = []
    for index in range({count}):
        fd = os.memfd_create(f"hog{{index}}")
        os.posix_fallocate(fd, 0, 64 << 20)
        if {mapped}:
            kept.append(mmap.mmap(fd, 64 << 20))  # mapped, never touched
            os.close(fd)
        else:
            kept.append(fd)
    time.sleep(20)
""")


@pytest.mark.parametrize("mapped", [False, True])
def test_memory_held_in_memfds_counts_against_the_cap(sandbox, mapped):
    """A memfd's pages are in no process's resident set until touched through a mapping:
    held open, or mapped and never touched, they count all the same."""
    program = MEMFD_HOG.format(processes=3, count=6, mapped=mapped)  # 1152 MiB in all
    limits = replace(LIMITS, memory_mb=600, timeout_s=15.0, max_processes=32)
    outcome = run(sandbox, program, limits)
    assert outcome.status is Status.FAILED, outcome
    assert outcome.detail == "memory limit of 600 MiB exceeded (process tree)"


def test_a_job_opens_at_most_a_usual_number_of_files(sandbox):
    program = ("import resource\nprint(resource.getrlimit(resource.RLIMIT_NOFILE))\n"
               "import os\nfds = []\ntry:\n    while True:\n        fds.append(os.pipe())\n"
               "except OSError as exc:\n    print(exc.errno, len(fds) < 520)\n")
    outcome = run(sandbox, program)
    assert outcome.passed, outcome
    assert outcome.stdout == "(1024, 1024)\n24 True\n"


CLONE_PARENT_SURVIVOR = textwrap.dedent("""
    import ctypes, os, signal, time
    libc = ctypes.CDLL(None, use_errno=True)
    # clone(CLONE_PARENT): the new process's parent is the job's parent, not the job
    if libc.syscall({clone}, 0x8000 | signal.SIGCHLD, 0, 0, 0, 0) == 0:
        end = time.monotonic() + 10
        while time.monotonic() < end:
            with open("/tmp/survivor", "w") as handle:
                handle.write(str(os.getpid()))
            time.sleep(0.005)
        os._exit(0)
    time.sleep(0.1)
""")


SYS_CLONE = {"x86_64": 56, "aarch64": 220}


@pytest.mark.skipif(os.uname().machine not in SYS_CLONE, reason="clone's syscall number")
def test_a_process_made_with_the_jobs_parent_as_its_parent_dies_with_the_job(sandbox):
    survivor = CLONE_PARENT_SURVIVOR.format(clone=SYS_CLONE[os.uname().machine])
    assert run(sandbox, survivor).passed
    later = run(sandbox, "import os, time\ntime.sleep(0.3)\n"
                         "assert not os.path.exists('/tmp/survivor'), 'a job lives on'\n")
    assert later.passed, later


KEYS = {"x86_64": (248, 249), "aarch64": (217, 218)}  # add_key, request_key
KEYRING = textwrap.dedent("""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    if {add}:  # the user's keyring (-4) outlives the process
        libc.syscall({add_key}, b"user", b"harness-plant", b"left behind", 11, -4)
    found = libc.syscall({request_key}, b"user", b"harness-plant", None, 0)
    print("found" if found >= 0 else "absent")
""")


@pytest.mark.skipif(os.uname().machine not in KEYS, reason="the key syscalls' numbers")
def test_a_job_cannot_leave_keys_for_later_jobs(sandbox):
    add_key, request_key = KEYS[os.uname().machine]
    for add in (True, False):
        program = KEYRING.format(add=add, add_key=add_key, request_key=request_key)
        outcome = run(sandbox, program)
        assert outcome.passed and outcome.stdout == "absent\n", outcome


SOCKETS_IN_FLIGHT = textwrap.dedent("""
    import array, socket
    listener = socket.socket()
    listener.bind(("127.0.0.1", 45681))
    listener.listen(5)
    client = socket.create_connection(("127.0.0.1", 45681))
    server, _ = listener.accept()
    client.sendall(b"S" * 1234)
    # Sent over unix sockets in a cycle and closed: "in flight", held by nothing
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    c, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    fds = [listener.fileno(), client.fileno(), server.fileno(), b.fileno(), c.fileno()]
    a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    c.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                        array.array("i", [a.fileno(), d.fileno()]))])
    for s in (listener, client, server, a, b, c, d):
        s.close()
""")
LATER_SERVER = textwrap.dedent("""
    import socket
    left = open("/proc/net/tcp").read().splitlines()[1:]
    assert not left, left
    s = socket.socket()
    s.bind(("127.0.0.1", 45681))
    s.listen()
""")


def test_a_jobs_sockets_do_not_outlive_it(sandbox):
    """A listener and a connection with queued data, kept alive in flight, stayed for later
    jobs to find (and took the port from a correct server); so did TIME_WAIT. (local: the
    jobs use the host's network, whose sockets are not the sandbox's to clear; a job that
    reaches the host's network must still reach it after another job's sockets.)"""
    if sandbox.name == "local":
        with socket.socket() as host:
            host.bind(("127.0.0.1", 0))
            host.listen(8)
            port = host.getsockname()[1]
            reach = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), 5).close()\n"
            for _ in range(3):  # (each leaves a connection in TIME_WAIT on the host)
                outcome = run(sandbox, reach)
                assert outcome.passed, outcome
        return
    assert run(sandbox, SOCKETS_IN_FLIGHT).passed
    later = run(sandbox, LATER_SERVER)
    assert later.passed, later


# --------------------------------------------------------------------------- timeouts


def test_a_sleeping_job_times_out_for_real(sandbox):
    sleeper = run(sandbox, "import time\ntime.sleep(30)", replace(LIMITS, timeout_s=1.0))
    assert sleeper.status is Status.TIMEOUT and not sleeper.starved
    assert sleeper.cpu_s < 0.5
    # Whatever the load: "starved" only ever comes with less CPU time than the limit.
    spinner = run(sandbox, "while True:\n    pass\n", replace(LIMITS, timeout_s=1.0))
    assert spinner.status is Status.TIMEOUT
    assert not spinner.starved or spinner.cpu_s < 1.0


def boost(marker: str, within_s: float = 10.0) -> list[int]:
    """Give the processes named ``marker`` (and their sessions) the highest priority, so that
    they get a CPU however loaded this machine is; their pids."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        found = []
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/comm") as handle:
                    if handle.read().strip() == marker:
                        found.append(int(entry))
            except (OSError, ValueError):
                continue
        for pid in found:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, pid, -20)
            with contextlib.suppress(OSError), open(f"/proc/{pid}/autogroup", "w") as handle:
                handle.write("-20")
        if found:
            return found
        time.sleep(0.01)
    return []


@pytest.mark.skipif(os.geteuid() != 0, reason="raising a job's priority needs root")
def test_a_busy_loop_that_had_its_cpu_is_a_real_timeout(sandbox):
    marker = f"hb{os.getpid() % 100000}"
    program = (f"import ctypes, time\nctypes.CDLL(None).prctl(15, b'{marker}', 0, 0, 0)\n"
               "time.sleep(0.5)\nwhile True:\n    pass\n")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(run, sandbox, program, replace(LIMITS, timeout_s=2.5))
        assert boost(marker), "the job did not start"
        outcome = future.result()
    assert outcome.status is Status.TIMEOUT
    assert not outcome.starved, outcome
    assert outcome.cpu_s >= 1.5


@pytest.mark.skipif(os.geteuid() != 0, reason="the CPU hogs need a higher priority (root)")
def test_a_job_starved_of_cpu_is_marked_starved(sandbox):
    cpu = sorted(os.sched_getaffinity(0))[0]
    hog = (f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nos.setpriority(os.PRIO_PROCESS, 0,"
           " -15)\nwhile True:\n    pass\n")
    hogs = [subprocess.Popen([sys.executable, "-c", hog], start_new_session=True)
            for _ in range(4)]  # a session each: the scheduler shares per session
    try:
        program = f"import os\nos.sched_setaffinity(0, {{{cpu}}})\nwhile True:\n    pass\n"
        outcome = run(sandbox, program, replace(LIMITS, timeout_s=2.0))
    finally:
        for proc in hogs:
            proc.kill()
            proc.wait()
    assert outcome.status is Status.TIMEOUT
    assert outcome.starved, outcome
    assert outcome.cpu_s < 1.0  # the hogs take about four fifths of the CPU


# --------------------------------------------------------------------------- hostile text


def test_hostile_text_never_breaks_a_result(sandbox):
    program = textwrap.dedent("""
        import sys
        sys.stdout.buffer.write(b"bad utf-8: \\xff\\xfe\\xc3 nul: \\x00 end\\n")
        sys.stdout.flush()
        sys.stderr.write("surrogate: \\ud800\\n")
        print("x" * 100000)
        raise ValueError("lone \\udcff and nul \\x00")
    """)
    outcome = run(sandbox, program)
    assert outcome.status is Status.ERROR
    assert outcome.detail.startswith("ValueError: lone ")
    for text in (outcome.detail, outcome.stdout, outcome.stderr):
        text.encode("utf-8")  # valid text, whatever the program printed
    assert "\x00" in outcome.stdout and "\ufffd" in outcome.stdout
    assert "more bytes not kept" in outcome.stdout


def test_hostile_exception_messages_in_calls(sandbox):
    program = textwrap.dedent("""
        class Evil(Exception):
            def __str__(self):
                raise RuntimeError("no message for you")

        def f(kind):
            if kind == "surrogate":
                raise ValueError("\\ud800")
            if kind == "evil":
                raise Evil()
            return "\\udfff"
    """)
    results = [call(sandbox, program, [("f", [kind], {})])[1][0]
               for kind in ("surrogate", "evil", "value")]
    assert results[0].kind == "raised" and results[0].detail == "ValueError: \\ud800"
    assert results[1].kind == "raised" and "Evil" in results[1].detail
    assert results[2].output == "\udfff"  # the real output, surrogate and all
