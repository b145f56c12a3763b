"""Settings taken from the environment: every ``HARNESS_*`` variable is read here, and only here.

Rules shared by all of them: an empty value counts as unset, and paths get ``~`` expanded.
Values are read on each call (not at import), so a test or a long-lived process that changes
the environment sees the change.

=========================  ===========================================================
``HARNESS_CACHE_DIR``      caches: datasets, generations, executions, sandbox images
                           (default ``~/.cache/harness``)
``HARNESS_RESULTS_DIR``    the root of run folders (default ``results``)
``HARNESS_DATA_DIR``       datasets: ``$HARNESS_DATA_DIR/SUBDIR/NAME``
``HARNESS_<SUBDIR>_DIR``   one dataset folder, e.g. ``HARNESS_MBPP_DIR``
``HARNESS_CONFIG_DIR``     the user's config dir (default ``$XDG_CONFIG_HOME/harness``,
                           else ``~/.config/harness``)
``HARNESS_MODELS_FILE``    one more models file
``HARNESS_OFFLINE``        no hub downloads (as ``HF_HUB_OFFLINE`` and friends)
``HARNESS_SANDBOX_PYTHON`` the interpreter local and bwrap sandboxes run programs with
``HARNESS_SANDBOX_VENV``   the venv that interpreter comes from otherwise
                           (default ``~/.cache/harness/sandbox-venv``)
``HARNESS_DEBIAN_MIRROR``  the mirror the sandbox image's root file system comes from
``HARNESS_SANDBOX_BASE_IMAGE``  the base image of ``docker build``
``HARNESS_DOCKERD_FLAGS``  extra flags for the Docker daemon the harness starts
=========================  ===========================================================
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

CACHE_DIR_ENV = "HARNESS_CACHE_DIR"
RESULTS_DIR_ENV = "HARNESS_RESULTS_DIR"
DATA_DIR_ENV = "HARNESS_DATA_DIR"
CONFIG_DIR_ENV = "HARNESS_CONFIG_DIR"
MODELS_FILE_ENV = "HARNESS_MODELS_FILE"
OFFLINE_ENV = "HARNESS_OFFLINE"
SANDBOX_PYTHON_ENV = "HARNESS_SANDBOX_PYTHON"
SANDBOX_VENV_ENV = "HARNESS_SANDBOX_VENV"
DEBIAN_MIRROR_ENV = "HARNESS_DEBIAN_MIRROR"
SANDBOX_BASE_IMAGE_ENV = "HARNESS_SANDBOX_BASE_IMAGE"
DOCKERD_FLAGS_ENV = "HARNESS_DOCKERD_FLAGS"

DEFAULT_CACHE_DIR = "~/.cache/harness"
DEFAULT_RESULTS_DIR = "results"
# Not under HARNESS_CACHE_DIR: the Makefile builds it at this fixed place, and tests that
# point the cache at a temporary folder still find it.
DEFAULT_SANDBOX_VENV = "~/.cache/harness/sandbox-venv"

_TRUE = frozenset({"1", "true", "yes", "on"})


def env_text(name: str) -> str | None:
    """The variable's value, or None when it is unset or empty."""
    value = os.environ.get(name, "")
    return value or None


def env_path(name: str) -> Path | None:
    """The variable as a path with ``~`` expanded, or None when it is unset or empty."""
    value = env_text(name)
    return Path(value).expanduser() if value else None


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def cache_dir() -> Path:
    """The root of all caches."""
    return env_path(CACHE_DIR_ENV) or Path(DEFAULT_CACHE_DIR).expanduser()


def results_root() -> Path:
    """Where run folders go unless a run names its own."""
    return env_path(RESULTS_DIR_ENV) or Path(DEFAULT_RESULTS_DIR)


def dataset_dir_env(subdir: str) -> str:
    """The variable naming one dataset folder: ``mbpp`` -> ``HARNESS_MBPP_DIR``."""
    return "HARNESS_" + "".join(c if c.isalnum() else "_" for c in subdir).upper() + "_DIR"


def dataset_roots(subdir: str) -> list[Path]:
    """Folders the environment names for dataset ``subdir``, best first."""
    roots = []
    own = env_path(dataset_dir_env(subdir))
    if own is not None:
        roots.append(own)
    shared = env_path(DATA_DIR_ENV)
    if shared is not None:
        roots.append(shared / subdir)
    return roots


def config_dir() -> Path:
    """The user's config dir (it need not exist)."""
    own = env_path(CONFIG_DIR_ENV)
    if own is not None:
        return own
    xdg = env_path("XDG_CONFIG_HOME") or Path("~/.config").expanduser()
    return xdg / "harness"


def models_file() -> Path | None:
    return env_path(MODELS_FILE_ENV)


def datasets_offline() -> bool:
    """No dataset downloads from the hub."""
    return any(env_flag(v) for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", OFFLINE_ENV))


def models_offline() -> bool:
    """No model downloads from the hub."""
    return any(env_flag(v) for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", OFFLINE_ENV))


def sandbox_python() -> str | None:
    return env_text(SANDBOX_PYTHON_ENV)


def sandbox_venv() -> Path:
    return env_path(SANDBOX_VENV_ENV) or Path(DEFAULT_SANDBOX_VENV).expanduser()


def debian_mirror() -> str | None:
    return env_text(DEBIAN_MIRROR_ENV)


def sandbox_base_image() -> str | None:
    return env_text(SANDBOX_BASE_IMAGE_ENV)


def dockerd_flags() -> list[str]:
    return shlex.split(env_text(DOCKERD_FLAGS_ENV) or "")
