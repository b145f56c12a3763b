"""``--replicas N``: data-parallel generation with N copies of the model as Ray actors.

Each replica is an actor holding the real backend (``create_backend(spec, ...)``) on its
own GPU (vLLM: its own ``tensor_parallel_size x pipeline_parallel_size`` GPUs, in a
placement group that vLLM's Ray executor fills), or on CPU cores when the cluster has no
GPUs. Requests (whole problems, so a prompt is encoded once) are sharded across the
replicas by work (samples x max_new_tokens), and completions are yielded as each replica
streams them back.

Sample ``i`` of a problem is the same whatever the number of replicas: every backend
derives its seed from (request seed, sample index, prompt) alone
(:func:`~harness.backends.prompting.sample_seed`). A replica that dies mid-run has its
unfinished samples sent to the others; an error raised by the backend itself (a bad
prompt, a bad option) ends the run as it would without replicas.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from harness.backends import BackendContext, ModelAPI, ModelSpec, create_backend
from harness.backends.registry import backends
from harness.distributed.cluster import connect, first_line, release
from harness.errors import HarnessError
from harness.records import Completion, GenerationRequest

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 1800.0  # a large model's download and load


class ModelReplica:
    """One copy of the model (a plain class; ``ray.remote`` wraps it)."""

    def __init__(self, spec_fields: dict[str, Any], context_fields: dict[str, Any]) -> None:
        self.backend = create_backend(ModelSpec(**spec_fields), BackendContext(**context_fields))

    def fingerprint(self) -> str:
        return self.backend.fingerprint()

    def generate(self, requests: list[GenerationRequest]) -> Iterator[Completion]:
        yield from self.backend.generate(requests)

    def close(self) -> None:
        self.backend.close()


@dataclass
class _Replica:
    rank: int
    actor: Any
    placement_group: Any = None
    alive: bool = True


@dataclass
class _Share:
    """What one replica was asked for and has not delivered yet."""

    replica: _Replica
    stream: Any  # the ObjectRefGenerator of its generate call
    requests: dict[str, GenerationRequest]
    missing: set[tuple[str, int]] = field(default_factory=set)


def replica_resources(spec: ModelSpec, replicas: int, cluster_gpus: float
                      ) -> tuple[int, int]:
    """(GPUs, CPUs) each replica takes: vLLM one GPU per tensor x pipeline parallel rank,
    the transformers backend one GPU; CPU replicas one core each."""
    if spec.backend == "vllm":
        if int(spec.options.get("data_parallel_size", 1)) > 1:
            raise HarnessError(f"model {spec.name!r}: use options.data_parallel_size or "
                               "--replicas, not both")
        gpus = int(spec.options.get("tensor_parallel_size", 1)) * int(
            spec.options.get("pipeline_parallel_size", 1))
    elif spec.backend == "hf":
        gpus = 1
    else:
        return 0, 1
    if spec.device == "cpu" or cluster_gpus == 0:
        return 0, 1
    if cluster_gpus < replicas * gpus:
        raise HarnessError(f"--replicas {replicas} x {gpus} GPU(s) each needs "
                           f"{replicas * gpus} GPUs; the Ray cluster has {cluster_gpus:g}")
    return gpus, 1


def shard(requests: Sequence[GenerationRequest], size: int) -> list[list[GenerationRequest]]:
    """Requests split into ``size`` shards of about equal work (samples x max tokens)."""
    shards: list[list[GenerationRequest]] = [[] for _ in range(size)]
    loads = [0] * size
    for request in sorted(requests, key=lambda r: -len(r.sample_indices) * r.params.max_new_tokens):
        rank = loads.index(min(loads))
        shards[rank].append(request)
        loads[rank] += len(request.sample_indices) * request.params.max_new_tokens
    return shards


class ReplicatedBackend(ModelAPI):
    """``replicas`` copies of one backend on a Ray cluster, used as one backend."""

    def __init__(self, spec: ModelSpec, context: BackendContext, replicas: int,
                 address: str | None) -> None:
        super().__init__(spec, context)
        # Completions are cached exactly when the replicated backend's would be.
        setattr(self, "cacheable", backends.get(spec.backend).cacheable)  # noqa: B010
        self._ray = connect(address, "--replicas needs Ray")
        self._replicas: list[_Replica] = []
        try:
            self._start(replicas)
        except BaseException:
            self.close()
            raise

    def _start(self, count: int) -> None:
        ray = self._ray
        gpus, cpus = replica_resources(self.spec, count,
                                       float(ray.cluster_resources().get("GPU", 0)))
        spec = self.spec
        if spec.backend == "vllm" and gpus > 1:
            # vLLM spreads a tensor/pipeline parallel engine over Ray workers of its own,
            # in the placement group the replica runs in.
            engine_args = {**spec.options.get("engine_args", {}),
                           "distributed_executor_backend": "ray"}
            spec = spec.model_copy(update={"options": {**spec.options,
                                                       "engine_args": engine_args}})
        context_fields = {"cache_dir": self.context.cache_dir,
                          "batch_size": self.context.batch_size,
                          "base_url": self.context.base_url, "show_progress": False,
                          "extra": dict(self.context.extra)}
        remote = ray.remote(ModelReplica)
        for rank in range(count):
            options: dict[str, Any] = {"num_cpus": cpus, "num_gpus": gpus, "max_restarts": 0}
            group = None
            if spec.backend == "vllm" and gpus > 1:
                from ray.util.placement_group import placement_group
                from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

                group = placement_group([{"GPU": 1, "CPU": 1}] * gpus, strategy="STRICT_PACK")
                options.update(num_gpus=0, num_cpus=0, scheduling_strategy=(
                    PlacementGroupSchedulingStrategy(
                        placement_group=group, placement_group_capture_child_tasks=True)))
            actor = remote.options(**options).remote(spec.model_dump(), context_fields)
            self._replicas.append(_Replica(rank, actor, group))
        log.info("starting %d replicas of %s (%d GPU(s), %d CPU(s) each)", count, spec.name,
                 gpus, cpus)
        refs = [replica.actor.fingerprint.remote() for replica in self._replicas]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=STARTUP_TIMEOUT_S)
        if len(ready) < len(refs):
            raise HarnessError(f"{len(refs) - len(ready)} of {count} model replicas did not "
                               f"start within {STARTUP_TIMEOUT_S:g}s (not enough free GPUs "
                               "or CPUs in the Ray cluster?)")
        prints = set()
        for ref in refs:
            try:
                prints.add(ray.get(ref))
            except Exception as exc:
                raise HarnessError(f"a model replica failed to start: {_cause(exc)}") from exc
        if len(prints) != 1:
            raise HarnessError(f"the model replicas load different models: {sorted(prints)}")
        self._fingerprint = prints.pop()

    def fingerprint(self) -> str:
        return self._fingerprint

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[Completion]:
        ray = self._ray
        shares: list[_Share] = []
        alive = [r for r in self._replicas if r.alive]
        for replica, part in zip(alive, shard(requests, len(alive)), strict=True):
            if part:
                shares.append(self._send(replica, part))
        while shares:
            ready, _ = ray.wait([share.stream for share in shares], num_returns=1)
            share = next(s for s in shares if s.stream == ready[0])
            try:
                ref = next(share.stream)
                completion: Completion = ray.get(ref)
            except StopIteration:
                shares.remove(share)
                continue
            except Exception as exc:
                shares.remove(share)
                shares.extend(self._reassign(share, exc))
                continue
            share.missing.discard((completion.key, completion.sample))
            yield replace(completion, extra={**completion.extra, "replica": share.replica.rank})

    def _send(self, replica: _Replica, requests: list[GenerationRequest]) -> _Share:
        stream = replica.actor.generate.options(num_returns="streaming").remote(requests)
        missing = {(r.key, i) for r in requests for i in r.sample_indices}
        return _Share(replica, stream, {r.key: r for r in requests}, missing)

    def _reassign(self, share: _Share, exc: Exception) -> list[_Share]:
        """A replica failed: its unfinished samples go to the live ones; an error of the
        backend itself (not of the replica's process) ends the run."""
        from ray.exceptions import RayActorError

        if not isinstance(exc, RayActorError):
            raise HarnessError(f"model replica {share.replica.rank}: {_cause(exc)}") from exc
        share.replica.alive = False
        alive = [r for r in self._replicas if r.alive]
        if not alive:
            raise HarnessError(f"every model replica was lost ({_cause(exc)}); rerun the "
                               "same command to resume") from exc
        todo: dict[str, list[int]] = {}
        for key, sample in sorted(share.missing):
            todo.setdefault(key, []).append(sample)
        requests = [replace(share.requests[key], sample_indices=tuple(samples))
                    for key, samples in todo.items()]
        log.warning("model replica %d was lost (%s); its %d unfinished samples go to the "
                    "other %d replicas", share.replica.rank, _cause(exc), len(share.missing),
                    len(alive))
        return [self._send(replica, part)
                for replica, part in zip(alive, shard(requests, len(alive)), strict=True) if part]

    def close(self) -> None:
        ray = self._ray
        if ray is None:
            return
        replicas, self._replicas = self._replicas, []
        try:
            refs = [r.actor.close.remote() for r in replicas if r.alive]
            if refs:
                ray.wait(refs, num_returns=len(refs), timeout=120)
            for replica in replicas:
                with contextlib.suppress(Exception):
                    ray.kill(replica.actor)
                if replica.placement_group is not None:
                    from ray.util.placement_group import remove_placement_group

                    with contextlib.suppress(Exception):
                        remove_placement_group(replica.placement_group)
        finally:
            self._ray = None
            release()


def _cause(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None)
    return first_line(cause if isinstance(cause, BaseException) else exc)
