"""Sandboxed execution of generated programs: one worker protocol, several isolation backends."""

from __future__ import annotations

from harness.registry import Registry
from harness.sandbox.base import ExecJob, Limits, Outcome, Sandbox, Status

sandboxes: Registry[type[Sandbox]] = Registry(
    "sandbox",
    "harness.sandboxes",
    {
        "local": "harness.sandbox.local:LocalSandbox",
        "bwrap": "harness.sandbox.bwrap:BwrapSandbox",
        "docker": "harness.sandbox.docker:DockerSandbox",
    },
)

__all__ = ["ExecJob", "Limits", "Outcome", "Sandbox", "Status", "sandboxes"]
