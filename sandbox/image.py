"""The sandbox image: Debian bookworm, Python 3.11 and the pinned libraries ODEX examples import.

Two ways to build the same image, tagged ``harness-sandbox:<hash of the build inputs>``:

- offline (no registry): ``debootstrap`` a minimal Debian with python3 and pip, install the
  pinned wheels inside it with chroot, then ``docker import`` the tree. The unpacked tree is
  kept in the cache (``$HARNESS_CACHE_DIR/sandbox``), so re-importing it after the Docker data
  is wiped takes seconds, and the bwrap backend can use it as its root file system.
- online: ``docker build -f sandbox/Dockerfile`` (``python:3.11-slim-bookworm`` + the same
  requirements file).

Only Debian's apt mirror and the Python package index are contacted, never a Docker registry.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from harness import settings
from harness.errors import HarnessError
from harness.sandbox.dockerd import docker_client, ensure_dockerd

__all__ = [
    "build_image",
    "ensure_dockerd",
    "ensure_image",
    "ensure_rootfs",
    "image_id",
    "image_tag",
    "python_in_image",
]

logger = logging.getLogger(__name__)

IMAGE_REPOSITORY = "harness-sandbox"
DEBIAN_SUITE = "bookworm"
PYTHON_VERSION = "3.11"  # what bookworm's python3 is; the Dockerfile's base image matches it
# Bump whenever the build steps below change in a way that changes the image.
BUILD_SCRIPT_VERSION = "1"
APT_PACKAGES = ("python3", "python3-pip", "ca-certificates", "tzdata")
PYTHON_IN_IMAGE = "/usr/local/bin/python3"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
MIRROR_ENV = settings.DEBIAN_MIRROR_ENV
# For `docker build`: a registry mirror's copy of python:3.11-slim-bookworm, say.
BASE_IMAGE_ENV = settings.SANDBOX_BASE_IMAGE_ENV

SANDBOX_DIR = Path(__file__).resolve().parent
REQUIREMENTS = SANDBOX_DIR / "requirements-sandbox.txt"
DOCKERFILE = SANDBOX_DIR / "Dockerfile"

# Settings of every container (ENV and friends); the Dockerfile sets the same.
IMAGE_CONFIG = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    "ENV HOME=/tmp",
    "ENV MPLBACKEND=Agg",
    "ENV MPLCONFIGDIR=/tmp/matplotlib",
    "ENV PYTHONDONTWRITEBYTECODE=1",
    "WORKDIR /tmp",
    "USER 65534:65534",
    'CMD ["/usr/local/bin/python3"]',
)
# Imported once at build time to catch a broken wheel before anything runs in the image.
SMOKE_IMPORTS = (
    "numpy, pandas, scipy, matplotlib.pyplot, seaborn, sklearn, sympy, bs4, lxml.etree, "
    "django, flask, openpyxl, xlrd, xlwt, pytz, mock, multidict, rsa, texttable, docxtpl, "
    "mechanize, sqlalchemy, selenium.webdriver, requests, PIL.Image, cv2, IPython, obspy, regex"
)
# Host settings the chroot's pip needs to reach the package index like the host's pip does.
PIP_PASSTHROUGH_ENV = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "PIP_DEFAULT_TIMEOUT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)
CA_BUNDLE_ENV = ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


# ---------------------------------------------------------------------------------------------
# Identity of the image


@dataclass(frozen=True)
class BuildInputs:
    """Everything that determines the image's content; its hash is the image tag."""

    debian_suite: str
    python_version: str
    apt_packages: tuple[str, ...]
    requirements: str
    dockerfile: str
    image_config: tuple[str, ...]
    build_script_version: str

    @classmethod
    def current(cls) -> BuildInputs:
        return cls(
            debian_suite=DEBIAN_SUITE,
            python_version=PYTHON_VERSION,
            apt_packages=APT_PACKAGES,
            requirements=_read(REQUIREMENTS),
            dockerfile=_read(DOCKERFILE),
            image_config=IMAGE_CONFIG,
            build_script_version=BUILD_SCRIPT_VERSION,
        )

    def digest(self) -> str:
        encoded = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(encoded).hexdigest()[:12]

    def base_digest(self) -> str:
        """Hash of what the debootstrap base depends on (not the Python libraries)."""
        base = (self.debian_suite, self.apt_packages, self.build_script_version)
        return hashlib.sha256(json.dumps(base).encode()).hexdigest()[:12]


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise HarnessError(f"cannot read sandbox build input {path}: {exc.strerror}") from exc


