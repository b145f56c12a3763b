"""Fork-server that runs untrusted Python programs, one fresh child process per job.

Standard library only: this one file runs on the host (``local``), inside bubblewrap and
inside the Docker image, started by the pool as ``python -s worker.py --fd N`` (an
inherited Unix socket) or ``--connect PATH``. Never stdin/stdout: programs of the same uid
could reopen those through /proc. Frames are length-prefixed JSON (4-byte big-endian length,
ASCII JSON):

  pool -> worker: one config frame ({"uid", "pid_namespace", "env", "tmp_base",
                 "tmp_size_mb", "shm_size_mb", "namespaces" (false: do not use them),
                 "private_network" (true: the network namespace is the sandbox's own), ...}),
                 then job frames {"seq", "program", "limits",
                 "libraries" (optional: the only third-party top-level modules importable),
                 "calls" (optional: {"inputs": wire text, "cpu_limits": [seconds] | null,
                 "digest_above": chars | null})}
  worker -> pool: {"ready": true, "isolation": ..., ...} once, then one result frame per job:
                 {"seq", "status", "detail", "duration_s", "stdout", "stderr", "cpu_s",
                  "starved", "attached" (call jobs: the length of the per-call records,
                  which follow the JSON after a newline, as raw ASCII),
                  "unhealthy" (only when the worker found itself tampered with)}

Processes: the worker proper talks to the pool, supervises each job and decides its
verdict; it holds every job's program, inputs and outputs, so no job's process is ever
forked from it. A *forker*, its child made before the first job frame is read, forks the
job processes: it sees only limits and descriptors (the program and inputs reach the job's
process in a memfd it passes on unread, outputs come back on pipes the worker reads), so a
job's process inherits nothing of earlier jobs, neither live objects nor freed memory.

Isolation of jobs (``isolation`` in the ready frame):

- ``namespaces``: the worker first moves into namespaces of its own (a user namespace
  mapping its uid to itself unless it runs as root, a pid and a mount namespace) and is init
  of that pid namespace, so that no process of its jobs outlives it; a waiter stays behind
  in the process the pool started, and dies (with everything below it) when that is killed.
  Jobs run in a further pid namespace whose init is a small idle process of the forker's
  (made anew whenever a job leaves processes behind, is stopped, or tampers with it), with
  a fresh IPC namespace each, in the forker's private mount namespace: size-limited tmpfs
  on /tmp, /var/tmp and /dev/shm, wiped after every job (the job's folder lies in /tmp), and
  where the kernel allows it a /proc that shows only the jobs' pid namespace. Programs run
  without capabilities (as a dedicated uid when the worker is root) and cannot name the
  worker or the forker (``os.getppid()`` is 0): they cannot signal, ``prlimit``, ``ptrace``
  or ``chmod`` anything of theirs, nothing they write reaches a later job, and they cannot
  create user namespaces.
- ``uid``: no namespaces, but the worker runs as root and drops each job to a dedicated uid.
- ``none``: no namespaces and nothing to drop to: jobs share the worker's uid (bwrap where
  user namespaces are disabled, Docker) and can harm the worker and the forker; after every
  job both check their own state (rlimits, priority, the worker's folder and protocol
  socket) and the result says ``unhealthy``; a job that kills the forker kills the worker.

Per job the child gets a new session, a fresh temporary directory as cwd and HOME, a
scrubbed environment and rlimits; stdout/stderr are captured and capped. Every ~50 ms the
worker sums the memory of all the job's processes and kills them when the sum exceeds the
job's ``memory_mb`` (RLIMIT_AS binds each process, not a tree of them).

A job passes only if the program's body ran to its end in the child itself: the child then
reads a per-job random nonce from a pipe (the nonce is never in the program's memory while
it runs) and reports it, with its own pid, on a second pipe; exiting early, dying by a
signal, or finishing only in a forked copy reports no valid nonce. A program that
deliberately reads the nonce pipe could still fake its own report: in-process reporting
cannot stop code running in the same process. That is why call jobs exist.

Call jobs: after the program ran to its end, the driver (in the job's process) calls the
functions the job names, each with a fresh decode of its inputs, and returns the encoded
outputs (the wire format of ``harness.sandbox.values``) with the nonce; trusted code outside
decides. A first line holds the calls' times, ``[[cpu_s, wall_s], ...]`` (``wall_s`` less
the seconds the call waited for a CPU: its time on an idle machine); then per call one
line, ``KIND DIGEST BODY``: "ok" with the output's wire text, or "raised" ("Type: message"),
"timeout" (its CPU limit, ITIMER_PROF), "bad" ("unsupported type ...") or "missing", each
with a JSON string; the driver stops at the first record that is not "ok". DIGEST is "-",
or, for an output whose wire text is longer than the job's ``digest_above``, the sha256 of
that text: trusted code compares it with the reference's instead of reading the output
(forging it needs the expected output itself). A list or tuple whose text would be longer
than ``SEALED_ABOVE`` comes *sealed*: a digest and an empty BODY (``wire_digested``). A
per-call timeout makes the job a "timeout"
("input K: CPU limit of Xs reached", K counted from 0).

CPU time and timeouts: a job that reaches its wall-clock limit is a timeout. Before killing
it the worker reads the scheduler statistics of the job's processes (/proc/PID/schedstat:
``run_delay``, the time spent runnable but waiting for a CPU) and their CPU time. The timeout
is ``starved`` when some process of the job waited for a CPU for at least a quarter of the
limit and the job got less than half a CPU over the limit: the machine, not the program,
decided it, and the pool may run it once more. A job that got at least half a CPU for the
whole limit (itself at least 4x the reference's time) had twice the reference's time: its
timeout is final. A program that burned its CPU budget (a busy loop),
or slept or blocked, timed out for real (``starved`` false). CPU-limit kills and per-call
CPU timeouts are never starved.
"""

from __future__ import annotations

import array
import binascii
import contextlib
import errno
import fcntl
import itertools
import json
import math
import os
import resource
import secrets
import select
import shutil
import signal
import socket
import stat
import struct
import sys
import tempfile
import time
from collections.abc import Sequence
from hashlib import sha256
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024
READ_CHUNK = 65536
REPORT_PIPE_BYTES = 1 << 20  # (Linux's default most for one pipe: fs.pipe-max-size)
MAX_DETAIL = 1000
CLEANUP_BUDGET_S = 10.0
SETUP_FAILED_EXIT = 121  # the child could not be set up (reported as a sandbox error)
INITIAL_PID_NS_INODE = 0xEFFFFFFC  # the kernel's fixed inode number of the host pid namespace
REPORT_ROOM = 4096  # the completion report's header
DEFAULT_MAX_RESULT = 256 * 1024 * 1024
MEMORY_CHECK_S = 0.05
STARVED_SHARE = 0.25  # of the limit, spent waiting for a CPU
STARVED_CPU_SHARE = 0.5  # of the limit, at most, in CPU time
INIT_ANSWER_S = 2.0  # for the job namespace's init to answer "anything left?"
DEFAULT_TMP_MB = 512
DEFAULT_SHM_MB = 64
JOB_OPEN_FILES = 1024  # a job's descriptors at most (RLIMIT_NOFILE)
JOB_DIR = "/tmp/job"  # a job's folder where it has a private /tmp (namespaces)

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
# How many sockets a network namespace holds, as /proc/<pid>/net counts them: the counts
# of that namespace alone (in use, TIME_WAIT), not the machine's (orphans, memory). Reading
# these is instant; the socket tables (net/tcp...) walk the kernel's whole hash table,
# about 4 ms each, which tripled the cost of a trivial job.
NET_COUNTS = ("sockstat", "sockstat6")
NET_COUNTED = frozenset({b"used", b"inuse", b"tw"})
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
CAP_VERSION_3 = 0x20080522

# World-writable places where a job can leave files for later jobs (or, local, on the host).
SHARED_WRITABLE_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock")
# Of those, the ones a job in its own mount namespace gets private tmpfs for.
PRIVATE_TMPFS = ("/tmp", "/var/tmp", "/dev/shm")

# Imported once in the worker so that children start with them loaded (fork shares them).
PRELOAD = (
    "array", "bisect", "collections", "copy", "dataclasses", "datetime", "decimal",
    "fractions", "functools", "hashlib", "heapq", "itertools", "json", "math", "operator",
    "random", "re", "statistics", "string", "traceback", "typing", "linecache",
)


# What a job's process does on its way, done once in the worker before the forker is forked:
# the first compile() of a process sets up the compiler's state (about 1.5 ms, most of it
# page faults), and every job would pay it again. Nothing of a job is in here.
WARM_UP_PROGRAM = """
from typing import Any, Dict, List, Optional, Tuple
import math


class _Point:
    def __init__(self, x: int, y: float = 0.5, *rest: Any, **named: Any) -> None:
        self.x, self.y = x, y

    def moved(self) -> "_Point":
        return _Point(self.x + 1, self.y * 2.0)


def _sample(numbers: List[int], text: str = "ab") -> Tuple[Dict[str, int], Optional[str]]:
    total, seen = 0, set()
    for index, value in enumerate(sorted(numbers, key=lambda v: -v)):
        if value % 2 == 0 and value not in seen:
            total += value ** 2
        elif value > 3 or not seen:
            seen.add(value)
        while total > 100:
            total //= 3
    try:
        word = f"{text!r:>5}{total:04d}" + text[::-1].upper()
    except (KeyError, IndexError) as exc:
        raise ValueError("unreachable") from exc
    finally:
        pass
    pairs = {k: v for k, v in zip(text, range(3))}
    squares = [i * i for i in range(5) if i]
    return {**pairs, "total": total, "n": len(squares)}, (word if math.isfinite(1.5) else None)


assert _sample([1, 2, 3, 4])[0]["total"] == 20
assert _Point(1).moved().x == 2
"""


def _warm_up() -> None:
    exec(compile(WARM_UP_PROGRAM, "<warm-up>", "exec"), {"__name__": "__warm_up__"})
    sample = [1, -2.5, float("nan"), "t\u00e9xt", b"\x00", None, True, (1, 2), {"k": [3]},
              {4, 5}, frozenset({6})]
    wire_value(wire_load(wire_encode(sample)))
    json.loads(json.dumps({"program": "x", "calls": None, "status": "passed"}))
    _exception_line(ValueError("warm-up"))


# --------------------------------------------------------------------------- framing


