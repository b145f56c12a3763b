"""The sandbox image: tag identity, Debian mirror discovery, and a real offline build (as root)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from harness.sandbox import dockerd, image

# --- unit tests (no Docker) ---------------------------------------------------------------


def test_image_tag_follows_the_requirements_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requirements = tmp_path / "requirements-sandbox.txt"
    monkeypatch.setattr(image, "REQUIREMENTS", requirements)

    requirements.write_text("numpy==1.23.5\n")
    first = image.image_tag()
    assert re.fullmatch(r"harness-sandbox:[0-9a-f]{12}", first)
    assert image.image_tag() == first  # deterministic

    requirements.write_text("numpy==1.23.5\npandas==1.5.3\n")
    second = image.image_tag()
    assert second != first

    requirements.write_text("numpy==1.23.5\n")
    assert image.image_tag() == first


def test_image_tag_follows_the_other_build_inputs() -> None:
    inputs = image.BuildInputs.current()
    changed = [
        replace(inputs, debian_suite="trixie"),
        replace(inputs, python_version="3.12"),
        replace(inputs, build_script_version="other"),
        replace(inputs, dockerfile=inputs.dockerfile + "\n# x"),
    ]
    digests = {inputs.digest(), *(other.digest() for other in changed)}
    assert len(digests) == 1 + len(changed)
    # The cached Debian base does not depend on the Python libraries.
    same_base = replace(inputs, requirements="x==1\n")
    assert same_base.base_digest() == inputs.base_digest()
    assert same_base.digest() != inputs.digest()


def test_requirements_are_fully_pinned() -> None:
    lines = [
        line.split("#", 1)[0].strip()
        for line in image.REQUIREMENTS.read_text().splitlines()
        if line.split("#", 1)[0].strip()
    ]
    assert lines, "empty requirements file"
    unpinned = [line for line in lines if not re.fullmatch(r"[A-Za-z0-9_.\-]+==[\w.\-+]+", line)]
    assert unpinned == []
    names = {line.split("==")[0].lower() for line in lines}
    assert {"numpy", "pandas", "scipy", "matplotlib", "beautifulsoup4", "sqlalchemy"} <= names
    assert "tensorflow" not in names


def test_debian_mirror_is_read_from_apt_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    apt = tmp_path / "apt"
    (apt / "sources.list.d").mkdir(parents=True)
    (apt / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n"
        "URIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\n"
        "Components: main\n"
        "\n"
        "Types: deb deb-src\n"
        "# a comment\n"
        "URIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\n"
        "Components: main\n"
    )
    assert image._apt_mirror(apt) == "http://mirror.example/debian"

    (apt / "sources.list.d" / "debian.sources").unlink()
    (apt / "sources.list").write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://one-line.example/debian bookworm main\n"
    )
    assert image._apt_mirror(apt) == "http://one-line.example/debian"

    monkeypatch.setenv(image.MIRROR_ENV, "http://override.example/debian")
    assert image.debian_mirror() == "http://override.example/debian"


def test_python_in_image_is_absolute() -> None:
    assert Path(image.python_in_image()).is_absolute()


# --- real daemon and image (CI runs these as root) ----------------------------------------


@pytest.fixture(scope="module")
def sandbox_image() -> str:
    """Starts dockerd if needed and builds the image at most once (offline: debootstrap)."""
    image.ensure_dockerd()
    return image.ensure_image(offline=True)


def _docker(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.mark.docker
@pytest.mark.slow
def test_ensure_dockerd_is_idempotent(sandbox_image: str) -> None:
    pid_before = Path("/var/run/docker.pid").read_text().strip()
    image.ensure_dockerd()
    image.ensure_dockerd()
    assert dockerd.daemon_responds()
    assert Path("/var/run/docker.pid").read_text().strip() == pid_before


@pytest.mark.docker
@pytest.mark.slow
def test_image_exists_under_its_tag(sandbox_image: str) -> None:
    tag = image.image_tag()
    assert sandbox_image.startswith("sha256:")
    assert image.image_id(tag) == sandbox_image
    labels = _docker("image", "inspect", "--format", "{{json .Config.Labels}}", tag)
    assert json.loads(labels.stdout)["org.harness.sandbox.inputs"] == tag.split(":")[1]
    started = time.monotonic()
    assert image.ensure_image() == sandbox_image  # present: no rebuild, same id
    assert image.build_image(offline=True) == sandbox_image
    assert time.monotonic() - started < 30


@pytest.mark.docker
@pytest.mark.slow
def test_image_python_imports_pinned_libraries_without_network(sandbox_image: str) -> None:
    pins = dict(
        line.split("#", 1)[0].strip().split("==")
        for line in image.REQUIREMENTS.read_text().splitlines()
        if "==" in line.split("#", 1)[0]
    )
    script = (
        "import json, os, sys, numpy, pandas, matplotlib.pyplot, bs4, sqlalchemy\n"
        "print(json.dumps({'exe': sys.executable, 'version': sys.version_info[:2],"
        " 'uid': os.getuid(), 'numpy': numpy.__version__, 'pandas': pandas.__version__,"
        " 'sqlalchemy': sqlalchemy.__version__}))\n"
    )
    done = _docker(
        "run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/tmp",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        sandbox_image, image.python_in_image(), "-c", script,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["exe"] == image.python_in_image()
    assert report["version"] == [3, 11]
    assert report["uid"] == 65534  # the image's default user is not root
    assert report["numpy"] == pins["numpy"]
    assert report["pandas"] == pins["pandas"]
    assert report["sqlalchemy"] == pins["SQLAlchemy"]


@pytest.mark.docker
@pytest.mark.slow
def test_image_records_its_build_inputs(sandbox_image: str) -> None:
    done = _docker(
        "run", "--rm", "--network", "none", sandbox_image, "cat", "/etc/harness-sandbox.json"
    )
    assert done.returncode == 0, done.stderr
    provenance = json.loads(done.stdout)
    assert provenance["tag"] == image.image_tag()
    assert provenance["requirements"] == image.REQUIREMENTS.read_text()
    # When this session built the image, its root file system is cached for a quick re-import.
    rootfs = image.rootfs_path()
    if rootfs.exists():
        cached = json.loads((rootfs / "etc" / "harness-sandbox.json").read_text())
        assert cached == provenance
        assert image.ensure_rootfs() == rootfs
