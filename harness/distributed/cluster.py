"""The connection to a Ray cluster, shared by the distributed executor, model replicas and
sweeps; Ray is imported here only, and only when one of them is used.

``address`` is what ``ray.init`` takes: ``"auto"`` (the cluster this machine belongs to),
``HOST:PORT`` of a head node, ``ray://HOST:10001`` (Ray client), or None: ``$RAY_ADDRESS``
when set, else a Ray instance started on this machine for this process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import socket
import threading
from dataclasses import dataclass
from typing import Any

from harness.deps import MissingDependencyError, missing_dependency
from harness.errors import HarnessError

log = logging.getLogger(__name__)

RAY_INSTALL = "pip install 'harness[ray]'"

_lock = threading.Lock()
_users = 0  # open users of a connection this module made (not one the caller made)
_owned = False


def import_ray(what: str = "--executor ray needs Ray") -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError(missing_dependency(what, RAY_INSTALL, exc)) from exc
    return ray


def connect(address: str | None, what: str = "--executor ray needs Ray") -> Any:
    """Connect this process to Ray (once; later calls share the connection); the module."""
    global _users, _owned
    ray = import_ray(what)
    with _lock:
        if ray.is_initialized():  # by us (shared) or by the caller (theirs to shut down)
            if _owned:
                _users += 1
            return ray
        check_reachable(address or os.environ.get("RAY_ADDRESS"))
        kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        if address is None and not os.environ.get("RAY_ADDRESS"):
            kwargs["include_dashboard"] = False  # a private instance for this process
            log.info("no Ray address given: starting a single-node Ray instance here")
        # The executor may connect from the runner's execution thread, where Ray warns that
        # it cannot set its SIGTERM handler: the runner has its own, in the main thread.
        quiet = logging.getLogger("ray._private.worker")
        quiet.addFilter(_no_sigterm_warning)
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = address or os.environ.get("RAY_ADDRESS") or "a new local instance"
            raise HarnessError(f"cannot connect to the Ray cluster at {where}: "
                               f"{first_line(exc)}") from exc
        finally:
            quiet.removeFilter(_no_sigterm_warning)
        _owned, _users = True, 1
        return ray


def check_reachable(address: str | None, timeout_s: float = 10.0) -> None:
    """A HOST:PORT that nothing answers on is one line at once (``ray.init`` would retry
    for minutes); ``auto``, ``ray://`` and the like are left to Ray."""
    if not address or "://" in address or address in ("auto", "local"):
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise HarnessError(f"--ray-address {address!r}: expected auto, HOST:PORT or "
                           "ray://HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        raise HarnessError(f"cannot reach the Ray cluster at {address}: "
                           f"{exc.strerror or exc}") from None


def _no_sigterm_warning(record: logging.LogRecord) -> bool:
    return "SIGTERM handler is not set" not in record.getMessage()


def release() -> None:
    """Drop one user of the connection; the last one shuts down a connection made here."""
    global _users, _owned
    with _lock:
        if not _owned:
            return
        _users -= 1
        if _users <= 0:
            import ray

            ray.shutdown()
            _owned, _users = False, 0


@dataclass(frozen=True)
class NodeInfo:
    node_id: str
    address: str  # the node's IP, for messages
    cpus: int
    gpus: int


def alive_nodes(ray: Any) -> list[NodeInfo]:
    """The cluster's live nodes that have CPUs (a head started with --num-cpus 0 runs no
    jobs), in a stable order."""
    nodes = []
    for node in ray.nodes():
        resources = node.get("Resources", {})
        cpus = int(resources.get("CPU", 0))
        if node.get("Alive") and cpus > 0:
            nodes.append(NodeInfo(node_id=str(node["NodeID"]),
                                  address=str(node.get("NodeManagerAddress", "?")),
                                  cpus=cpus, gpus=int(resources.get("GPU", 0))))
    return sorted(nodes, key=lambda n: n.node_id)


def node_type() -> dict[str, Any]:
    """What makes this node's programs run faster or slower than another's (time limits):
    the processor and its architecture, not the host name or how many there are."""
    from harness.sandbox.calibration import cpu_model

    return {"cpu": cpu_model(), "machine": platform.machine()}


def types_digest(types: list[dict[str, Any]]) -> str:
    unique = sorted({json.dumps(t, sort_keys=True) for t in types})
    return hashlib.sha256("\n".join(unique).encode()).hexdigest()[:12]


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