def read_exact(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict[str, Any] | None:
    header = read_exact(fd, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes is too large")
    body = read_exact(fd, size)
    if body is None:
        return None
    message = json.loads(body)
    if not isinstance(message, dict):
        raise ValueError("a frame that is not a JSON object")
    return message


def write_frame(fd: int, message: dict[str, Any], attachment: bytes | memoryview = b""
                ) -> None:
    """``attachment``: raw bytes after the JSON (a result's call records, which would cost
    an escape and an unescape of every quote as a JSON string), announced by the message's
    ``"attached"`` length; the JSON text never holds a raw newline, which separates them."""
    # ASCII only: lone surrogates and other hostile text travel as \u escapes.
    body = json.dumps(message, ensure_ascii=True).encode("ascii")
    if attachment:
        body += b"\n"
    write_all(fd, [HEADER.pack(len(body) + len(attachment)) + body, attachment])


def write_all(fd: int, parts: Sequence[bytes | memoryview], write: Any = os.write) -> None:
    """Write ``parts`` one after the other, without joining them (they may be large).
    ``write``: bound here, before any program ran in this process."""
    for part in parts:
        data = memoryview(part)
        while data:
            data = data[write(fd, data):]


# --------------------------------------------------------------------------- values codec
# The wire format of harness.sandbox.values (see there), in the sandbox's own copy.

WIRE_MAX_DEPTH = 100
WIRE_MAX_INT_DIGITS = 4300
_WIRE_INT_LIMIT = 10**WIRE_MAX_INT_DIGITS
_WIRE_SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_json_dumps = json.dumps
_json_loads = json.loads
_b64encode = binascii.b2a_base64
_isfinite, _isnan = math.isfinite, math.isnan
_array = array.array
# A list of at least PACK_MIN items, all exact finite floats but for a few exact ints that a
# double holds exactly, crosses *packed*: {"p": [base64 of its items as little-endian
# float64, [the positions of the ints]]}. json writes each float through repr (~200 ns), and
# one HumanEval+ output is a list of ten million floats: packing it is done at C speed.
PACK_MIN = 256
PACK_INT_LIMIT = 2**53
_BIG_ENDIAN = sys.byteorder == "big"


class Unencodable(Exception):
    """A value the wire format cannot carry (the reason is the message)."""


def _type_name(kind: type) -> str:
    try:
        name = f"{type.__getattribute__(kind, '__module__')}.{kind.__qualname__}"
    except BaseException:  # a hostile class must not break the driver
        name = "<unnamed type>"
    return _clean_text(str(name))[:200]


def _wire_float(value: float) -> Any:
    if _isfinite(value):
        return value
    return {"f": "nan" if _isnan(value) else ("inf" if value > 0 else "-inf")}


def _wire_base(value: Any, kind: type) -> Any:
    """The exact-typed base value of a subclass instance, read through the base type's own
    slots (an overridden ``__int__``, ``__iter__``, ``items`` ... never runs), or None."""
    if issubclass(kind, int):
        return int.__int__(value)
    if issubclass(kind, float):
        return float.__float__(value)
    if issubclass(kind, str):
        return str.__str__(value)
    if issubclass(kind, bytes):
        return bytes.__getitem__(value, slice(None))
    if issubclass(kind, complex):
        return complex(complex.real.__get__(value), complex.imag.__get__(value))
    if issubclass(kind, list):
        return list.copy(value)
    if issubclass(kind, tuple):
        return tuple.__getitem__(value, slice(None))
    if issubclass(kind, dict):
        return dict(list(dict.items(value)))
    if issubclass(kind, frozenset):
        return frozenset(list(frozenset.__iter__(value)))
    if issubclass(kind, set):
        return set(list(set.__iter__(value)))
    numpy = sys.modules.get("numpy")
    generic = getattr(numpy, "generic", None) if numpy is not None else None
    if isinstance(generic, type) and isinstance(value, generic) and not isinstance(
            value, getattr(numpy, "ndarray", ())):
        scalar: Any = value
        base = scalar.item()  # numpy's own conversion to a Python scalar
        if type(base) not in (bool, int, float, complex, str, bytes):
            base = float(base)  # e.g. longdouble.item() stays a longdouble
        return base
    return None


_WIRE_PLAIN = frozenset({int, float, str, bool, type(None)})
_WIRE_NUMBERS = frozenset({int, float})


def plain_list(items: list[Any]) -> bool:
    """Whether ``items`` (an exact list) holds only exact ints within bounds, finite floats,
    str, bool and None: such a list is its own wire form, written and read by json at C speed
    (one HumanEval+ output can be a list of a million floats). The trusted decoder in
    harness.sandbox.values checks decoded lists with this same function."""
    kinds = set(map(type, items))
    if not kinds <= _WIRE_PLAIN:
        return False
    numbers = kinds & _WIRE_NUMBERS
    if not numbers:
        return True
    picked = items if kinds == numbers else [x for x in items if type(x) in _WIRE_NUMBERS]
    if float in kinds:
        # An inf or a NaN makes the sum of magnitudes inf or NaN, and an int beyond a float's
        # range raises: a finite sum clears every number at once (and ints within a float's
        # range are within the wire's bounds).
        try:
            if _isfinite(sum(map(abs, picked))):
                return True
        except OverflowError:
            pass
        try:
            finite = all(map(_isfinite, picked))
        except OverflowError:  # an int beyond float's range: the floats alone
            finite = all(map(_isfinite, [x for x in picked if type(x) is float]))
        if not finite:
            return False
    return int not in kinds or -_WIRE_INT_LIMIT < min(picked) <= max(picked) < _WIRE_INT_LIMIT


def packed(items: list[Any]) -> dict[str, Any] | None:
    """The packed wire of an exact list (see ``PACK_MIN``), or None where it is not to be
    packed: shorter than PACK_MIN, a value of another type, a NaN or an infinity (those stay
    ``{"f": ...}``, which trusted code looks for in wire text), an int beyond
    PACK_INT_LIMIT, more than one int in eight (json writes ints fast), or neither the
    first nor the last item a float. Trusted code (harness.sandbox.values) packs with this
    same function."""
    if len(items) < PACK_MIN or (type(items[0]) is not float and type(items[-1]) is not float):
        return None  # (a list of other values is told apart without a pass over it)
    kinds_in_order = list(map(type, items))
    kinds = set(kinds_in_order)
    ints: list[int] = []
    if kinds == {int, float}:
        if kinds_in_order.count(int) * 8 > len(items):
            return None
        find = kinds_in_order.index
        position = -1
        with contextlib.suppress(ValueError):  # (no int after the last one)
            while True:
                position = find(int, position + 1)
                ints.append(position)
        if not all(-PACK_INT_LIMIT <= items[i] <= PACK_INT_LIMIT for i in ints):
            return None
    elif kinds != {float}:
        return None
    doubles = _array("d", items)
    if _BIG_ENDIAN:
        doubles.byteswap()
    raw = doubles.tobytes()
    if not _finite_doubles(raw, items):
        return None
    return {"p": [_b64encode(raw, newline=False).decode("ascii"), ints]}


def _packed_text(wire: dict[str, Any]) -> str:
    """``json.dumps`` of a packed wire, without scanning its base64 text for characters to
    escape (it has none)."""
    text, ints = wire["p"]
    return f'{{"p":["{text}",{_json_dumps(ints, separators=(",", ":"))}]}}'


def _finite_doubles(raw: bytes, items: list[Any]) -> bool:
    """Whether the little-endian float64s ``raw`` (``items``' values) are all finite: only
    a value of at least 2**1009 has a high byte of 0x7f or 0xff, and looking for those two
    bytes is done at C speed."""
    high = raw[7::8]
    return (b"\x7f" not in high and b"\xff" not in high) or all(map(_isfinite, items))


def list_as_is(items: list[Any]) -> Any:
    """The wire of an exact list that needs no walk over its items: packed, or the list
    itself where it is plain; None for any other list. (Both encoders start here.)"""
    made = packed(items)
    if made is not None:
        return made
    return items if plain_list(items) else None


def unpacked(body: Any) -> list[Any]:
    """The list a packed wire body stands for; ValueError if it is malformed."""
    if type(body) is not list or len(body) != 2 or type(body[0]) is not str \
            or type(body[1]) is not list:
        raise ValueError("{'p': ...} needs [base64 text, [int positions]]")
    try:
        raw = binascii.a2b_base64(body[0].encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("{'p': ...} holds invalid base64") from None
    if len(raw) % 8:
        raise ValueError("{'p': ...} holds a partial float64")
    doubles = _array("d")
    doubles.frombytes(raw)
    if _BIG_ENDIAN:
        doubles.byteswap()
    items: list[Any] = doubles.tolist()
    if not _finite_doubles(raw, items):
        raise ValueError("{'p': ...} holds a NaN or an infinity")
    positions = body[1]
    if positions and (set(map(type, positions)) != {int} or positions != sorted(set(positions))
                      or positions[0] < 0 or positions[-1] >= len(items)):
        raise ValueError("{'p': ...} needs increasing int positions within the list")
    for index in positions:
        number = items[index]
        if number != int(number) or abs(number) > PACK_INT_LIMIT:
            raise ValueError("{'p': ...} holds an int position that is not an int")
        items[index] = int(number)
    return items


def _to_wire(value: Any, depth: int, active: set[int]) -> Any:
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -_WIRE_INT_LIMIT < value < _WIRE_INT_LIMIT else {"i": hex(value)}
    if kind is float:
        return _wire_float(value)
    if kind is complex:
        return {"c": [_wire_float(value.real), _wire_float(value.imag)]}
    if kind is bytes:
        return {"b": _b64encode(value, newline=False).decode("ascii")}
    if kind not in (list, tuple, dict, set, frozenset):
        base = _wire_base(value, kind)
        if base is None:
            raise Unencodable(f"unsupported type {_type_name(kind)}")
        return {"x": _type_name(kind), "v": _to_wire(base, depth, active)}
    if depth >= WIRE_MAX_DEPTH:
        raise Unencodable(f"nesting deeper than {WIRE_MAX_DEPTH}")
    if id(value) in active:
        raise Unencodable(f"a cycle through a {kind.__name__}")
    if kind is list and (made := list_as_is(value)) is not None:
        return made
    if kind is tuple:
        items = list(value)
        if plain_list(items):
            return {"t": items}
    active.add(id(value))
    try:
        if kind is list:
            return [_to_wire(item, depth + 1, active) for item in value]
        if kind is tuple:
            return {"t": [_to_wire(item, depth + 1, active) for item in value]}
        if kind is dict:
            return {"d": [[_to_wire(k, depth + 1, active), _to_wire(v, depth + 1, active)]
                          for k, v in value.items()]}
        tag = "s" if kind is set else "fs"
        return {tag: [_to_wire(item, depth + 1, active) for item in value]}
    finally:
        active.discard(id(value))


def _unencodable(exc: BaseException) -> Unencodable:
    """What encoding raised (not ``Unencodable`` itself), as ``Unencodable`` saying why."""
    if isinstance(exc, RecursionError):
        return Unencodable(f"nesting deeper than {WIRE_MAX_DEPTH}")
    return Unencodable(f"cannot encode ({type(exc).__name__})")  # MemoryError, hostile names


def wire_encode(value: Any) -> str:
    """The wire text of ``value``; ``Unencodable`` names what cannot be carried."""
    try:  # (not a context manager: this runs once per call of a call job)
        wire = _to_wire(value, 0, set())
        if type(wire) is dict and "p" in wire:
            return _packed_text(wire)
        return _json_dumps(wire, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except Unencodable:
        raise
    except BaseException as exc:
        raise _unencodable(exc) from None


# A list or tuple of more items is encoded in batches, each added to the digest as it is
# made: its whole wire tree never needs to be in memory (MBPP+/255 returns 1.7 million
# tuples of 77 strings), and its text beyond SEALED_ABOVE characters is not kept at all.
STREAM_ITEMS = 65536
STREAM_BATCH = 4096
SEALED_ABOVE = 64 * 1024 * 1024


def wire_digested(value: Any, digest_above: int | None) -> tuple[str, str | None]:
    """The wire text of an output, and its sha256 where the text is longer than
    ``digest_above``. A *sealed* output, longer than ``SEALED_ABOVE``, has the text "" and
    only its digest: trusted code can match it with the reference's, not read it (only
    outputs the job asks digests for, and only long lists and tuples, are sealed)."""
    if digest_above is None or type(value) not in (list, tuple) or len(value) <= STREAM_ITEMS:
        text = wire_encode(value)
        if digest_above is not None and len(text) > digest_above:
            return text, sha256(text.encode("ascii")).hexdigest()
        return text, None
    try:
        made = packed(value) if type(value) is list else None
        if made is None:
            return _streamed(value)
        # One string made at C speed, sealed like a streamed list of that length
        text = _packed_text(made)
        digest = sha256(text.encode("ascii")).hexdigest()
        return ("" if len(text) > SEALED_ABOVE else text), digest
    except Unencodable:
        raise
    except BaseException as exc:
        raise _unencodable(exc) from None


def _streamed(items: list[Any] | tuple[Any, ...]) -> tuple[str, str]:
    """``wire_encode(items)`` (a list or tuple of over STREAM_ITEMS items) made batch by
    batch, with the sha256 of that text; "" for the text beyond SEALED_ABOVE characters,
    and then the digest is of the text up to there and of the rest in batches
    (``_sealed_rows``): reference and candidate make it alike, and it is only ever matched
    with another sealed output's."""
    hasher = sha256()
    kept: list[str] | None = []
    size = 0

    def add(text: str) -> None:
        nonlocal kept, size
        hasher.update(text.encode("ascii"))
        size += len(text)
        if kept is not None:
            kept.append(text)
            if size > SEALED_ABOVE:
                kept = None

    active = {id(items)}
    add("[" if type(items) is list else '{"t":[')
    for start in range(0, len(items), STREAM_BATCH):
        batch = list(items[start : start + STREAM_BATCH])
        if kept is None and (rows := _sealed_rows(batch)) is not None:
            hasher.update(rows)
            continue
        if not plain_list(batch):
            batch = _flat_rows(batch) or [_to_wire(item, 1, active) for item in batch]
        text = _json_dumps(batch, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
        add(("," if start else "") + text[1:-1])
    add("]" if type(items) is list else "]}")
    return ("" if kept is None else "".join(kept)), hasher.hexdigest()


def _sealed_rows(batch: list[Any]) -> bytes | None:
    """Once an output is sealed, a batch of rows of strings (exact tuples of one length, of
    exact str without NUL or SOH) is hashed in a form made at C speed instead of its wire
    text (MBPP+/255: 128 million strings); None for any other batch. The form cannot be
    taken for wire text (which holds no control characters) and is length-prefixed."""
    if set(map(type, batch)) != {tuple} or len(set(map(len, batch))) != 1:
        return None
    if set(map(type, itertools.chain.from_iterable(batch))) != {str}:
        return None
    width = len(batch[0])
    text = "\x01".join(map("\x00".join, batch))
    if (text.count("\x00") != len(batch) * max(width - 1, 0)
            or text.count("\x01") != len(batch) - 1):
        return None  # a string holds a separator
    body = text.encode("utf-8", "surrogatepass")
    return b"\x02%d:%d:" % (width, len(body)) + body


def _flat_rows(batch: list[Any]) -> list[Any] | None:
    """The wire of ``batch`` where each item is an exact list or tuple of plain values (a
    tuple's wire is {"t": its items}, which json writes from the tuple itself), else None."""
    if not set(map(type, batch)) <= {list, tuple} or max(map(len, batch)) >= PACK_MIN \
            or not plain_list(list(itertools.chain.from_iterable(batch))):
        return None  # (a long row may be packed: each item is encoded by itself)
    return [{"t": row} if type(row) is tuple else row for row in batch]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"bare {name}")


def wire_load(text: str) -> Any:
    """Parse wire text into its raw JSON form (decode parts of it with ``wire_value``)."""
    return _json_loads(text, parse_constant=_reject_constant)


def _wire_float_of(node: Any) -> float:
    if type(node) is float or type(node) is int:
        return float(node)
    if type(node) is dict and len(node) == 1 and node.get("f") in _WIRE_SPECIAL:
        return _WIRE_SPECIAL[node["f"]]
    raise ValueError(f"not a wire float: {str(node)[:40]}")


def wire_value(node: Any, depth: int = 0) -> Any:
    """The value of raw wire JSON ``node``, made of new objects on every call."""
    kind = type(node)
    if node is None or kind is bool or kind is int or kind is float or kind is str:
        return node
    if depth >= WIRE_MAX_DEPTH:
        raise ValueError(f"nesting deeper than {WIRE_MAX_DEPTH}")
    if kind is list:
        if set(map(type, node)) <= _WIRE_PLAIN:
            return list(node)  # immutable items: a copy of the list is a fresh value
        return [wire_value(item, depth + 1) for item in node]
    if kind is not dict:
        raise ValueError(f"unexpected {kind.__name__}")
    if "x" in node and "v" in node and len(node) == 2:
        return wire_value(node["v"], depth)  # inside the sandbox: the base value
    if len(node) != 1:
        raise ValueError(f"not a wire tag: {sorted(node)[:3]}")
    ((tag, body),) = node.items()
    if tag == "f":
        return _wire_float_of(node)
    if tag == "c":
        return complex(_wire_float_of(body[0]), _wire_float_of(body[1]))
    if tag == "b":
        return binascii.a2b_base64(body.encode("ascii"))
    if tag == "i":
        return int(body, 16)
    if tag == "p":
        return unpacked(body)
    if type(body) is not list:
        raise ValueError(f"{{{tag!r}: ...}} needs a list")
    if tag == "d":
        return {wire_value(k, depth + 1): wire_value(v, depth + 1) for k, v in body}
    items = [wire_value(item, depth + 1) for item in body]
    if tag == "t":
        return tuple(items)
    if tag == "s":
        return set(items)
    if tag == "fs":
        return frozenset(items)
    raise ValueError(f"unknown wire tag {tag!r}")


# --------------------------------------------------------------------------- helpers


def _libc() -> Any:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                           ctypes.c_char_p]
    return libc


def _prctl(libc: Any, option: int, value: int) -> bool:
    return bool(libc.prctl(option, value, 0, 0, 0) == 0)


def _check(libc: Any, result: int, what: str) -> None:
    if result != 0:
        import ctypes

        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _mount(libc: Any, source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    def arg(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    _check(libc, libc.mount(arg(source), arg(target), arg(fstype), flags, arg(data)),
           f"mount {target}")


def _no_capabilities() -> tuple[Any, Any]:
    """capset's arguments for "no capabilities" (built once: ctypes classes are slow to make)."""
    import ctypes

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    return ctypes.byref(Header(CAP_VERSION_3, 0)), (Data * 2)()


# The kernel's key store (add_key, request_key, keyctl) keeps what a process puts in its
# user's keyring after the process is gone: a job could leave data there for every later
# job of its worker (they share the uid). No benchmark program needs it: jobs get ENOSYS.
KEY_SYSCALLS = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
X32_SYSCALL_BIT = 0x40000000


def _seccomp_filter() -> Any:
    """prctl's argument for a seccomp filter that refuses the key syscalls (and syscalls of
    another ABI, such as i386's through ``int 0x80``, which would name them otherwise), or
    None on an architecture not listed. Built once: each job's process installs it."""
    import ctypes

    machine = os.uname().machine
    if machine not in KEY_SYSCALLS:
        return None

    class Instruction(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                    ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Instruction))]

    load, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, ..|JGE|K, RET|K
    first, second, third = KEY_SYSCALLS[machine]
    refuse = SECCOMP_RET_ERRNO | errno.ENOSYS
    code = [(load, 0, 0, 4),                      # the syscall's architecture
            (jeq, 0, 6, AUDIT_ARCH[machine]),     # another ABI: refused
            (load, 0, 0, 0),                      # the syscall's number
            (jge, 4, 0, X32_SYSCALL_BIT),         # x32: refused
            (jeq, 3, 0, first), (jeq, 2, 0, second), (jeq, 1, 0, third),
            (ret, 0, 0, SECCOMP_RET_ALLOW),
            (ret, 0, 0, refuse)]
    instructions = (Instruction * len(code))(*[Instruction(*step) for step in code])
    program = Program(len(code), instructions)
    program.keep = instructions  # (alive as long as it is)
    return program


def _install_filter(libc: Any, program: Any) -> None:
    import ctypes

    _check(libc, libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0),
           "seccomp")


def _drop_capabilities(libc: Any, arguments: tuple[Any, Any] | None = None) -> None:
    """No capabilities left (effective, permitted, inheritable and so ambient)."""
    header, data = arguments or _no_capabilities()
    _check(libc, libc.capset(header, data), "capset")


def _close_all_but(keep: set[int]) -> None:
    low = 0
    for fd in sorted(keep):
        if fd > low:  # never closerange(n, n): CPython 3.11 closes everything from n then
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _clean_text(text: str) -> str:
    """``text`` as valid UTF-8 text: lone surrogates become ``\\udXXX`` escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _exception_line(exc: BaseException) -> str:
    import traceback

    try:
        line = traceback.format_exception_only(type(exc), exc)[-1].strip()
    except BaseException:  # a hostile __str__ must not break reporting
        try:
            line = type(exc).__name__
        except BaseException:
            line = "exception"
    try:
        return _clean_text(str(line))[:MAX_DETAIL]
    except BaseException:
        return "exception"


def _accessible_to_others(directory: str) -> bool:
    """Whether a user unrelated to the owners can list ``directory`` and reach it."""
    path = os.path.abspath(directory)
    try:
        if os.stat(path).st_mode & (stat.S_IROTH | stat.S_IXOTH) != (stat.S_IROTH | stat.S_IXOTH):
            return False
        while path != "/":
            path = os.path.dirname(path)
            if not os.stat(path).st_mode & stat.S_IXOTH:
                return False
    except OSError:
        return True  # a missing entry does not matter
    return True


def _in_initial_pid_ns() -> bool:
    try:
        return os.readlink("/proc/self/ns/pid") == f"pid:[{INITIAL_PID_NS_INODE}]"
    except OSError:
        return True  # cannot tell: assume the worst


def _set_limit(kind: int, value: int) -> None:
    """Set soft and hard limit to ``value``, never above the hard limit we were given."""
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


# Each limit once (RLIMIT_OFILE is another name of RLIMIT_NOFILE).
RLIMITS = tuple({getattr(resource, name): name for name in sorted(dir(resource), reverse=True)
                 if name.startswith("RLIMIT_")}.items())


def _all_rlimits() -> dict[str, tuple[int, int]]:
    return {name: resource.getrlimit(number) for number, name in RLIMITS}


def _parents_of(path: str) -> list[str]:
    parents = []
    while (path := os.path.dirname(path)) not in ("/", ""):
        parents.append(path)
    return parents


def _remove_tree(path: str) -> None:
    """``rmtree`` that also removes folders a program made unreadable (mode 000)."""
    shutil.rmtree(path, ignore_errors=True)
    if not os.path.lexists(path):
        return
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            folder = os.path.join(root, name)
            if not os.path.islink(folder):  # (the job's processes are all gone by now)
                with contextlib.suppress(OSError):
                    os.chmod(folder, 0o700)
    shutil.rmtree(path, ignore_errors=True)


class Capped:
    """Keeps the first ``limit`` bytes of a stream and counts the rest."""

    def __init__(self, limit: int, chunk: int = READ_CHUNK) -> None:
        self.limit = limit
        self.chunk = chunk  # the most read at once
        self.chunks: list[bytes] = []
        self.kept = 0
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.limit - self.kept
        if room > 0:
            self.chunks.append(data[:room])
            self.kept += min(room, len(data))
        self.dropped += max(0, len(data) - max(room, 0))

    def raw(self) -> bytes:
        return b"".join(self.chunks)

    def text(self) -> str:
        text = self.raw().decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[... {self.dropped} more bytes not kept]"
        return text


# --------------------------------------------------------------------------- /proc


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_SIZE = resource.getpagesize()


def _proc_parents() -> dict[int, int]:
    """pid -> parent pid of every process this /proc shows."""
    parents = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fields = _read_proc(name, "stat").rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(name)] = int(fields[1])
    return parents


def _descendants_in(parents: dict[int, int], roots: list[int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _descendants(root: int) -> list[int]:
    return _descendants_in(_proc_parents(), [root])


def _namespace_pids(pid: int | str) -> list[int]:
    """The pids of a process from our /proc's pid namespace down to its own."""
    for line in _read_proc(pid, "status").splitlines():
        if line.startswith(b"NSpid:"):
            return [int(x) for x in line.split()[1:]]
    raise ValueError("no NSpid")


def _descendant_pids(root: int) -> list[int]:
    """The descendants of ``root`` (a pid of our /proc) as pids of our pid namespace, which
    our /proc need not show (bwrap: it shows an outer one)."""
    level = len(_namespace_pids("self")) - 1
    found = []
    for pid in _descendants(root):
        with contextlib.suppress(OSError, ValueError, IndexError):
            found.append(_namespace_pids(pid)[level])
    return found


def _read_proc(pid: int | str, name: str) -> bytes:
    fd = os.open(f"/proc/{pid}/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process and of its children it has waited for."""
    fields = _read_proc(pid, "stat").rsplit(b")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLOCK_TICKS


def _run_delay(pid: int) -> float:
    """Seconds the process spent runnable, waiting for a CPU."""
    return int(_read_proc(pid, "schedstat").split()[1]) / 1e9


def _resident_bytes(pid: int) -> int:
    return int(_read_proc(pid, "statm").split()[1]) * PAGE_SIZE


def _proportional_bytes(pid: int) -> int:
    """Proportional set size: pages shared with others count by their share."""
    try:
        for line in _read_proc(pid, "smaps_rollup").splitlines():
            if line.startswith(b"Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return _resident_bytes(pid)


def _memfd_bytes(pids: list[int]) -> int:
    """Memory the processes hold in memfds (each counted once): a memfd's pages belong to
    no mapping until they are touched through one, so neither resident nor proportional
    sizes show them (96 memfds of 64 MiB each held 6 GiB under a 4 GiB cap). An open one
    counts what it holds; a mapped one, at most what its mappings span."""
    held: dict[int, int] = {}  # inode -> bytes
    for pid in pids:
        folder = f"/proc/{pid}/fd"
        with contextlib.suppress(OSError):
            for name in os.listdir(folder):
                path = f"{folder}/{name}"
                try:
                    if not os.readlink(path).startswith("/memfd:"):
                        continue
                    info = os.stat(path)
                except OSError:
                    continue
                held[info.st_ino] = max(held.get(info.st_ino, 0), info.st_blocks * 512)
        try:
            maps = _read_all(f"/proc/{pid}/maps")
        except OSError:
            continue
        if b" /memfd:" not in maps:
            continue
        spans: dict[int, int] = {}
        for line in maps.splitlines():
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].startswith(b"/memfd:"):
                low, _, high = fields[0].partition(b"-")
                inode = int(fields[4])
                spans[inode] = spans.get(inode, 0) + int(high, 16) - int(low, 16)
        for inode, size in spans.items():
            held[inode] = max(held.get(inode, 0), size)
    return sum(held.values())


def _read_all(path: str, dir_fd: int | None = None) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _pidfd_numbers(pidfd: int) -> tuple[int, int] | None:
    """(pid in our /proc, pid in its own namespace) of the process behind ``pidfd``."""
    try:
        info = _read_proc("self", f"fdinfo/{pidfd}")
    except OSError:
        return None
    pid = inner = None
    for line in info.splitlines():
        if line.startswith(b"Pid:"):
            pid = int(line.split()[1])
        elif line.startswith(b"NSpid:"):
            inner = int(line.split()[-1])
    if pid is None or pid <= 0:
        return None
    return pid, inner if inner is not None else pid


# --------------------------------------------------------------------------- namespaces


class Namespaces:
    """What the worker's namespaces allow (``namespaces`` isolation; see the docstring)."""

    def __init__(self, userns: bool, own_pid_ns_fd: int, private_proc: bool) -> None:
        self.userns = userns  # the worker made a user namespace (it is not really root)
        self.own_pid_ns_fd = own_pid_ns_fd
        self.private_proc = private_proc
        self.userns_blocked = False  # programs cannot create user namespaces


def _namespace_flags() -> int:
    flags = CLONE_NEWPID | CLONE_NEWNS
    return flags if os.geteuid() == 0 else flags | CLONE_NEWUSER


def _map_own_ids(uid: int, gid: int) -> None:
    with open("/proc/self/setgroups", "w") as handle:
        handle.write("deny")
    with open("/proc/self/uid_map", "w") as handle:
        handle.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as handle:
        handle.write(f"{gid} {gid} 1")


def _namespaces_work(libc: Any) -> bool:
    """Try the whole set-up in a throw-away child: namespaces, a job's pid namespace, its
    mount and IPC namespaces, and a tmpfs there."""
    flags, uid, gid = _namespace_flags(), os.geteuid(), os.getegid()
    pid = os.fork()
    if pid == 0:
        try:
            for fd in (0, 1, 2):
                with contextlib.suppress(OSError):
                    os.close(fd)
            _check(libc, libc.unshare(flags), "unshare")
            if flags & CLONE_NEWUSER:
                _map_own_ids(uid, gid)
            _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
            child = os.fork()
            if child == 0:
                try:
                    _check(libc, libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare job")
                    _mount(libc, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m")
                    os._exit(0)
                finally:
                    os._exit(1)
            _, status = os.waitpid(child, 0)
            os._exit(0 if status == 0 else 1)
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return status == 0


def enter_namespaces(protocol_fds: list[int]) -> Namespaces | None:
    """Move into the worker's own namespaces; None (and nothing changed) where the kernel
    does not allow it. The calling process stays behind as a plain waiter that exits with
    the worker (its only child, init of the new pid namespace), which returns from here."""
    libc = _libc()
    try:
        if not _namespaces_work(libc):
            return None
    except OSError:
        return None
    flags, uid, gid = _namespace_flags(), os.geteuid(), os.getegid()
    _check(libc, libc.unshare(flags), "unshare")
    if flags & CLONE_NEWUSER:
        _map_own_ids(uid, gid)
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE)
    alive_r, alive_w = os.pipe()
    pid = os.fork()
    if pid != 0:
        # The waiter: holds nothing of the protocol. SIGTERM (the pool's death signal) goes
        # on to the worker, which stops its job and exits; should it not within a while, the
        # waiter dies, and with it the worker (PR_SET_PDEATHSIG) and every job's process.
        try:
            os.close(alive_r)
            for fd in protocol_fds:
                os.close(fd)

            def forward(signum: int, frame: Any) -> None:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGTERM)
                signal.alarm(int(CLEANUP_BUDGET_S))  # its default action ends the waiter

            signal.signal(signal.SIGTERM, forward)
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)
        finally:
            os._exit(1)
    os.close(alive_w)
    _prctl(libc, PR_SET_PDEATHSIG, signal.SIGKILL)
    if select.select([alive_r], [], [], 0)[0]:  # the waiter died before we could tell
        os._exit(1)
    os.close(alive_r)
    private_proc = True
    try:
        _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError:  # a /proc with parts hidden (bwrap) cannot be mounted again
        private_proc = False
    own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    namespaces = Namespaces(bool(flags & CLONE_NEWUSER), own_pid_ns, private_proc)
    if namespaces.userns:
        # As bwrap's --disable-userns: nothing in our user namespace makes another one.
        try:
            with open("/proc/sys/user/max_user_namespaces", "w") as handle:
                handle.write("0")
            namespaces.userns_blocked = True
        except OSError:
            pass
    return namespaces


def _job_init(command_r: int, answer_w: int, proc: str | None) -> None:
    """Init of the jobs' pid namespace: mounts its /proc (``proc``: "new", or "replace" the
    one of a previous namespace), reaps the orphans of jobs and, asked after each job,
    answers b"c" (clean: nothing of the job is left), b"d" (processes left) or b"t" (its
    limits or scheduling were changed by a job). It runs as pid 1, so the programs' signals
    do not reach it, and holds nothing else."""
    try:
        _close_all_but({command_r, answer_w})
        libc = _libc()
        _prctl(libc, PR_SET_PDEATHSIG, signal.SIGKILL)
        with contextlib.suppress(OSError):  # else jobs see the worker's namespace's /proc
            if proc == "replace":
                _check(libc, libc.umount2(b"/proc", MNT_DETACH), "umount /proc")
            if proc is not None:
                _mount(libc, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        _drop_capabilities(libc)
        initial = (_all_rlimits(), os.getpriority(os.PRIO_PROCESS, 0),
                   os.sched_getaffinity(0), os.sched_getscheduler(0))
        while True:
            ready, _, _ = select.select([command_r], [], [], 1.0)
            left = False
            try:
                while True:  # reap what has ended; note what still runs
                    pid, _ = os.waitpid(-1, os.WNOHANG)
                    if pid == 0:
                        left = True
                        break
            except ChildProcessError:
                pass
            if not ready:
                continue
            if not os.read(command_r, 1):
                break
            now = (_all_rlimits(), os.getpriority(os.PRIO_PROCESS, 0),
                   os.sched_getaffinity(0), os.sched_getscheduler(0))
            answer = b"t" if now != initial else (b"d" if left else b"c")
            os.write(answer_w, answer)
    finally:
        os._exit(0)


# --------------------------------------------------------------------------- worker


class WorkerStop(BaseException):
    """SIGTERM: stop the job's processes, then exit."""


class ForkerLost(Exception):
    """The forker died or stopped answering (a job of our uid can kill it where there are no
    namespaces): the worker stops everything and exits, as if it had been killed itself."""


class Worker:
    """Runs jobs for the pool, in two processes (see the module docstring):

    - the worker proper (this object in the process that talks to the pool) receives each
      job, supervises its process (time, memory, output), and decides the verdict; it holds
      every job's program, inputs and outputs, so no job's process is ever forked from it;
    - the *forker*, a child made before the first job frame is read, forks each job's
      process. It only ever sees limits and descriptors: the program and inputs reach the
      job's process in a memfd it passes on unread, the outputs come back on pipes read here.
      So a job's process inherits nothing of earlier jobs, live or freed.
    """

    def __init__(self, config: dict[str, Any], pool_fd: int | None = None,
                 namespaces: Namespaces | None = None) -> None:
        self.pool_fd = pool_fd
        self.pool_gone = False
        self.ns = namespaces
        self.uid = config.get("uid")  # drop children to this uid/gid (worker runs as root)
        if self.uid is not None and os.geteuid() != 0:
            self.uid = None  # not root: nothing to drop to; we already are unprivileged
        if self.uid is None and os.geteuid() == 0:
            raise SystemExit("worker: refusing to run programs as root (give it a uid)")
        # In a private pid namespace only its init, we and our jobs' processes exist. Never
        # trusted blindly: in the host's namespace it would mean every process of our uid.
        self.pid_namespace = bool(config.get("pid_namespace")) and not _in_initial_pid_ns()
        # Job directories live in a folder of our own, so that the shared temp directories
        # only change when a program writes there.
        self.tmp_base = tempfile.mkdtemp(
            prefix="harness-worker-", dir=config.get("tmp_base") or tempfile.gettempdir())
        os.chmod(self.tmp_base, 0o711)
        self.tmp_mb = int(config.get("tmp_size_mb") or DEFAULT_TMP_MB)
        # Whether the jobs' network namespace is the sandbox's own (bwrap, Docker), not the
        # host's: only there do its socket counts change with the jobs alone
        # (see _network_state).
        self.private_network = bool(config.get("private_network"))
        self.shm_mb = int(config.get("shm_size_mb") or DEFAULT_SHM_MB)
        self.env = dict(config.get("env") or {})
        self.libc = _libc()
        _prctl(self.libc, PR_SET_CHILD_SUBREAPER, 1)  # orphans of jobs become our children
        # Programs run with our uid in bwrap and docker: without this they could reopen our
        # protocol pipes through /proc/<worker>/fd and forge results, or read our memory.
        _prctl(self.libc, PR_SET_DUMPABLE, 0)
        sys.dont_write_bytecode = True
        for entry in config.get("sys_path") or []:
            if entry not in sys.path:
                sys.path.append(entry)
        self.path_fds = self._open_inaccessible_paths() if self.uid is not None else {}
        self._import_through_fds()
        self.rebinds = self._paths_under_private_tmpfs() if self.ns else []
        for name in config.get("preload", PRELOAD):
            with contextlib.suppress(ImportError):
                __import__(name)
        _warm_up()
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.proc_self = int(os.readlink("/proc/self"))
        # The forker's side: the jobs' pid namespace and its init (namespaces isolation).
        self.init_pid: int | None = None
        self.init_pipes: tuple[int, int] = (-1, -1)
        self.fresh_pid_ns = True  # our children still go to our own pid namespace
        self.job_proc_mounted = False
        self.ipc_used = True  # the forker's IPC namespace is not fresh
        self.wiped: list[str] = []  # the forker's private tmpfs
        self.no_capabilities: tuple[Any, Any] | None = None
        self.kept: set[str] = set()  # paths bound in there
        self.health = self._health_facts()
        # Children inherit everything loaded so far; keep their garbage collector off these
        # objects, or its first pass copies most of the inherited heap (copy-on-write).
        import gc

        gc.collect()
        gc.freeze()
        self.forker_pid: int | None = None
        self.forker_sock: socket.socket | None = None
        self.forker_problem: str | None = None
        self._proc_pids: dict[int, int] = {}
        self._start_forker()

    @property
    def isolation(self) -> str:
        if self.ns is not None:
            return "namespaces"
        return "uid" if self.uid is not None else "none"

    def close(self) -> None:
        if self.forker_sock is not None:
            self.forker_sock.close()  # the forker exits at EOF
            self.forker_sock = None
        if self.forker_pid is not None:
            give_up = time.monotonic() + CLEANUP_BUDGET_S
            while time.monotonic() < give_up:
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(self.forker_pid, os.WNOHANG)[0] == 0:
                        time.sleep(0.005)
                        continue
                break
            else:
                with contextlib.suppress(OSError):
                    os.kill(self.forker_pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self.forker_pid, 0)
            self.forker_pid = None
        shutil.rmtree(self.tmp_base, ignore_errors=True)

    # Children of a dropped uid cannot traverse e.g. /root/.pyenv (mode 700 /root), where the
    # interpreter's standard library may live: keep directory fds open and import through
    # /proc/self/fd/N instead, which does not check the ancestors' permissions.
    def _open_inaccessible_paths(self) -> dict[str, int]:
        fds = {}
        for entry in sys.path:
            if entry and os.path.isdir(entry) and not _accessible_to_others(entry):
                fds[entry] = os.open(entry, os.O_RDONLY | os.O_DIRECTORY)
        return fds

    def _import_through_fds(self) -> None:
        """Point sys.path and package paths at the descriptors: done once, here, so that
        the import system's directory caches are filled once and inherited by every job."""
        if not self.path_fds:
            return
        prefixes = sorted(self.path_fds, key=len, reverse=True)

        def remap(path: str) -> str:
            for prefix in prefixes:
                if path == prefix or path.startswith(prefix + os.sep):
                    return f"/proc/self/fd/{self.path_fds[prefix]}" + path[len(prefix):]
            return path

        sys.path[:] = [remap(p) for p in sys.path]
        for module in list(sys.modules.values()):
            package_path = getattr(module, "__path__", None)
            if isinstance(package_path, list):
                package_path[:] = [remap(p) for p in package_path]
        sys.path_importer_cache.clear()

    def _paths_under_private_tmpfs(self) -> list[tuple[str, int]]:
        """What the interpreter needs below /tmp, /var/tmp or /dev/shm (a venv in /tmp),
        with a descriptor each: bound again into every job's fresh tmpfs."""
        wanted = {sys.prefix, sys.base_prefix, sys.exec_prefix,
                  os.path.dirname(os.path.realpath(sys.executable)), *sys.path}
        found: list[str] = []
        for path in sorted(os.path.realpath(p) for p in wanted if p and os.path.isdir(p)):
            inside = any(path.startswith(base + "/") for base in PRIVATE_TMPFS)
            if inside and not any(path == f or path.startswith(f + "/") for f in found):
                found.append(path)
        return [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in found]

    # ------------------------------------------------------------------ health

    def _health_facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"rlimits": _all_rlimits(), "euid": os.geteuid(),
                                 "priority": os.getpriority(os.PRIO_PROCESS, 0)}
        if self.pool_fd is not None:
            info = os.fstat(self.pool_fd)
            facts["pool_fd"] = (info.st_dev, info.st_ino)
        return facts

    def _own_state_changed(self) -> str | None:
        now = _all_rlimits()
        changed = sorted(name for name, value in now.items()
                         if self.health["rlimits"].get(name) != value)
        if changed:
            return f"its rlimits changed ({', '.join(changed)})"
        if os.getpriority(os.PRIO_PROCESS, 0) != self.health["priority"]:
            return "its priority changed"
        return None

    def unhealthy(self) -> str | None:
        """Why this worker should not run another job (a job tampered with it), or None."""
        if self.forker_problem:
            return self.forker_problem
        problem = self._own_state_changed()
        if problem:
            return problem
        try:
            info = os.lstat(self.tmp_base)
        except OSError:
            return f"its folder {self.tmp_base} is gone"
        if not stat.S_ISDIR(info.st_mode) or stat.S_IMODE(info.st_mode) != 0o711:
            return f"its folder {self.tmp_base} has mode {oct(stat.S_IMODE(info.st_mode))}"
        if info.st_uid != self.health["euid"]:
            return f"its folder {self.tmp_base} changed owner"
        if self.pool_fd is not None:
            try:
                sock = os.fstat(self.pool_fd)
            except OSError:
                return "its protocol socket is closed"
            if (not stat.S_ISSOCK(sock.st_mode)
                    or (sock.st_dev, sock.st_ino) != self.health["pool_fd"]):
                return "its protocol descriptor was replaced"
        return None

    # ------------------------------------------------------------------ one job (worker side)

    def run_job(self, job: dict[str, Any]) -> dict[str, Any]:
        limits = job["limits"]
        timeout = float(limits["timeout_s"])
        cap = int(limits.get("max_output_bytes", 16384))
        calls = job.get("calls")
        result_cap = int(limits.get("max_result_bytes") or DEFAULT_MAX_RESULT)
        if self.forker_sock is None:
            return self._fault(job, "sandbox: the worker cannot start jobs any more")
        workdir = None  # namespaces: made by the child in its own /tmp
        if self.ns is None:
            workdir = tempfile.mkdtemp(prefix="job-", dir=self.tmp_base)
            if self.uid is not None:
                os.chown(workdir, self.uid, self.uid)
        data = self._job_data(job["program"], calls)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        with contextlib.suppress(OSError):  # fewer, larger reads of a large report
            fcntl.fcntl(res_r, getattr(fcntl, "F_SETPIPE_SZ", 1031), REPORT_PIPE_BYTES)
        nonce_r, nonce_w = os.pipe()
        command = {"limits": limits, "libraries": job.get("libraries"), "workdir": workdir,
                   "result_cap": result_cap}
        # (With namespaces the forker cleans up, once the job's processes are all gone.)
        shared_before = self._shared_dirs_state() if self.ns is None else {}
        # SIGTERM waits until the job is supervised (which then stops it properly).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            socket.send_fds(self.forker_sock, [json.dumps(command).encode("ascii")],
                            [out_w, err_w, res_w, nonce_r, data])
            reply = self._from_forker(time.monotonic() + CLEANUP_BUDGET_S, with_fd=True)
        except (OSError, ValueError) as exc:
            reply = None
            self.forker_problem = f"its forker is gone ({exc})"
        finally:
            for fd in (out_w, err_w, res_w, nonce_r, data):
                os.close(fd)
        if reply is None or "pid" not in reply:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            for fd in (out_r, err_r, res_r, nonce_w):
                os.close(fd)
            if workdir is not None:
                self._empty_tmp_base()
            if self.forker_problem:
                self._lose_forker()
            detail = (reply or {}).get("error") or "the job's process could not be started"
            return self._fault(job, f"sandbox: {detail}")
        started = time.monotonic()  # (the forker may have been busy with the last job)
        pidfd = reply.get("pidfd")
        # The pid the program sees (in its own pid namespace), for its report: read before
        # the nonce is written (a job that completes waits for it, so it is still there),
        # else a fast job may be gone and reaped, and its report refused for want of its pid.
        numbers = _pidfd_numbers(pidfd) if pidfd is not None else None
        own_pid = numbers[1] if numbers else int(reply["pid"])
        # Made only now, so that no copy of it exists in the job's process until it asks.
        nonce = secrets.token_hex(16)
        with contextlib.suppress(BrokenPipeError):  # the job died early: judged below
            os.write(nonce_w, nonce.encode("ascii"))
        os.close(nonce_w)
        report_cap = REPORT_ROOM + (result_cap if calls is not None else 0)
        streams = {out_r: Capped(cap), err_r: Capped(cap),
                   res_r: Capped(report_cap, REPORT_PIPE_BYTES)}
        run = _Run(int(reply["pid"]), pidfd, numbers[0] if numbers else None, started,
                   timeout, limits)
        run.init_pid = reply.get("init")
        try:
            self._supervise(run, streams)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
            if pidfd is not None:
                os.close(pidfd)
            for fd, capped in streams.items():
                self._drain(fd, capped)
                os.close(fd)
            if self.forker_problem:
                self._lose_forker()
            if workdir is not None:
                self._empty_tmp_base()
            self._clean_shared_dirs(shared_before)
        status, detail, calls_text = self._classify(run, nonce, own_pid, streams[res_r],
                                                    calls is not None, result_cap)
        result: dict[str, Any] = {
            "seq": job.get("seq"),
            "status": status,
            "detail": _clean_text(detail),
            "duration_s": run.ended - started,
            "stdout": streams[out_r].text(),
            "stderr": streams[err_r].text(),
            "cpu_s": round(run.cpu_s, 6),
            "starved": run.starved,
        }
        if calls_text is not None:
            result["calls"] = calls_text
        problem = self.unhealthy() or run.problem
        if problem:
            result["unhealthy"] = problem
        return result

    def _lose_forker(self) -> None:
        """The forker is gone or stuck: kill it and everything of the job, then give up."""
        problem = self.forker_problem or "its forker is gone"
        if self.forker_sock is not None:
            self.forker_sock.close()
            self.forker_sock = None
        if self.forker_pid is not None:
            with contextlib.suppress(OSError):
                os.kill(self.forker_pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.forker_pid, 0)
            self.forker_pid = None
        # The job's processes: orphans now, so ours (we are a subreaper).
        for _ in range(3):
            self._kill_all_descendants()
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0] != 0:
                    pass
        raise ForkerLost(problem)

    def _fault(self, job: dict[str, Any], detail: str) -> dict[str, Any]:
        return {"seq": job.get("seq"), "status": "error", "detail": detail, "cpu_s": 0.0,
                "starved": False, "unhealthy": self.forker_problem or detail}

    def _job_data(self, program: str, calls: dict[str, Any] | None) -> int:
        """The program and inputs, in a memfd for the job's process (the forker passes the
        descriptor on without reading it)."""
        payload = json.dumps({"program": program, "calls": calls}).encode("ascii")
        try:
            fd = os.memfd_create("harness-job", os.MFD_CLOEXEC)
        except (AttributeError, OSError):
            fd = os.open(self.tmp_base, os.O_TMPFILE | os.O_RDWR | os.O_CLOEXEC, 0o600)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
        return fd

    def _from_forker(self, give_up: float, with_fd: bool = False) -> dict[str, Any] | None:
        """The forker's next message (with the descriptor it sent); None if it is gone."""
        assert self.forker_sock is not None
        remaining = give_up - time.monotonic()
        if remaining <= 0 or not select.select([self.forker_sock], [], [], remaining)[0]:
            self.forker_problem = "its forker stopped answering"
            return None
        message, fds, _, _ = socket.recv_fds(self.forker_sock, 65536, 1)
        if not message:
            self.forker_problem = "its forker is gone"
            return None
        answer = json.loads(message)
        if with_fd:
            answer["pidfd"] = fds[0] if fds else None
        else:
            for fd in fds:
                os.close(fd)
        return dict(answer)

    def _supervise(self, run: _Run, streams: dict[int, Capped]) -> None:
        """Collect the job's output until the forker says it ended and its processes are
        gone; stop it at the deadline, over the memory cap, or when the pool goes."""
        assert self.forker_sock is not None
        poller = select.poll()
        for fd in streams:
            poller.register(fd, select.POLLIN)
        if run.pidfd is not None:
            poller.register(run.pidfd, select.POLLIN)
        poller.register(self.forker_sock, select.POLLIN)
        if self.pool_fd is not None:
            # The pool sends nothing while a job runs: input now means it is gone (EOF).
            poller.register(self.pool_fd, select.POLLIN)
        final: dict[str, Any] | None = None
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        while final is None and not self.forker_problem:
            try:
                final = self._watch(run, streams, poller)
            except WorkerStop:  # stop the job as if the pool had gone, then exit
                self.pool_gone = True
        if run.pidfd is None or run.ended == run.started:
            run.ended = time.monotonic()
        if final is None:
            run.wait_status = signal.SIGKILL  # as if killed: the forker is gone
            if run.stopped is None:
                run.stopped = "lost"
            return
        run.wait_status = int(final["status"])
        run.cpu_s = max(run.cpu_s, float(final["cpu_s"]))
        if final.get("tampered"):
            run.problem = f"its forker was tampered with ({final['tampered']})"

    def _watch(self, run: _Run, streams: dict[int, Capped],
               poller: select.poll) -> dict[str, Any] | None:
        """One round of supervision; the forker's last message once the job is over."""
        assert self.forker_sock is not None
        now = time.monotonic()
        if run.stopped is None:
            if self.pool_gone:
                self._stop(run, "pool")
            elif now >= run.started + run.timeout:
                self._stop(run, "timeout")
            elif now >= run.next_check:
                run.next_check = now + MEMORY_CHECK_S
                if self._tree_memory(run) > int(run.limits["memory_mb"]) * 1024 * 1024:
                    self._stop(run, "memory")
        if run.stopped is not None:
            wake = run.started + run.timeout + CLEANUP_BUDGET_S - now
            if wake <= 0:
                self.forker_problem = "its forker did not end a stopped job"
                return None
        else:
            wake = min(run.started + run.timeout, run.next_check) - now
        final = None
        for fd, _ in poller.poll(max(wake, 0) * 1000):
            if fd == run.pidfd:
                run.ended = time.monotonic()
                poller.unregister(fd)
            elif fd == self.forker_sock.fileno():
                final = self._from_forker(time.monotonic() + 1)
                if final is None:
                    return None
            elif fd == self.pool_fd:
                self.pool_gone = True
                poller.unregister(fd)
            else:
                data = os.read(fd, streams[fd].chunk)
                if data:
                    streams[fd].add(data)
                else:
                    poller.unregister(fd)
        return final

    def _proc_pid(self, pid: int) -> int:
        """``pid`` (of our pid namespace) as a pid of our /proc, which may show another."""
        known = self._proc_pids.get(pid)
        if known is None:
            known = pid
            with contextlib.suppress(OSError):
                pidfd = os.pidfd_open(pid)
                numbers = _pidfd_numbers(pidfd)
                os.close(pidfd)
                known = numbers[0] if numbers else pid
            self._proc_pids[pid] = known
        return known

    def _job_processes(self, run: _Run) -> list[int]:
        """The job's processes, as pids of our /proc: whatever the forker has below it (the
        job's process, its descendants and orphans), but the jobs' pid namespace's init."""
        assert self.forker_pid is not None
        found = _descendants(self._proc_pid(self.forker_pid))
        if run.init_pid is not None:
            init = self._proc_pid(int(run.init_pid))
            found = [pid for pid in found if pid != init]
        return found

    def _tree_memory(self, run: _Run) -> int:
        """Memory of the job's processes: resident sizes, and where their sum is over the
        cap, proportional sizes (pages shared with us or each other counted once); and
        what they hold in memfds."""
        try:
            pids = self._job_processes(run)
        except OSError:
            return 0
        held = _memfd_bytes(pids)
        total = held
        for pid in pids:
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += _resident_bytes(pid)
        if total <= int(run.limits["memory_mb"]) * 1024 * 1024 or len(pids) < 2:
            return total
        total = held
        for pid in pids:
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += _proportional_bytes(pid)
        return total

    def _stop(self, run: _Run, why: str) -> None:
        """Stop the job before its end (timeout, memory, pool gone): kill its process (or,
        with namespaces, its whole pid namespace at once); the forker reaps and cleans up.
        On a timeout first find out whether it was starved of CPU (module docstring)."""
        run.stopped = why
        if why == "timeout":
            cpu, waited = 0.0, 0.0
            with contextlib.suppress(OSError):
                for pid in self._job_processes(run):
                    with contextlib.suppress(OSError, ValueError, IndexError):
                        cpu += _cpu_seconds(pid)
                        waited = max(waited, _run_delay(pid))
            run.cpu_s = cpu
            run.starved = (waited >= STARVED_SHARE * run.timeout
                           and cpu < STARVED_CPU_SHARE * run.timeout)
        if self.ns is not None and run.init_pid is not None:
            with contextlib.suppress(OSError):
                os.kill(int(run.init_pid), signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.killpg(run.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(run.pid, signal.SIGKILL)

    @staticmethod
    def _drain(fd: int, capped: Capped) -> None:
        """Read what is left in a pipe whose writers are all dead."""
        os.set_blocking(fd, False)
        while True:
            try:
                data = os.read(fd, capped.chunk)
            except BlockingIOError:
                return
            if not data:
                return
            capped.add(data)

    def _empty_tmp_base(self) -> None:
        """Remove the job's folder and anything else a job left next to it (where jobs
        share our uid they can write there)."""
        with contextlib.suppress(OSError), os.scandir(self.tmp_base) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.is_dir(follow_symlinks=False):
                        _remove_tree(entry.path)
                    else:
                        os.unlink(entry.path)

    def _shared_dirs_state(self) -> dict[str, int]:
        state = {}
        for base in SHARED_WRITABLE_DIRS:
            if self.ns is not None and base in PRIVATE_TMPFS:
                continue  # the job had its own
            with contextlib.suppress(OSError):
                state[base] = os.stat(base).st_mtime_ns
        return state

    def _clean_shared_dirs(self, before: dict[str, int]) -> None:
        """Delete what the job left in the world-writable directories: everything in our
        private ones (pid namespace backends: a later job must not find it), else what the
        job's dedicated uid owns there (local as root: the host's own files stay)."""
        if not self.pid_namespace and self.uid is None:
            return  # no way to tell the job's files from the user's
        after = self._shared_dirs_state()
        for base in before:
            if before.get(base) == after.get(base):
                continue  # nothing was added or removed there
            try:
                entries = os.scandir(base)
            except OSError:
                continue
            with entries:
                for entry in entries:
                    try:
                        if entry.path == self.tmp_base or os.path.ismount(entry.path):
                            continue  # ours, or a bind (bwrap: a sandbox venv in /tmp)
                        if (not self.pid_namespace
                                and entry.stat(follow_symlinks=False).st_uid != self.uid):
                            continue
                        if entry.is_dir(follow_symlinks=False):
                            _remove_tree(entry.path)
                        else:
                            os.unlink(entry.path)
                    except OSError:
                        pass

    # ------------------------------------------------------------------ verdict

    @staticmethod
    def _classify(run: _Run, nonce: str, own_pid: int, report_stream: Capped, call_job: bool,
                  result_cap: int) -> tuple[str, str, memoryview | None]:
        """(status, detail, the call records (ASCII) or None)."""
        limits = run.limits
        if run.stopped in ("timeout", "pool"):
            return "timeout", f"wall-clock limit of {run.timeout:g}s reached", None
        if run.stopped == "memory":
            return ("failed", f"memory limit of {int(limits['memory_mb'])} MiB exceeded "
                    "(process tree)", None)
        if run.stopped == "lost":
            return "error", "sandbox: the worker's forker was lost during the job", None
        report, calls_text = None, None
        raw = report_stream.raw()
        cut = raw.find(b"\n")
        header = raw if cut < 0 else raw[:cut]
        rest = memoryview(raw)[len(raw) if cut < 0 else cut + 1:]  # not copied: may be large
        try:
            candidate = json.loads(header.decode("ascii")) if header else None
            if (isinstance(candidate, dict) and candidate.get("nonce") == nonce
                    and candidate.get("pid") == own_pid):
                report = candidate
        # (RecursionError: the job wrote JSON nested too deep for json's own parser)
        except (ValueError, UnicodeDecodeError, RecursionError):
            report = None
        wait_status = run.wait_status
        if os.WIFSIGNALED(wait_status):
            number = os.WTERMSIG(wait_status)
            cpu_limit = int(limits.get("cpu_s", float(limits["timeout_s"]) + 2))
            if number in (signal.SIGXCPU, signal.SIGKILL) and run.cpu_s >= cpu_limit - 0.05:
                return "timeout", f"CPU time limit of {cpu_limit}s reached", None
            if number == signal.SIGXFSZ:
                return "failed", "file size limit exceeded", None
            return "failed", f"killed by {_signal_name(number)}", None
        code = os.WEXITSTATUS(wait_status)
        if report is not None and code == 0:
            status = report.get("status")
            detail = str(report.get("detail", ""))[:MAX_DETAIL]
            if call_job and status in ("passed", "timeout") and "calls" in report:
                if report_stream.dropped:
                    return "failed", f"outputs larger than {result_cap} bytes", None
                if not raw.isascii():
                    return "failed", "outputs that are not ASCII text", None
                calls_text = rest
                if len(calls_text) > result_cap:
                    return "failed", f"outputs larger than {result_cap} bytes", None
                if len(calls_text) != report["calls"]:
                    return "failed", "outputs cut short", None
            if status in ("passed", "failed", "error", "timeout"):
                return status, detail, calls_text
        if code == SETUP_FAILED_EXIT and report is None:
            return "error", "sandbox: the job's process could not be set up", None
        if report is None and raw:
            return "failed", f"exited with code {code} without a valid completion report", None
        return "failed", f"exited before the end (exit code {code})", None

    # ------------------------------------------------------------------ the forker

    def _start_forker(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        worker = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                self._forker_main(theirs, worker)
            finally:
                os._exit(1)
        theirs.close()
        self.forker_pid, self.forker_sock = pid, ours

    def _forker_main(self, sock: socket.socket, worker: int) -> None:
        """The forker's life: one job at a time, until the worker closes the socket."""
        _prctl(self.libc, PR_SET_PDEATHSIG, signal.SIGKILL)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the worker stops us (and the init)
        if os.getppid() != worker:
            os._exit(1)  # the worker is gone already
        _prctl(self.libc, PR_SET_CHILD_SUBREAPER, 1)
        keep = {0, 1, 2, sock.fileno(), self.devnull, *self.path_fds.values(),
                *(fd for _, fd in self.rebinds)}
        if self.ns is not None:
            keep.add(self.ns.own_pid_ns_fd)
        _close_all_but(keep)
        self.pool_fd = None
        self.proc_self = int(os.readlink("/proc/self"))
        # Our children as the kernel lists them, through this /proc (a job's /proc may be
        # mounted over it later): a job can make a process whose parent is us, not it
        # (clone with CLONE_PARENT), which neither its own end nor the init would show.
        self.children_dir: int | None = None
        self.proc_dir: int | None = None  # ours, for our network namespace's sockets
        with contextlib.suppress(OSError):
            self.children_dir = os.open(f"/proc/{self.proc_self}/task/{self.proc_self}",
                                        os.O_RDONLY | os.O_DIRECTORY)
        with contextlib.suppress(OSError):
            self.proc_dir = os.open(f"/proc/{self.proc_self}", os.O_RDONLY | os.O_DIRECTORY)
        self.health = self._health_facts()
        self.key_filter = _seccomp_filter()
        if self.ns is not None:
            self._private_mounts()
            # What every job's process would otherwise do for itself (a few tenths of a ms
            # each, mostly page faults): its environment, and capset's arguments.
            os.environ.clear()
            os.environ.update(self.env)
            os.environ["HOME"] = os.environ["TMPDIR"] = JOB_DIR
            self.no_capabilities = _no_capabilities()
        self.sockets = (self._network_state() if self.ns is not None and self.private_network
                        else None)
        with contextlib.suppress(OSError):
            self._prepare_namespaces()
        while True:
            try:
                message, fds, _, _ = socket.recv_fds(sock, 65536, 8)
            except OSError:
                break
            if not message:
                break
            try:
                self._fork_job(sock, json.loads(message), fds)
            except OSError:
                break  # the worker is gone
        self._stop_job_init()
        os._exit(0)

    def _fork_job(self, sock: socket.socket, command: dict[str, Any], fds: list[int]) -> None:
        """Fork one job's process, tell the worker, reap it, clean up after it. With
        namespaces the clean-up comes after the answer: the next job waits for it here."""
        try:
            self._prepare_namespaces()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"error": f"no namespaces for the job ({exc})"}).encode())
            return
        shared_before = self._shared_dirs_state() if self.ns is not None else {}
        pid = os.fork()
        if pid == 0:  # the job's process: never returns
            try:
                self._child(command, *fds)
            finally:
                os._exit(SETUP_FAILED_EXIT)
        self.ipc_used = True
        for fd in fds:
            os.close(fd)
        try:
            pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        reply = json.dumps({"pid": pid, "init": self.init_pid}).encode()
        socket.send_fds(sock, [reply], [pidfd] if pidfd is not None else [])
        if pidfd is not None:
            os.close(pidfd)
        _, status, usage = os.wait4(pid, 0)
        if self.ns is None:
            self._kill_leftovers(pid)
        final = {"status": status, "cpu_s": usage.ru_utime + usage.ru_stime,
                 "tampered": self._own_state_changed()}
        sock.send(json.dumps(final).encode())
        if self.ns is not None:
            if self._other_children() or self._job_init_state() != "clean":
                self._stop_job_init()  # and with it whatever the job left running
            if self.sockets is not None and self._network_state() != self.sockets:
                self._fresh_network()
            self._wipe_private_mounts()
            self._clean_shared_dirs(shared_before)
            with contextlib.suppress(OSError):  # ready for the next job
                self._prepare_namespaces()

    def _prepare_namespaces(self) -> None:
        """The jobs' pid namespace (with its init), and a fresh IPC namespace that only the
        next job's process will use."""
        if self.ns is None:
            return
        self.ensure_job_init()
        if self.ipc_used:
            _check(self.libc, self.libc.unshare(CLONE_NEWIPC), "unshare")
            self.ipc_used = False

    # ------------------------------------------------------------------ jobs' pid namespace

    def _init_alive(self) -> bool:
        if self.init_pid is None:
            return False
        try:
            pid, _ = os.waitpid(self.init_pid, os.WNOHANG)
        except ChildProcessError:
            pid = self.init_pid
        if pid == 0:
            return True
        self._forget_init()
        return False

    def _forget_init(self) -> None:
        for fd in self.init_pipes:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.init_pid = None
        self.init_pipes = (-1, -1)

    def _stop_job_init(self) -> None:
        """Kill the jobs' pid namespace: its init, and with it everything in there. The
        init's exit waits until every process of the namespace was reaped, those whose
        parent is us too (``_other_children``): we reap whatever ends until the init has."""
        if self.init_pid is None:
            return
        with contextlib.suppress(OSError):
            os.kill(self.init_pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, 0)[0] != self.init_pid:
                pass
        self._forget_init()

    def _network_state(self) -> tuple[int, ...] | None:
        """How many sockets our (the jobs') network namespace holds, by kind and state
        (``NET_COUNTS``); None where it cannot be read. A job's sockets can outlive it:
        sent in a message over a unix socket and closed, they stay "in flight" until the
        kernel collects the cycle (a TCP listener and a connection with queued data stayed
        for later jobs to find, and the port taken from a correct program), and a closed
        connection waits in TIME_WAIT."""
        if self.proc_dir is None:
            return None
        try:
            words = b" ".join(_read_all(f"net/{name}", self.proc_dir) for name in NET_COUNTS)
            fields = words.split()
            return tuple(int(value) for key, value in itertools.pairwise(fields)
                         if key in NET_COUNTED)
        except (OSError, ValueError):
            return None

    def _fresh_network(self) -> None:
        """A new network namespace for the next jobs, with its loopback up; the old one goes
        with whatever a job left there. Where that fails, the forker ends: its worker is
        replaced (by a fresh sandbox, with a fresh network)."""
        try:
            _check(self.libc, self.libc.unshare(CLONE_NEWNET), "unshare")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                request = struct.pack("16sh", b"lo", 0)
                flags = struct.unpack("16sh", fcntl.ioctl(probe, SIOCGIFFLAGS, request))[1]
                fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))
        except OSError:
            os._exit(1)
        self.sockets = self._network_state()

    def _other_children(self) -> bool:
        """Whether, between jobs, we have a child besides the init: a process a job made
        with us as its parent, which lives on in the jobs' pid namespace. (Where the kernel
        does not list children, every namespace is taken as left with one.)"""
        if self.children_dir is None:
            return True
        try:
            listed = _read_all("children", self.children_dir).split()
        except OSError:
            return True
        return len(listed) > (1 if self.init_pid is not None else 0)

    def ensure_job_init(self) -> None:
        """A live init for the jobs' pid namespace, made anew when needed."""
        if self.ns is None or self._init_alive():
            return
        if not self.fresh_pid_ns:  # our children still go to the dead namespace
            _check(self.libc, self.libc.setns(self.ns.own_pid_ns_fd, CLONE_NEWPID), "setns")
        _check(self.libc, self.libc.unshare(CLONE_NEWPID), "unshare")
        self.fresh_pid_ns = False
        command_r, command_w = os.pipe()
        answer_r, answer_w = os.pipe()
        proc = None
        if self.ns.private_proc:
            proc = "replace" if self.job_proc_mounted else "new"
        pid = os.fork()
        if pid == 0:
            _job_init(command_r, answer_w, proc)
        os.close(command_r)
        os.close(answer_w)
        self.init_pid, self.init_pipes = pid, (command_w, answer_r)
        self.job_proc_mounted = proc is not None

    def _job_init_state(self) -> str:
        """After a job: "clean" (nothing of it left), "dirty" (processes left, or the init
        was tampered with or does not answer) or "gone" (the init is dead or dying)."""
        if not self._init_alive():
            return "gone"
        command_w, answer_r = self.init_pipes
        try:
            os.write(command_w, b"?")
            if not select.select([answer_r], [], [], INIT_ANSWER_S)[0]:
                return "dirty"
            answer = os.read(answer_r, 1)
        except OSError:
            return "gone"
        if not answer:
            return "gone"
        return "clean" if answer == b"c" else "dirty"

    # ------------------------------------------------------------------ cleanup (forker)

    def _kill_leftovers(self, pid: int) -> None:
        """Kill every process the job left behind and reap them all."""
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
        give_up = time.monotonic() + CLEANUP_BUDGET_S
        while True:
            try:
                while True:  # reap what has already ended
                    reaped, _ = os.waitpid(-1, os.WNOHANG)
                    if reaped == 0:
                        break
            except ChildProcessError:
                return  # no descendants left (orphans are re-parented to us)
            if time.monotonic() > give_up:
                sys.stderr.write("worker: could not kill all leftover processes\n")
                return
            self._kill_all_descendants()
            time.sleep(0.001)

    def _kill_all_descendants(self) -> None:
        if self.uid is not None:
            # Every process of the job's dedicated uid, killed by that uid: atomic with
            # respect to fork bombs.
            helper = os.fork()
            if helper == 0:
                try:
                    os.setresgid(self.uid, self.uid, self.uid)
                    os.setresuid(self.uid, self.uid, self.uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(helper, 0)
            return
        # Our descendants (never kill(-1): it would reach the worker too). Stopped first, so
        # that none of them forks while we look for the others.
        seen: set[int] = set()
        for _ in range(100):
            fresh = set(_descendant_pids(self.proc_self)) - seen
            if not fresh:
                break
            for pid in fresh:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGSTOP)
            seen |= fresh
        for pid in seen:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    # ------------------------------------------------------------------ the job's process

    def _child(self, command: dict[str, Any], out_w: int, err_w: int, res_w: int,
               nonce_r: int, data: int) -> None:
        try:
            job = self._set_up_child(command, out_w, err_w, res_w, nonce_r, data)
            libraries = command.get("libraries")
            if libraries is not None:
                sys.meta_path.insert(0, LibraryGate(frozenset(libraries), os.getcwd()))
        except BaseException:
            import traceback

            traceback.print_exc()
            os._exit(SETUP_FAILED_EXIT)
        run_program(job["program"], res_w, nonce_r, job.get("calls"),
                    int(command["result_cap"]))

    def _set_up_child(self, command: dict[str, Any], out_w: int, err_w: int, res_w: int,
                      nonce_r: int, data: int) -> dict[str, Any]:
        """The job's process before the program: returns its program and inputs."""
        os.setsid()
        os.dup2(self.devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        _close_all_but({0, 1, 2, res_w, nonce_r, data, *self.path_fds.values(),
                        *(fd for _, fd in self.rebinds)})
        _prctl(self.libc, PR_SET_PDEATHSIG, signal.SIGKILL)
        chunks = []
        while chunk := os.read(data, 1 << 20):
            chunks.append(chunk)
        os.close(data)
        job = json.loads(b"".join(chunks))
        del chunks
        limits = command["limits"]
        memory = int(limits["memory_mb"]) * 1024 * 1024
        cpu = int(limits.get("cpu_s", int(float(limits["timeout_s"])) + 2))
        fsize = int(limits["file_size_mb"]) * 1024 * 1024
        nproc = int(limits["max_processes"])
        _set_limit(resource.RLIMIT_AS, memory)
        _set_limit(resource.RLIMIT_FSIZE, fsize)
        _set_limit(resource.RLIMIT_NPROC, nproc)
        _set_limit(resource.RLIMIT_CORE, 0)
        # (Each open socket or pipe can hold buffers outside every mapping: a usual
        # system's default number of them, not the worker's 20,000.)
        _set_limit(resource.RLIMIT_NOFILE, JOB_OPEN_FILES)
        _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
        if cpu_hard == resource.RLIM_INFINITY or cpu_hard > cpu:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        _prctl(self.libc, PR_SET_NO_NEW_PRIVS, 1)
        if self.key_filter is not None:
            _install_filter(self.libc, self.key_filter)
        if self.uid is not None:
            os.setgroups([])
            os.setresgid(self.uid, self.uid, self.uid)
            os.setresuid(self.uid, self.uid, self.uid)
        elif self.ns is not None:
            _drop_capabilities(self.libc, self.no_capabilities)
        workdir = command.get("workdir")
        if workdir is None:  # namespaces: the forker set the environment up for this one
            workdir = JOB_DIR
            try:
                os.mkdir(workdir, 0o700)
            except FileExistsError:  # the last job's could not be wiped
                workdir = tempfile.mkdtemp(prefix="job-", dir="/tmp")
        os.chdir(workdir)
        os.umask(0o077)
        _prctl(self.libc, PR_SET_DUMPABLE, 1)  # the program's own /proc/self as usual
        if os.environ.get("HOME") != workdir:
            os.environ.clear()
            os.environ.update(self.env)
            os.environ["HOME"] = workdir
            os.environ["TMPDIR"] = workdir
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1):
            signal.signal(number, signal.SIG_DFL)
        return dict(job)

    def _private_mounts(self) -> None:
        """The forker's own mount namespace, which its jobs share: private size-limited
        tmpfs on /tmp, /var/tmp and /dev/shm (wiped after every job), with what the
        interpreter needs there bound again. Programs have no capabilities: they cannot
        change any of it."""
        assert self.ns is not None
        _check(self.libc, self.libc.unshare(CLONE_NEWNS), "unshare")
        self.wiped = []
        for target in PRIVATE_TMPFS:
            if os.path.isdir(target) and not os.path.islink(target):
                size = self.shm_mb if target == "/dev/shm" else self.tmp_mb
                _mount(self.libc, "tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV,
                       f"size={size}m,mode=1777")
                self.wiped.append(target)
        for path, fd in self.rebinds:
            os.makedirs(path, exist_ok=True)
            _mount(self.libc, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            with contextlib.suppress(OSError):
                _mount(self.libc, None, path, None,
                       MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            os.close(fd)
        self.kept = {path for path, _ in self.rebinds}
        self.kept |= {parent for path in self.kept for parent in _parents_of(path)}
        self.rebinds = []

    def _wipe_private_mounts(self) -> None:
        """Everything the job left in the private tmpfs (its processes are gone)."""
        for target in self.wiped:
            with contextlib.suppress(OSError), os.scandir(target) as entries:
                for entry in entries:
                    if entry.path in self.kept:
                        continue
                    with contextlib.suppress(OSError):
                        if entry.is_dir(follow_symlinks=False):
                            _remove_tree(entry.path)
                        else:
                            os.unlink(entry.path)


class _Run:
    """One job's process while the worker supervises it."""

    def __init__(self, pid: int, pidfd: int | None, proc_pid: int | None, started: float,
                 timeout: float, limits: dict[str, Any]) -> None:
        self.pid = pid
        self.pidfd = pidfd
        self.proc_pid = proc_pid  # its pid in our /proc
        self.started = started
        self.timeout = timeout
        self.limits = limits
        self.ended = started
        self.next_check = started + MEMORY_CHECK_S
        self.stopped: str | None = None  # "timeout", "memory", "pool", "lost"
        self.wait_status = 0
        self.cpu_s = 0.0
        self.starved = False
        self.init_pid: int | None = None
        self.problem: str | None = None  # why the worker is not to be trusted after it


class LibraryGate:
    """Meta-path finder that makes installed third-party libraries outside ``allowed``
    unimportable (``ModuleNotFoundError``, as where they are not installed), for benchmarks
    whose reference evaluators ran without them. The standard library, the allowed
    libraries (with their submodules) and modules the program wrote to its own directory
    import as usual."""

    def __init__(self, allowed: frozenset[str], workdir: str) -> None:
        self.allowed = allowed
        self.workdir = os.path.realpath(workdir) + os.sep

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if (path is not None or name in self.allowed or name in sys.stdlib_module_names
                or name in sys.builtin_module_names):
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name)
        if spec is None:
            return None
        origin = spec.origin or next(iter(spec.submodule_search_locations or []), "")
        if origin and os.path.realpath(origin).startswith(self.workdir):
            return None
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)