def image_tag() -> str:
    """``harness-sandbox:<12 hex digits>``; any change to the build inputs gives a new tag."""
    return f"{IMAGE_REPOSITORY}:{BuildInputs.current().digest()}"


def python_in_image() -> str:
    """Absolute path of the Python interpreter inside the image (both build methods)."""
    return PYTHON_IN_IMAGE


def image_id(tag: str) -> str | None:
    """The local image id (``sha256:...``) of ``tag``, or None when Docker has no such image."""
    done = subprocess.run(
        [docker_client(), "image", "inspect", "--format", "{{.Id}}", tag],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_image(offline: bool = True) -> str:
    """The image id of ``image_tag()``, building the image first when Docker lacks it."""
    ensure_dockerd()
    existing = image_id(image_tag())
    if existing is not None:
        return existing
    return build_image(offline=offline)


def build_image(offline: bool, force: bool = False) -> str:
    """Build ``image_tag()`` (see the module docstring) and return its image id.

    Used by ``harness sandbox build [--offline]``. An existing image with the current tag is
    kept (its id, part of execution cache keys, stays the same) unless ``force``.
    """
    ensure_dockerd()
    inputs = BuildInputs.current()
    tag = f"{IMAGE_REPOSITORY}:{inputs.digest()}"
    existing = None if force else _existing(tag)
    if existing is not None:
        return existing
    started = time.monotonic()
    with _build_lock():
        existing = None if force else _existing(tag)  # built meanwhile by another process?
        if existing is not None:
            return existing
        if offline:
            rootfs = _ensure_rootfs_locked(inputs)
            _docker_import(rootfs, tag, inputs)
        else:
            _docker_build(tag, inputs)
    built = image_id(tag)
    if built is None:
        raise HarnessError(f"the build finished but Docker has no image {tag}")
    _check_image(tag)
    logger.info("sandbox image %s (%s) ready in %.0fs", tag, built[:19], time.monotonic() - started)
    return built


def _existing(tag: str) -> str | None:
    found = image_id(tag)
    if found is not None:
        logger.info("sandbox image %s already exists (%s)", tag, found[:19])
    return found


# ---------------------------------------------------------------------------------------------
# The offline build: debootstrap + pip in a chroot + docker import


def cache_dir() -> Path:
    """Where root file systems and wheels are cached (``$HARNESS_CACHE_DIR/sandbox``)."""
    return settings.cache_dir() / "sandbox"


def ensure_rootfs() -> Path:
    """The unpacked root file system of the current image, building it when missing.

    Needs root, debootstrap and network access to a Debian mirror and the package index, but
    no Docker. The directory must be treated as read-only.
    """
    with _build_lock():
        return _ensure_rootfs_locked(BuildInputs.current())


def rootfs_path() -> Path:
    """Where the current image's unpacked root file system lives (it may not exist yet)."""
    return cache_dir() / f"rootfs-{BuildInputs.current().digest()}"


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _ensure_rootfs_locked(inputs: BuildInputs) -> Path:
    target = cache_dir() / f"rootfs-{inputs.digest()}"
    if (target / "etc" / "harness-sandbox.json").is_file():
        return target
    debootstrap = _debootstrap_binary()
    for leftover in [*cache_dir().glob("building-*"), *cache_dir().glob("debootstrap-*")]:
        _remove_tree(leftover)  # from an interrupted build (we hold the build lock)
    work = cache_dir() / f"building-{inputs.digest()}"
    log_path = cache_dir() / "build.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        _unpack_base(inputs, debootstrap, work, log)
        _install_python_libraries(work, log)
        _finish_rootfs(work, inputs, log)
    _remove_tree(target)
    work.rename(target)
    _prune_old_rootfs(keep=target)
    logger.info("root file system %s built in %.0fs", target, time.monotonic() - started)
    return target


def _debootstrap_binary() -> str:
    if os.geteuid() != 0:
        raise HarnessError("the offline sandbox image build needs root (debootstrap and chroot)")
    found = _find_sbin("debootstrap")
    if found is None:
        raise HarnessError(
            "debootstrap is not installed: run `sudo sandbox/setup-host.sh` "
            "or `apt-get install debootstrap`"
        )
    return found


def _find_sbin(name: str) -> str | None:
    found = shutil.which(name)
    if found is not None:
        return found
    for directory in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        candidate = Path(directory, name)
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def debian_mirror() -> str:
    """The Debian mirror: ``$HARNESS_DEBIAN_MIRROR``, else the one apt uses for the suite."""
    configured = settings.debian_mirror()
    if configured:
        return configured
    return _apt_mirror(Path("/etc/apt")) or DEFAULT_MIRROR


def _apt_mirror(apt_dir: Path) -> str | None:
    """The first ``deb`` source in apt's configuration that serves the suite itself."""
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*"))]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = _deb822_fields(stanza)
                if (
                    "deb" in fields.get("types", "").split()
                    and DEBIAN_SUITE in fields.get("suites", "").split()
                ):
                    return fields.get("uris", "").split()[0] if fields.get("uris") else None
        elif path.suffix == ".list" or path.name == "sources.list":
            for line in text.splitlines():
                words = re.sub(r"\[[^\]]*\]", "", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb" and words[2] == DEBIAN_SUITE:
                    return words[1]
    return None


def _deb822_fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if line.startswith("#") or ":" not in line or line[:1].isspace():
            continue
        key, value = line.split(":", 1)
        fields[key.strip().lower()] = value.strip()
    return fields


def _unpack_base(inputs: BuildInputs, debootstrap: str, work: Path, log: TextIO) -> None:
    """Debian minbase with python3 and pip, from the cached tarball or from debootstrap."""
    base_tar = cache_dir() / f"base-{inputs.debian_suite}-{inputs.base_digest()}.tar"
    if not base_tar.is_file():
        mirror = debian_mirror()
        logger.info("debootstrap %s from %s (about a minute)", inputs.debian_suite, mirror)
        tree = cache_dir() / f"debootstrap-{inputs.base_digest()}"
        _remove_tree(tree)
        try:
            _run(
                [
                    debootstrap,
                    "--variant=minbase",
                    f"--include={','.join(inputs.apt_packages)}",
                    inputs.debian_suite,
                    str(tree),
                    mirror,
                ],
                log,
                "debootstrap",
            )
            # Downloaded .debs and package lists are not needed at run time.
            for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
                _empty_dir(tree / leftover)
            partial = base_tar.with_suffix(".tar.part")
            _run(["tar", "--numeric-owner", "-C", str(tree), "-cf", str(partial), "."], log, "tar")
            partial.rename(base_tar)
        finally:
            _remove_tree(tree)
    logger.info("unpacking the Debian base %s", base_tar.name)
    work.mkdir(parents=True)
    _run(["tar", "--numeric-owner", "-C", str(work), "-xf", str(base_tar)], log, "tar")


def _install_python_libraries(root: Path, log: TextIO) -> None:
    """pip-install the pinned requirements inside the chroot, through a cached wheelhouse."""
    build = root / "tmp" / "harness-build"
    build.mkdir(parents=True)
    shutil.copyfile(REQUIREMENTS, build / "requirements.txt")
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "DISABLE_SQLALCHEMY_CEXT": "1",  # SQLAlchemy builds from source; no compiler in the image
    }
    env.update({name: os.environ[name] for name in PIP_PASSTHROUGH_ENV if name in os.environ})
    ca_bundle = _host_ca_bundle()
    if ca_bundle is not None:
        shutil.copyfile(ca_bundle, build / "ca.pem")
        env["PIP_CERT"] = "/tmp/harness-build/ca.pem"
    shutil.copyfile("/etc/resolv.conf", root / "etc" / "resolv.conf")

    # The wheelhouse lives in the cache; moving it into the tree is a rename (same file system).
    wheelhouse = cache_dir() / "wheels"
    wheelhouse.mkdir(parents=True, exist_ok=True)
    inside = build / "wheels"
    wheelhouse.rename(inside)
    try:
        logger.info("downloading and building wheels (cached in %s)", wheelhouse)
        pip = ["chroot", str(root), "/usr/bin/env", "-i", *_env_args(env), "python3", "-m", "pip"]
        wheel_dir = "/tmp/harness-build/wheels"
        requirements = "/tmp/harness-build/requirements.txt"
        _run([*pip, "wheel", "-q", "-w", wheel_dir, "-r", requirements], log, "pip wheel")
        logger.info("installing the Python libraries into the image (a few minutes)")
        _run(
            [
                *pip,
                "install",
                "-q",
                "--break-system-packages",
                "--no-index",
                "--find-links",
                wheel_dir,
                "-r",
                requirements,
            ],
            log,
            "pip install",
        )
    finally:
        inside.rename(wheelhouse)


def _host_ca_bundle() -> Path | None:
    for name in CA_BUNDLE_ENV:
        value = os.environ.get(name)
        if value and Path(value).is_file():
            return Path(value)
    return HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None


def _env_args(env: dict[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in env.items()]


def _finish_rootfs(root: Path, inputs: BuildInputs, log: TextIO) -> None:
    """Interpreter link, smoke test, provenance file; remove build leftovers."""
    local_bin = root / "usr" / "local" / "bin"
    local_bin.mkdir(parents=True, exist_ok=True)
    for name in ("python3", "python"):
        link = local_bin / name
        link.unlink(missing_ok=True)
        link.symlink_to("/usr/bin/python3")
    shutil.rmtree(root / "tmp" / "harness-build")
    _empty_dir(root / "root" / ".cache")
    (root / "etc" / "resolv.conf").write_text("")
    logger.info("checking that the libraries import")
    _run(
        [
            "chroot",
            str(root),
            "/usr/bin/env",
            "-i",
            "HOME=/tmp",
            "MPLBACKEND=Agg",
            f"MPLCONFIGDIR=/tmp/mpl-{os.getpid()}",
            PYTHON_IN_IMAGE,
            "-c",
            f"import {SMOKE_IMPORTS}",
        ],
        log,
        "import check",
    )
    _empty_dir(root / "tmp")
    (root / "tmp").chmod(0o1777)
    provenance = {"tag": f"{IMAGE_REPOSITORY}:{inputs.digest()}", **asdict(inputs)}
    (root / "etc" / "harness-sandbox.json").write_text(json.dumps(provenance, indent=1) + "\n")


def _docker_import(rootfs: Path, tag: str, inputs: BuildInputs) -> None:
    logger.info("importing %s into Docker as %s", rootfs, tag)
    changes = [*IMAGE_CONFIG, f"LABEL org.harness.sandbox.inputs={inputs.digest()}"]
    command = [docker_client(), "import"]
    for change in changes:
        command += ["--change", change]
    command += ["-", tag]
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE
    )
    try:
        done = subprocess.run(command, stdin=tar.stdout, capture_output=True, text=True)
    finally:
        if tar.stdout is not None:
            tar.stdout.close()
        tar.wait()
    if done.returncode != 0 or tar.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["tar failed"])[-1]
        raise HarnessError(f"docker import of the sandbox root file system failed: {reason}")


