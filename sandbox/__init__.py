"""Sandboxed execution of generated programs: one worker protocol, several isolation backends."""

from __future__ import annotations

import logging
import os

from harness.registry import Registry
from harness.sandbox.base import Calls, ExecJob, Limits, Outcome, Sandbox, Status

log = logging.getLogger(__name__)

sandboxes: Registry[type[Sandbox]] = Registry(
    "sandbox",
    "harness.sandboxes",
    {
        "local": "harness.sandbox.local:LocalSandbox",
        "bwrap": "harness.sandbox.bwrap:BwrapSandbox",
        "docker": "harness.sandbox.docker:DockerSandbox",
    },
)


def default_sandbox_name() -> str:
    """bwrap when it works on this machine, else local."""
    from harness.sandbox.bwrap import bwrap_problem

    problem = bwrap_problem()
    if problem is None:
        return "bwrap"
    log.info("bwrap sandbox unavailable (%s); using the local sandbox", problem)
    return "local"


def open_sandbox(name: str | None = None, workers: int | None = None) -> Sandbox:
    """A sandbox backend by name (None: bwrap when usable here, else local).

    Workers start on first use or ``with`` entry; leaving the ``with`` block stops them
    and removes everything the backend created.
    """
    backend = sandboxes.get(name or default_sandbox_name())
    return backend(workers=workers or os.cpu_count() or 2)


__all__ = ["Calls", "ExecJob", "Limits", "Outcome", "Sandbox", "Status", "open_sandbox",
           "sandboxes"]