# --------------------------------------------------------------------------- the program


def run_program(program: str, res_w: int, nonce_r: int, calls: dict[str, Any] | None = None,
                result_cap: int = DEFAULT_MAX_RESULT) -> None:
    """Run the program as ``__main__``, then (call jobs) the calls; report how it ended, with
    the nonce, then exit."""
    write, read, exit_now, getpid = os.write, os.read, os._exit, os.getpid
    dumps = json.dumps
    my_pid = getpid()
    waited = _waited_clock() if calls is not None else _no_wait
    sys.argv = ["<program>"]
    status, detail = "passed", ""
    namespace: dict[str, Any] = {}
    try:
        code = compile(program, "<program>", "exec")
        import builtins
        import linecache

        namespace.update({"__name__": "__main__", "__builtins__": builtins})
        linecache.cache["<program>"] = (len(program), None, program.splitlines(True),
                                        "<program>")
        del linecache
        exec(code, namespace)
    except SystemExit as exc:
        try:
            what = repr(exc.code)
        except BaseException:
            what = "?"
        status, detail = "failed", _clean_text(f"exited before the end (SystemExit: {what})")
    except BaseException as exc:  # whatever the program raises is its verdict
        failed = isinstance(exc, AssertionError)
        status, detail = ("failed" if failed else "error"), _exception_line(exc)
        try:
            import traceback

            # The program's own frames only (like `python program.py` would print).
            tb = exc.__traceback__
            traceback.print_exception(type(exc), exc, tb.tb_next if tb else None)
        except BaseException:
            pass

    def finish(status: str, detail: str, records: list[str] | None) -> None:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:  # noqa: SIM105 - not contextlib: the program may have tampered with it
                stream.flush()  # type: ignore[union-attr]
            except BaseException:  # the program may have replaced or closed it
                pass
        if getpid() != my_pid:
            exit_now(1)  # a forked copy of the program reached the end: not the job's process
        try:
            nonce = read(nonce_r, 64).decode("ascii", "replace")
            # The records are not joined: one output can be a hundred megabytes.
            parts = [] if records is None else [b"\n"] * (2 * len(records) - 1)
            if records is not None:
                parts[::2] = [line.encode("ascii") for line in records]
            header = {"nonce": nonce, "pid": my_pid, "status": status, "detail": detail}
            if records is not None:
                header["calls"] = sum(map(len, parts))
            write_all(res_w, [dumps(header, ensure_ascii=True).encode("ascii") + b"\n",
                              *_batched(parts)], write)
        except BaseException:  # the program closed or replaced our pipes
            exit_now(1)
        exit_now(0)

    records = None
    if status == "passed" and calls is not None:
        status, detail, records = _drive_calls(namespace, calls, result_cap, finish, waited)
    finish(status, detail, records)