def _docker_build(tag: str, inputs: BuildInputs) -> None:
    base_image = settings.sandbox_base_image()
    build_args = ["--build-arg", f"BASE_IMAGE={base_image}"] if base_image else []
    logger.info(
        "docker build -f %s -t %s (needs a registry with python:3.11-slim)", DOCKERFILE, tag
    )
    log_path = cache_dir() / "build.log"
    with open(log_path, "w") as log:
        _run(
            [
                docker_client(),
                "build",
                "--network",
                "host",  # build steps need the package index; the daemon may have no bridge
                *build_args,
                "--label",
                f"org.harness.sandbox.inputs={inputs.digest()}",
                "-f",
                str(DOCKERFILE),
                "-t",
                tag,
                str(SANDBOX_DIR),
            ],
            log,
            "docker build",
        )


def _check_image(tag: str) -> None:
    """The image's interpreter runs with no network (guards against a half-broken import)."""
    done = subprocess.run(
        [
            docker_client(),
            "run",
            "--rm",
            "--network",
            "none",
            tag,
            PYTHON_IN_IMAGE,
            "-c",
            "import numpy",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise HarnessError(f"the sandbox image {tag} does not run Python: {reason}")


# ---------------------------------------------------------------------------------------------
# Small helpers


def _run(command: list[str], stream: TextIO, what: str) -> None:
    """Run a build step, its output going to the build log; one-line error on failure."""
    stream.write(f"$ {' '.join(command)}\n")
    stream.flush()
    done = subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        stream.flush()
        raise HarnessError(
            f"sandbox image build step `{what}` failed (exit {done.returncode}): "
            f"{_tail(Path(stream.name))} (log: {stream.name})"
        )


def _tail(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def _mounts_under(path: Path) -> list[str]:
    prefix = str(path.resolve()) + "/"
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    return sorted((p for p in points if p.startswith(prefix)), reverse=True)


def _remove_tree(path: Path) -> None:
    """Delete a build tree, first detaching anything a killed debootstrap left mounted in it."""
    if not path.exists():
        return
    for point in _mounts_under(path):
        subprocess.run(["umount", "--lazy", point], check=False)
    if _mounts_under(path):
        raise HarnessError(f"cannot remove {path}: file systems are still mounted inside it")
    shutil.rmtree(path)


def _empty_dir(path: Path) -> None:
    if not path.is_dir():
        return
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _prune_old_rootfs(keep: Path) -> None:
    for old in cache_dir().glob("rootfs-*"):
        if old != keep and old.is_dir():
            logger.info("removing the outdated root file system %s", old)
            _remove_tree(old)
