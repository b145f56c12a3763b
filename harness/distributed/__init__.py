"""Scale-out on Ray: execution on every node of a cluster, data-parallel model replicas,
and sweeps of (model, task) runs. Optional: Ray (``pip install 'harness[ray]'``) is
imported only when one of these is asked for; the default single-machine path never
imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.backends import BackendContext, ModelAPI, ModelSpec
    from harness.sandbox import Sandbox

EXECUTORS = ("local", "ray")


def open_executor_sandbox(executor: str, inner: str | None, workers: int | None,
                          address: str | None) -> Sandbox:
    """The sandbox for ``--executor``: ``local`` is the plain sandbox of this machine
    (``inner``, ``workers`` in all); ``ray`` runs ``inner`` on every node of the cluster at
    ``address`` (``workers`` per node, default each node's CPUs)."""
    if executor == "local":  # ``address`` may still serve model replicas
        from harness.sandbox import open_sandbox

        return open_sandbox(inner, workers)
    if executor == "ray":
        from harness.distributed.cluster import import_ray

        import_ray()  # a missing Ray is one line here, before any work starts
        from harness.distributed.ray_sandbox import RaySandbox

        return RaySandbox(inner, workers, address)
    raise HarnessError(f"unknown executor {executor!r} (use {' or '.join(EXECUTORS)})")


def maybe_replicate(spec: ModelSpec, context: BackendContext, replicas: int,
                    address: str | None) -> ModelAPI:
    """The model as ``replicas`` data-parallel Ray actors (one per GPU, or per tensor/pipeline
    parallel group for vLLM) behind one backend; with one replica, the plain backend."""
    if replicas < 1:
        raise HarnessError(f"--replicas must be at least 1, got {replicas}")
    if replicas == 1:
        from harness.backends import create_backend

        return create_backend(spec, context)
    from harness.distributed.cluster import import_ray

    import_ray("--replicas needs Ray")
    from harness.distributed.replicas import ReplicatedBackend

    return ReplicatedBackend(spec, context, replicas, address)


__all__ = ["EXECUTORS", "maybe_replicate", "open_executor_sandbox"]