def _no_wait() -> float:
    return 0.0


def _waited_clock() -> Any:
    """A clock of the seconds this process has spent runnable but waiting for a CPU (the
    machine's load), or one that stays at 0 where the kernel does not say."""
    pread = os.pread
    try:
        fd = os.open("/proc/self/schedstat", os.O_RDONLY | os.O_CLOEXEC)
        int(pread(fd, 64, 0).split()[1])
    except (OSError, ValueError, IndexError):
        return _no_wait

    def waited() -> float:
        try:
            return int(pread(fd, 64, 0).split()[1]) / 1e9
        except (OSError, ValueError, IndexError):  # the program closed it: no allowance
            return 0.0

    return waited


def _batched(parts: list[bytes]) -> list[bytes]:
    """``parts`` with the runs of small ones joined: one write for many short records."""
    batches: list[bytes] = []
    run: list[bytes] = []
    for part in parts:
        if len(part) >= READ_CHUNK:
            if run:
                batches.append(b"".join(run))
                run = []
            batches.append(part)
        else:
            run.append(part)
    if run:
        batches.append(b"".join(run))
    return batches


def _call_report(lines: list[str], times: list[str]) -> list[str]:
    """The call records as the report's lines: first the calls' times (a JSON list of
    [cpu_s, wall_s]), then one line per call. The outputs' lines come apart from the times,
    so that trusted code can find a whole run of outputs identical to the reference's by
    comparing one text."""
    return ["[" + ",".join(times) + "]", *lines]


