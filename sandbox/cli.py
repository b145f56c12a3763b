"""`harness sandbox doctor` and `harness sandbox build [--offline]`."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
from typing import Any

from harness.errors import HarnessError


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``sandbox`` command and its subcommands."""
    parser = subparsers.add_parser(
        "sandbox",
        help="check and prepare the execution sandboxes",
        description="Check which sandbox backends work here, and build the Docker image.",
    )
    commands = parser.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
    doctor = commands.add_parser(
        "doctor",
        help="report which sandbox backends work on this machine and why not",
        description="Try every sandbox backend (local, bwrap, docker) with a trivial "
        "program and report which work here, and for those that do not, why.",
    )
    doctor.set_defaults(handler=run_doctor)
    build = commands.add_parser(
        "build",
        help="build the Docker sandbox image",
        description="Build the sandbox image (starting dockerd as root when needed). "
        "Without --offline it is built from sandbox/Dockerfile (needs a registry); with "
        "--offline from a debootstrapped Debian root file system, no registry needed.",
    )
    build.add_argument("--offline", action="store_true",
                       help="build without a registry (debootstrap + docker import)")
    build.add_argument("--force", action="store_true",
                       help="rebuild even when the image of the current inputs exists")
    build.set_defaults(handler=run_build)
    parser.set_defaults(handler=lambda args: parser.print_help() or 2)


def run_build(args: argparse.Namespace) -> int:
    from harness.sandbox.image import build_image, ensure_dockerd, image_tag

    ensure_dockerd()
    image_id = build_image(offline=args.offline, force=args.force)
    print(f"sandbox image {image_tag()} ready: {image_id}")
    return 0


def run_doctor(args: argparse.Namespace) -> int:
    checks = [("local", check_local), ("bwrap", check_bwrap), ("docker", check_docker)]
    for name, check in checks:
        works, detail = check()
        print(f"{name:<7} {'ok' if works else 'no':<3} {detail}")
    print(f"python  (local, bwrap) {interpreter_summary()}")
    return 0


def interpreter_summary() -> str:
    from harness.sandbox.interpreter import choice_reason, sandbox_interpreter

    try:
        interpreter = sandbox_interpreter()
    except HarnessError as exc:
        return str(exc)
    return f"{interpreter.executable} (Python {interpreter.version}; {choice_reason()})"


def try_backend(name: str) -> str | None:
    """None when a trivial program passes in a one-worker sandbox of ``name``."""
    from harness.sandbox import ExecJob, Limits, sandboxes

    quiet = logging.getLogger("harness.sandbox")  # no "not isolated" warning in a report
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with sandboxes.get(name)(workers=1) as sandbox:
            for _, outcome in sandbox.run([ExecJob("doctor", "assert 1 + 1 == 2",
                                                   Limits(timeout_s=30))]):
                if not outcome.passed:
                    return f"a trivial program did not pass: {outcome.status.value} " \
                           f"{outcome.detail}"
    except HarnessError as exc:
        return str(exc)
    finally:
        quiet.setLevel(level)
    return None


def check_local() -> tuple[bool, str]:
    problem = try_backend("local")
    if problem:
        return False, problem
    how = "rlimits + a dedicated unprivileged uid per job" if os.geteuid() == 0 else \
        "rlimits only (not root: programs run as your user)"
    return True, f"{how}; NOT isolation (network, files readable by that uid)"


def check_bwrap() -> tuple[bool, str]:
    from harness.sandbox.bwrap import bwrap_problem

    problem = bwrap_problem()
    if problem:
        return False, problem
    version = subprocess.run(["bwrap", "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    return True, (f"{version}: user/pid/net/ipc/uts namespaces, read-only root, private "
                  "/tmp, no network (default backend)")


def check_docker() -> tuple[bool, str]:
    from harness.sandbox.dockerd import daemon_responds
    from harness.sandbox.image import image_id, image_tag

    if shutil.which("docker") is None:
        return False, "no docker client; install docker.io (sandbox/setup-host.sh)"
    if not daemon_responds():
        if shutil.which("dockerd") is None and not os.path.exists("/usr/sbin/dockerd"):
            return False, "no docker daemon and dockerd is not installed (apt-get install " \
                          "docker.io)"
        if os.geteuid() != 0:
            return False, "the docker daemon is not reachable (start it, or run as root and " \
                          "the harness starts it)"
        return False, "dockerd is not running; `harness sandbox build --offline` or a " \
                      "--sandbox docker run starts it (as root)"
    tag = image_tag()
    if image_id(tag) is None:
        return False, f"the daemon runs, but image {tag} is missing: " \
                      "`harness sandbox build --offline`"
    problem = try_backend("docker")
    if problem:
        return False, problem
    return True, (f"image {tag}: one container per worker, no network, read-only root, "
                  "non-root uid, memory and pids limits")
