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

    Workers start on first use or ``with`` entry (the default's are started here: the
    probe of bwrap is its first job); leaving the ``with`` block stops them and removes
    everything the backend created.
    """
    count = workers or os.cpu_count() or 2
    if name is None:
        return _default_sandbox(count)
    return sandboxes.get(name)(workers=count)


def _default_sandbox(workers: int) -> Sandbox:
    """bwrap, probed by starting the pool itself (a separate probe pool would cost as much
    again), else local."""
    from harness.sandbox.bwrap import BwrapSandbox, missing_tools, probe_problem

    problem = missing_tools()
    if problem is None:
        sandbox = BwrapSandbox(workers=workers)
        problem = probe_problem(sandbox)
        if problem is None:
            return sandbox
    log.info("bwrap sandbox unavailable (%s); using the local sandbox", problem)
    return sandboxes.get("local")(workers=workers)


__all__ = ["Calls", "ExecJob", "Limits", "Outcome", "Sandbox", "Status", "open_sandbox",
           "sandboxes"]