def _drive_calls(namespace: dict[str, Any], calls: dict[str, Any], result_cap: int,
                 finish: Any, waited: Any = _no_wait) -> tuple[str, str, list[str] | None]:
    """Call the functions the job names and encode what they return (see the docstring).
    Each call's record holds its CPU seconds and its wall-clock seconds less those it
    spent waiting for a CPU (``waited``): what a call sleeping, or waiting for a child
    process that works for it, takes, and not what the machine's load adds."""
    process_time, perf_counter, dumps = time.process_time, time.perf_counter, json.dumps
    setitimer, prof = signal.setitimer, signal.ITIMER_PROF
    try:
        entries = wire_load(calls["inputs"])
        if type(entries) is not list or not all(
                type(e) is list and len(e) == 3 and type(e[0]) is str for e in entries):
            raise ValueError("not a list of [name, args, kwargs]")
        cpu_limits = calls.get("cpu_limits")
        if cpu_limits is not None and len(cpu_limits) != len(entries):
            raise ValueError("one CPU limit per call is needed")
    except (ValueError, TypeError, KeyError) as exc:
        return "error", f"sandbox: the call inputs do not decode ({exc})", None
    records: list[str] = []
    times: list[str] = []
    # [index, limit, cpu, wall and waited seconds at its start] during a call
    current: list[Any] = []

    digest_above = calls.get("digest_above")
    if type(digest_above) is not int:
        digest_above = None

    def record(kind: str, value: str, cpu: float, wall: float, digest: str | None = None
               ) -> str:
        times.append(f"[{round(cpu, 6)!r},{round(wall, 6)!r}]")
        return f"{kind} {digest or '-'} {value}"

    def over_limit(signum: int, frame: Any) -> None:
        if not current:
            return
        index, limit, cpu0, wall0, waited0 = current
        current.clear()
        what = f"CPU limit of {limit:g}s reached"
        timed_out = record("timeout", dumps(what), process_time() - cpu0,
                           perf_counter() - wall0 - (waited() - waited0))
        finish("timeout", f"input {index}: {what}", _call_report([*records, timed_out], times))

    if cpu_limits is not None:
        signal.signal(signal.SIGPROF, over_limit)
    size = 2
    waited0 = waited()  # (each call's end is the next one's start)
    for index, (name, raw_args, raw_kwargs) in enumerate(entries):
        try:  # a fresh copy for every call: what one call mutates, the next never sees
            args, kwargs = wire_value(raw_args), wire_value(raw_kwargs)
            if type(args) is not list or type(kwargs) is not dict:
                raise ValueError("args must be a list, kwargs a dict")
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            return "error", f"sandbox: the inputs of call {index} do not decode ({exc})", None
        function = namespace.get(name)
        if not callable(function):
            records.append(record("missing", dumps(f"no function named {name}"), 0.0, 0.0))
            break
        limit = float(cpu_limits[index]) if cpu_limits is not None else None
        cpu0, wall0 = process_time(), perf_counter()
        current[:] = [index, limit, cpu0, wall0, waited0]
        raised = None
        try:
            if limit is not None:
                setitimer(prof, max(limit, 0.001))
            output = function(*args, **kwargs)
        except BaseException as exc:  # the call's own outcome, whatever it is
            raised = exc
        finally:
            if limit is not None:
                setitimer(prof, 0)
            current.clear()
        cpu, wall = process_time() - cpu0, perf_counter() - wall0
        waited1 = waited()
        wall, waited0 = max(wall - (waited1 - waited0), 0.0), waited1
        if raised is not None:
            records.append(record("raised", dumps(_exception_line(raised)), cpu, wall))
            break
        try:
            text, digest = wire_digested(output, digest_above)
        except Unencodable as exc:
            records.append(record("bad", dumps(_clean_text(str(exc))), cpu, wall))
            break
        records.append(record("ok", text, cpu, wall, digest))
        size += len(records[-1]) + len(times[-1]) + 2
        if size > result_cap:
            break  # over the cap: the worker says so
    return "passed", "", _call_report(records, times)


