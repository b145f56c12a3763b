"""The stored reference runs (harness/references.py) and the transport of large results
(sandbox/transport.py): what is read back is what was written, anything damaged is ignored
(the reference then runs again), and a frame of many megabytes arrives whole, with the
frame after it."""

from __future__ import annotations

import json
import select
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from harness.references import ReferenceRun, _read, _write, expectation
from harness.sandbox import worker
from harness.sandbox.base import ExecJob, Limits
from harness.sandbox.transport import ProtocolError, WorkerProcess
from harness.tasks.judge import OutputChecker


def reference_records(count: int, size: int) -> str:
    """Call records as the worker's driver writes them (a times line, one line per call)."""
    checker = OutputChecker(dataset="humaneval", reference_code="def f(x):\n    return 'ab' * x\n",
                            entry_point="f", inputs=[[size * (i + 1)] for i in range(count)],
                            atol=0.0, strict=False)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    program, calls = checker.reference()
    exec(compile(program, "<program>", "exec"), namespace)
    status, _, lines = worker._drive_calls(
        namespace, {"inputs": calls.wire_inputs, "digest_above": checker.digest_above},
        1 << 30, None)
    assert status == "passed" and lines is not None
    return "\n".join(lines)


def test_a_stored_run_reads_back_as_it_was(tmp_path: Path) -> None:
    records = reference_records(4, 50_000)  # outputs over 64 KiB: with their digests
    run = ReferenceRun.of("passed", "", 0.25, records)
    path = tmp_path / "run.calls"
    _write(path, run)
    read = _read(path)
    assert read == run
    assert read is not None and f"{read.times}\n{read.outputs}" == records
    checker = OutputChecker(dataset="humaneval",
                            reference_code="def f(x):\n    return 'ab' * x\n", entry_point="f",
                            inputs=[[50_000 * (i + 1)] for i in range(4)], atol=0.0,
                            strict=False)
    fresh, stored = expectation(checker, run), expectation(checker, read)
    assert fresh is not None and stored is not None
    assert stored.digest == fresh.digest and stored.outputs_text == fresh.outputs_text
    assert stored.digests == fresh.digests and all(stored.digests)


@pytest.mark.parametrize("damage", ["truncated", "longer", "no header", "empty", "not json",
                                    "not passed"])
def test_a_damaged_stored_run_is_ignored(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "run.calls"
    _write(path, ReferenceRun.of("passed", "", 0.25, reference_records(3, 10)))
    data = path.read_bytes()
    header, _, rest = data.partition(b"\n")
    damaged = {
        "truncated": data[:-5],
        "longer": data + b"\nok - 1",
        "no header": rest,
        "empty": b"",
        "not json": b"{" + data,
        "not passed": json.dumps({**json.loads(header), "status": "failed"}).encode()
                      + b"\n" + rest,
    }[damage]
    path.write_bytes(damaged)
    assert _read(path) is None


def frame_reader(max_result_bytes: int) -> tuple[WorkerProcess, socket.socket]:
    """A WorkerProcess's reading end on a socket pair (no worker process behind it)."""
    ours, theirs = socket.socketpair()
    reader = object.__new__(WorkerProcess)
    reader.sock, reader.buffer, reader.filled = ours, bytearray(), 0
    reader.job = (1, ExecJob("j", "", Limits(max_result_bytes=max_result_bytes)), 0.0)
    return reader, theirs


def read_all(reader: WorkerProcess, count: int) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while len(frames) < count:
        readable, _, _ = select.select([reader.sock], [], [], 10)
        assert readable, "nothing came"
        got = reader.read_frames()
        assert got is not None, "the writer closed early"
        frames += got
    return frames


def test_a_large_result_arrives_whole_with_the_frame_after_it() -> None:
    reader, theirs = frame_reader(64 << 20)
    records = ("x" * 1000 + "\n") * 9000  # 9 MB: read in many pieces
    writer = threading.Thread(target=lambda: (
        worker.write_frame(theirs.fileno(), {"seq": 1, "attached": len(records)},
                           records.encode("ascii")),
        worker.write_frame(theirs.fileno(), {"seq": 2})))
    writer.start()
    frames = read_all(reader, 2)
    writer.join()
    assert [f["seq"] for f in frames] == [1, 2]
    assert frames[0]["calls"] == records and "calls" not in frames[1]
    assert reader.filled == 0
    theirs.close()
    assert reader.read_frames() is None  # the other end is closed


def test_a_frame_over_the_job_s_allowance_is_refused() -> None:
    reader, theirs = frame_reader(1024)  # allowance: 2 KiB + output room + 1 MiB
    size = reader.max_frame_bytes() + 1
    theirs.sendall(worker.HEADER.pack(size) + b"{")
    with pytest.raises(ProtocolError, match="a frame of"):
        read_all(reader, 1)


def test_a_frame_whose_header_comes_in_pieces_is_read_once_whole() -> None:
    reader, theirs = frame_reader(1 << 20)
    body = json.dumps({"seq": 7}).encode("ascii")
    data = worker.HEADER.pack(len(body)) + body
    for cut in (2, 3, len(data)):  # half a header, then the rest of it, then the body
        theirs.sendall(data[:cut])
        data = data[cut:]
        if data:
            assert reader.read_frames() == []
    assert read_all(reader, 1) == [{"seq": 7}]


# --------------------------------------------------------------------------- measuring


def sleepy_checker(body: str) -> OutputChecker:
    return OutputChecker(dataset="humaneval", reference_code=f"def f(x):\n{body}",
                         entry_point="f", inputs=[[1], [2]], atol=0.0, strict=False)


def test_a_reference_run_is_timed_by_its_cpu_not_the_wall_clock(tmp_path: Path) -> None:
    """Time a reference spends not running (another run's load, here a sleep) never
    stretches the limits calibrated on it."""
    from harness.references import run_references
    from harness.sandbox import open_sandbox

    checker = sleepy_checker("    import time\n    time.sleep(0.6)\n    return x\n")
    with open_sandbox("local", workers=1) as sandbox:
        found = run_references({"p": checker}, sandbox, tmp_path)
    assert found["p"] is not None
    assert found["p"].reference_s < 0.5  # slept 1.2 s


def test_a_reference_that_does_not_finish_stops_the_run(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Not a fall-back to checking inside the candidate's process: whoever can load the
    machine (or stop the sandbox) could otherwise choose the weaker check."""
    import harness.references as references
    from harness.errors import HarnessError
    from harness.sandbox import open_sandbox

    monkeypatch.setattr(references, "reference_limits", lambda: Limits(timeout_s=0.5))
    checkers = {"slow": sleepy_checker("    while True:\n        pass\n"),
                "fine": sleepy_checker("    return x\n")}
    with open_sandbox("local", workers=1) as sandbox, pytest.raises(
            HarnessError, match=r"reference solutions of 1 problems did not finish .* slow"):
        references.run_references(checkers, sandbox, tmp_path)
    assert len(list(tmp_path.glob("*.calls"))) == 1  # the finished one is kept
