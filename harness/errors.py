"""User-facing errors: each one is printed as a single line by the CLI, with a non-zero exit."""

from __future__ import annotations


class HarnessError(Exception):
    """An error caused by input or environment, reported to the user as one line (exit code 2)."""

    exit_code = 2


class DataNotFoundError(HarnessError):
    """A dataset file is missing and cannot be fetched (offline)."""


class UnknownNameError(HarnessError):
    """A task, model, scorer or sandbox name that is not registered."""
