"""Repository layout: no symlinks, one import name per module, no import cycles, settings
from one module, provenance only from this project's checkout.

tasks/ and sandbox/ sit at the top of the repository and are the packages harness.tasks and
harness.sandbox (setuptools ``package-dir``): never importable as top-level ``tasks`` or
``sandbox``, so no module is ever loaded twice under two names.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Source folder -> the package it is installed as.
PACKAGE_DIRS = {"harness": "harness", "tasks": "harness.tasks", "sandbox": "harness.sandbox"}
SKIPPED_DIRS = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
                "build", "results"}


def walk_files(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.endswith(".egg-info")]
        for name in [*dirs, *files]:
            yield Path(folder) / name


def module_files() -> dict[str, Path]:
    """Every module of the package, by its import name."""
    modules = {}
    for folder, package in PACKAGE_DIRS.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join((package, *parts))] = path
    return modules


# --- symlinks and packaging --------------------------------------------------------------


def test_no_symlinks_tracked_or_present() -> None:
    if (REPO / ".git").exists() and shutil.which("git"):
        staged = subprocess.run(["git", "-C", str(REPO), "ls-files", "-s"], capture_output=True,
                                text=True, check=True).stdout.splitlines()
        tracked = [line.split("\t", 1)[1] for line in staged if line.startswith("120000 ")]
        assert tracked == [], f"symlinks tracked in git: {tracked}"
    present = [str(p.relative_to(REPO)) for p in walk_files(REPO) if p.is_symlink()]
    assert present == [], f"symlinks in the tree: {present}"


def test_every_package_folder_is_installed_under_its_mapped_name() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {package: folder for folder, package in
                                     PACKAGE_DIRS.items()}
    found = {name for name, path in module_files().items() if path.name == "__init__.py"}
    assert sorted(config["packages"]) == sorted(found)


# --- one import name per module ----------------------------------------------------------


def imported_names(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Absolute module names a module imports (every import: function-level and
    TYPE_CHECKING ones too), with the first level of ``from X import Y`` as X.Y."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, node.lineno
            for alias in node.names:
                yield f"{node.module}.{alias.name}", node.lineno


def python_files() -> Iterator[Path]:
    for path in walk_files(REPO):
        if path.suffix == ".py" and path.is_file():
            yield path


def test_nothing_imports_tasks_or_sandbox_by_their_folder_names() -> None:
    wrong = []
    for path in python_files():
        tree = ast.parse(path.read_text(), str(path))
        for name, line in imported_names(tree):
            if name.split(".")[0] in ("tasks", "sandbox"):
                wrong.append(f"{path.relative_to(REPO)}:{line}: {name}")
    assert wrong == [], "import harness.tasks / harness.sandbox instead:\n" + "\n".join(wrong)


def test_tests_cannot_import_the_folders_as_top_level_packages() -> None:
    import importlib.util

    assert importlib.util.find_spec("tasks") is None
    assert importlib.util.find_spec("sandbox") is None


def test_modules_load_once_under_their_package_names() -> None:
    """From the repository root (where `tasks` and `sandbox` folders are), importing the
    package loads each file once, under its harness.* name."""
    # Not __main__ (it runs the CLI); not the backends that load torch or vllm (slow).
    light = [name for name in module_files() if name not in
             ("harness.__main__", "harness.backends.hf", "harness.backends.vllm")]
    script = (
        "import importlib, json, sys\n"
        f"for name in {light!r}:\n"
        "    importlib.import_module(name)\n"
        "files = {}\n"
        "for name, module in list(sys.modules.items()):\n"
        "    path = getattr(module, '__file__', None)\n"
        "    if path and path.startswith(sys.argv[1]):\n"
        "        files.setdefault(path, []).append(name)\n"
        "print(json.dumps(files))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", script, str(REPO) + os.sep], cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    import json

    loaded: dict[str, list[str]] = json.loads(done.stdout)
    twice = {path: names for path, names in loaded.items() if len(names) > 1}
    assert twice == {}, f"files loaded under several names: {twice}"
    names = {name for names in loaded.values() for name in names}
    assert not any(name.split(".")[0] in ("tasks", "sandbox") for name in names)
    expected = {str(path): name for name, path in module_files().items() if name in light}
    assert {path: names[0] for path, names in loaded.items() if path in expected} == \
        {path: name for path, name in expected.items() if path in loaded}


# --- import cycles -----------------------------------------------------------------------


def import_graph() -> dict[str, set[str]]:
    """module -> the harness modules it imports (``from harness.x import y`` counts as
    harness.x.y when that is a module, else as harness.x)."""
    modules = module_files()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules
                           else base for alias in node.names]
            # Implicit imports of parent packages do not count (else every package whose
            # __init__ imports its modules would be a cycle), nor do modules not in the tree.
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for child in sorted(graph[node]):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in on_stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def describe_cycle(graph: dict[str, set[str]], component: list[str]) -> str:
    """One concrete loop through a component, for the failure message."""
    members = set(component)
    path = [component[0]]
    while True:
        step = min(graph[path[-1]] & members)
        if step in path:
            return " -> ".join([*path[path.index(step):], step])
        path.append(step)


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert describe_cycle(graph, ["a", "b", "c"]) == "a -> b -> c -> a"


def test_no_import_cycles_among_harness_modules() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert found == [], "import cycles (function-level and TYPE_CHECKING imports count):\n" + \
        "\n".join(describe_cycle(graph, component) for component in found)


# --- settings and provenance -------------------------------------------------------------


def environment_reads(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """``os.environ.get("HARNESS_X")``, ``os.environ["HARNESS_X"]``, ``os.getenv(...)``."""
    for node in ast.walk(tree):
        key: ast.expr | None = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            func = node.func
            on_environ = isinstance(func.value, ast.Attribute) and func.value.attr == "environ"
            if (func.attr in ("get", "pop", "setdefault") and on_environ) or func.attr == "getenv":
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "environ":
            key = node.slice
        if isinstance(key, ast.Constant) and str(key.value).startswith("HARNESS_"):
            yield str(key.value), node.lineno


def test_harness_variables_are_read_only_by_harness_settings() -> None:
    wrong = []
    for name, path in module_files().items():
        if name == "harness.settings":
            continue
        for variable, line in environment_reads(ast.parse(path.read_text())):
            wrong.append(f"{path.relative_to(REPO)}:{line}: {variable}")
    assert wrong == [], "read these through harness.settings:\n" + "\n".join(wrong)


def test_settings_treat_empty_as_unset_and_expand_home(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness import settings

    monkeypatch.setenv("HARNESS_CACHE_DIR", "")
    assert settings.cache_dir() == Path.home() / ".cache" / "harness"
    monkeypatch.setenv("HARNESS_CACHE_DIR", "~/elsewhere")
    assert settings.cache_dir() == Path.home() / "elsewhere"
    from harness.sandbox.image import cache_dir as image_cache
    from harness.tasks.data import cache_dir as data_cache

    assert data_cache() == Path.home() / "elsewhere"
    assert image_cache() == Path.home() / "elsewhere" / "sandbox"
    monkeypatch.setenv("HARNESS_MBPP_DIR", "")
    monkeypatch.setenv("HARNESS_DATA_DIR", "~/data")
    assert settings.dataset_roots("mbpp") == [Path.home() / "data" / "mbpp"]


def installed_copy(target: Path) -> Path:
    """The package as a wheel installs it (not editable), under ``target``."""
    source = target / "src"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in PACKAGE_DIRS:
        shutil.copytree(REPO / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    site = target / "site"
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--no-build-isolation", "--disable-pip-version-check", "--target",
                           str(site), str(source)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return site


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_wheel_layout_and_provenance_of_an_installed_copy(tmp_path: Path) -> None:
    # The installed copy sits inside another git repository: its commit is not ours.
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-q", "--allow-empty", "-m", "x"],
                   check=True)
    site = installed_copy(tmp_path)
    package = site / "harness"
    for relative in ("tasks/base.py", "sandbox/worker.py", "sandbox/Dockerfile",
                     "sandbox/requirements-sandbox.txt", "models.toml", "py.typed",
                     "reports/leaderboard.html"):
        assert (package / relative).is_file(), relative
    assert not (site / "tasks").exists() and not (site / "sandbox").exists()
    script = ("import harness.provenance as p, harness.tasks.base as b; "
              "print(p.git_commit(), b.__file__)")
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    commit, module = done.stdout.split()
    assert commit == "None"
    assert Path(module) == package / "tasks" / "base.py"


@pytest.mark.skipif(not (REPO / ".git").exists() or shutil.which("git") is None,
                    reason="needs this project's git checkout")
def test_provenance_records_this_checkouts_commit() -> None:
    import harness
    from harness.provenance import git_commit

    if Path(harness.__file__).resolve().parent != REPO / "harness":
        pytest.skip("the harness under test is not this checkout's (not an editable install)")

    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    commit = git_commit()
    assert commit is not None and commit.removesuffix("-dirty") == head
