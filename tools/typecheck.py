"""Run mypy with the import names the package is installed under.

tasks/ and sandbox/ are installed as harness.tasks and harness.sandbox (setuptools
``package-dir`` in pyproject.toml). mypy maps module names to files by directory alone, so
plain ``mypy`` would check them as top-level ``tasks`` and ``sandbox`` and could not resolve
``harness.tasks`` at all. This script reads the same mapping from pyproject.toml and hands
mypy each file under its installed name. Arguments are passed on to mypy (e.g. files).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from mypy import build
from mypy.errors import CompileError
from mypy.main import process_options

REPO = Path(__file__).resolve().parents[1]


def package_dirs() -> dict[str, Path]:
    """Directory -> package name, for packages that do not live at their dotted path."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    return {name: (REPO / path).resolve() for name, path in mapping.items()}


def installed_name(path: Path, dirs: dict[str, Path]) -> str | None:
    """The module name setuptools installs ``path`` under, if a package-dir maps it."""
    for name, root in sorted(dirs.items(), key=lambda item: -len(str(item[1]))):
        if path.is_relative_to(root):
            parts = [*name.split("."), *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            return ".".join(parts)
    return None


def main(argv: list[str]) -> int:
    sources, options = process_options(argv or [])
    dirs = package_dirs()
    for source in sources:
        if source.path is None:
            continue
        name = installed_name(Path(source.path).resolve(), dirs)
        if name is not None:
            source.module = name
            source.base_dir = str(REPO)
    try:
        result = build.build(sources, options, stdout=sys.stdout, stderr=sys.stderr)
        messages = result.errors
    except CompileError as error:
        messages = error.messages
    for line in messages:
        print(line)
    errors = sum(": error:" in line for line in messages)
    files = len(sources)
    if errors:
        print(f"Found {errors} errors (checked {files} source files)")
        return 1
    print(f"Success: no issues found in {files} source files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