# --------------------------------------------------------------------------- main


def connect_to_pool(argv: list[str]) -> int:
    """The protocol descriptor: ``--fd N`` (inherited socket), ``--connect PATH`` (Unix
    socket to connect to) or, for manual use, stdin/stdout (``--stdio``)."""
    if len(argv) == 2 and argv[0] == "--fd":
        return int(argv[1])
    if len(argv) == 2 and argv[0] == "--connect":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(argv[1])
        return sock.detach()
    if argv == ["--stdio"]:
        return -1
    sys.exit("usage: worker.py --fd N | --connect PATH | --stdio")


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise WorkerStop


def main() -> None:
    channel = connect_to_pool(sys.argv[1:])
    if channel >= 0:
        proto_in = proto_out = channel
    else:
        proto_in, proto_out = os.dup(0), os.dup(1)
    # Stray writes to fd 1 go nowhere; the protocol has its own descriptor.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    script_dir = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != script_dir]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool decides when we stop (EOF)
    config = read_frame(proto_in)
    if config is None:
        return
    namespaces = None
    if config.get("namespaces", True):
        namespaces = enter_namespaces(sorted({proto_in, proto_out}))
    # The pool's death signal (passed on by the waiter): stop the job's processes, then exit.
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    worker: Worker | None = None
    try:
        worker = Worker(config, pool_fd=proto_in, namespaces=namespaces)
        ready = {
            "ready": True,
            "pid": os.getpid(),
            "uid": os.getuid(),
            "python": sys.version.split()[0],
            "drops_to": worker.uid,
            "tmp_base": worker.tmp_base,
            "isolation": worker.isolation,
            "private_proc": bool(namespaces and namespaces.private_proc),
            "userns_blocked": bool(namespaces and namespaces.userns_blocked),
        }
        write_frame(proto_out, ready)
        while True:
            job = read_frame(proto_in)
            if job is None:
                return
            result = worker.run_job(job)
            if worker.pool_gone:
                return  # nobody is listening any more: do not start another job
            records = result.pop("calls", None)
            if records is not None:
                result["attached"] = len(records)
            write_frame(proto_out, result, records or b"")
    except WorkerStop:
        return
    except ForkerLost as exc:
        # No answer: to the pool this worker died during the job, which is what it did.
        sys.stderr.write(f"worker: {exc} (killed by a job?)\n")
        return
    finally:
        if worker is not None:
            worker.close()


if __name__ == "__main__":
    main()
