"""The Docker backend for real: container flags, identity, and no container left behind after
close, Ctrl-C, SIGTERM or SIGKILL of the harness (dockerd and the image are set up by the
test itself when missing, as in CI)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from harness.sandbox import ExecJob, Limits

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(scope="module")
def image() -> str:
    from harness.sandbox.image import ensure_dockerd, ensure_image

    ensure_dockerd()
    return ensure_image(offline=True)


def containers(label: str) -> list[str]:
    listed = subprocess.run(["docker", "ps", "-aq", "--filter", f"label={label}"],
                            capture_output=True, text=True, check=True)
    return listed.stdout.split()


def wait_until_gone(label: str, within_s: float) -> list[str]:
    deadline = time.monotonic() + within_s
    while (left := containers(label)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


@pytest.fixture(scope="module")
def sandbox(image) -> Iterator:
    from harness.sandbox.docker import DockerSandbox

    with DockerSandbox(workers=2) as opened:
        yield opened
    assert wait_until_gone(f"harness.run={opened.run_id}", 10) == []


def test_containers_are_locked_down(sandbox, image):
    ids = containers(f"harness.run={sandbox.run_id}")
    assert len(ids) == 2
    inspected = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True,
                                          text=True, check=True).stdout)
    for container in inspected:
        host = container["HostConfig"]
        assert container["Image"] == image
        assert host["NetworkMode"] == "none"
        assert host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"]
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["Memory"] > 0 and host["PidsLimit"] > 0
        assert "/tmp" in host["Tmpfs"]
        assert container["Config"]["User"].split(":")[0] != "0"


def test_identity_includes_the_image_id(sandbox, image):
    assert image in sandbox.identity()
    assert sandbox.identity().startswith("docker:")


def test_programs_run_in_the_image_without_network(sandbox):
    jobs = [
        ExecJob("ok", "import sys\nprint(sys.version_info[:2])\nassert True", Limits()),
        ExecJob("numpy", "import numpy\nassert numpy.arange(3).sum() == 3", Limits()),
        ExecJob("net", "import socket\nsocket.create_connection(('127.0.0.1', 22), 1)",
                Limits()),
        ExecJob("uid", "import os\nassert os.getuid() != 0 and os.geteuid() != 0", Limits()),
    ]
    outcomes = {job.job_id: outcome for job, outcome in sandbox.run(jobs)}
    assert outcomes["ok"].passed and outcomes["ok"].stdout.strip() == "(3, 11)"
    assert outcomes["numpy"].passed, outcomes["numpy"]
    assert outcomes["net"].status.value == "error"
    assert outcomes["uid"].passed


def test_stale_containers_of_dead_runs_are_removed(image):
    from harness.sandbox.docker import LABEL_OWNER, DockerSandbox, owner_tag
    from harness.sandbox.image import python_in_image

    dead_owner = owner_tag().split(":")[0] + ":999999999:0"  # no such process
    subprocess.run(["docker", "run", "-d", "--network", "none", "--label",
                    f"{LABEL_OWNER}={dead_owner}", image, python_in_image(), "-c",
                    "import time; time.sleep(600)"], check=True, capture_output=True)
    assert containers(f"{LABEL_OWNER}={dead_owner}")
    with DockerSandbox(workers=1):
        assert containers(f"{LABEL_OWNER}={dead_owner}") == []


HARNESS = textwrap.dedent("""
    import sys
    from harness.sandbox import ExecJob, Limits
    from harness.sandbox.docker import DockerSandbox
    with DockerSandbox(workers=2) as sandbox:
        print(sandbox.run_id, flush=True)
        job = ExecJob("spin", "while True: pass", Limits(timeout_s=300))
        for _ in sandbox.run([job, job]):
            pass
""")


def start_harness() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-c", HARNESS], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id, proc.stderr.read() if proc.stderr else ""
    label = f"harness.run={run_id}"
    assert len(containers(label)) == 2
    time.sleep(1.0)  # the jobs are running
    return proc, label


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "sigkill"])
def test_no_container_survives_the_harness(image, how):
    proc, label = start_harness()
    if how == "ctrl-c":  # what a terminal does: SIGINT to the foreground process group
        os.killpg(proc.pid, signal.SIGINT)
    elif how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    else:  # nothing runs in the harness any more: the workers see EOF and exit
        proc.kill()
    proc.wait(timeout=60)
    assert wait_until_gone(label, 30) == [], f"containers left after {how}"


def test_the_worker_socket_is_private(image):
    import stat

    from harness.sandbox.docker import DockerSandbox

    sandbox = DockerSandbox(workers=1)
    sandbox.resolve_image()
    launch = sandbox.launch(0)
    try:
        assert launch.socket_path is not None and launch.secret and launch.verify_peer
        socket_dir = os.path.dirname(launch.socket_path)
        private = os.path.dirname(socket_dir)
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o700
        assert os.stat(private).st_uid == os.geteuid()
        assert not launch.socket_mode & 0o007  # nothing for others
        assert stat.S_IMODE(os.stat(socket_dir).st_mode) & 0o007 == 0
        assert launch.secret not in " ".join(launch.argv)  # given on stdin, never in argv
        assert "--cidfile" in launch.argv and "-i" in launch.argv
    finally:
        sandbox.cleanup()
    assert not os.path.exists(private)


def test_an_impostor_cannot_answer_for_a_container(image, caplog):
    """A process of this host (say, a program of a concurrent `--sandbox local` run) that
    knows the socket and even the secret is refused; the container's worker gets in."""
    import logging
    import socket
    import struct
    import threading

    from harness.sandbox.docker import DockerSandbox

    sandbox = DockerSandbox(workers=1)
    launches = []
    real_launch = sandbox.launch
    sandbox.launch = lambda slot: launches.append(real_launch(slot)) or launches[-1]
    answers: list[bytes] = []

    def impostor() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
                launches and os.path.exists(launches[0].socket_path)):
            time.sleep(0.002)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            while True:
                try:
                    client.connect(launches[0].socket_path)
                    break
                except ConnectionRefusedError:  # bound, not listening yet
                    time.sleep(0.001)
            body = json.dumps({"secret": launches[0].secret}).encode()
            client.settimeout(60)
            try:
                client.sendall(struct.pack(">I", len(body)) + body)
                answers.append(client.recv(1 << 16))
            except (ConnectionResetError, BrokenPipeError):  # refused before all was read
                answers.append(b"")

    caplog.set_level(logging.WARNING, logger="harness.sandbox.transport")
    thread = threading.Thread(target=impostor, daemon=True)
    thread.start()
    with sandbox:
        # Once connected, nothing of the worker's private folder is left on the host.
        assert not os.path.exists(os.path.dirname(os.path.dirname(launches[0].socket_path)))
        outcomes = [o for _, o in sandbox.run([ExecJob("a", "assert 1 == 2", Limits())])]
    thread.join(timeout=60)
    assert answers == [b""]
    assert "not a process in a container" in caplog.text
    assert [o.status.value for o in outcomes] == ["failed"]  # the real worker's verdict
