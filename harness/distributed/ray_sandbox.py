"""``--executor ray``: a :class:`Sandbox` whose workers are the nodes of a Ray cluster.

Each live node with CPUs gets one actor (:class:`~harness.distributed.node_pool.NodePool`,
pinned to the node) holding that node's own sandbox with ``workers`` workers (default: the
node's CPUs). The driver, this object, keeps each node's queue ``depth`` jobs deep, sends
jobs in batches, and reads outcomes back in batches as they finish; it is the only process
that sees outcomes, so the run folder and the caches are written by the driver alone.

Exactly once: every job has a tag and belongs to one node until its outcome is read. When a
node dies (its actor fails, the node leaves the cluster, its sandbox breaks), the jobs it
owned go back to the front of the queue and run on the other nodes; an outcome is accepted
only from the node that owns the job, so nothing is lost and nothing is counted twice.
Nodes that join during a run are taken in when they run the same sandbox.

Verdicts are the local executor's: the nodes run the same sandbox code, the limits travel
inside each job (calibrated through this same sandbox, i.e. on the cluster's nodes), and a
starved job's timeout is re-run (``run_retrying``) like the local pool does, on whichever
node is free. Call jobs' outputs come back to the driver, which alone checks them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from harness.distributed.cluster import (
    NodeInfo,
    alive_nodes,
    connect,
    first_line,
    release,
    types_digest,
)
from harness.distributed.node_pool import NodePool, Packed
from harness.errors import HarnessError
from harness.sandbox import ExecJob, Outcome, Sandbox, Status

log = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 300.0  # a node's sandbox start (docker may pull or build its image)
POLL_WAIT_S = 5.0  # a poll with nothing to report returns after this long
LINGER_S = 0.2  # after a first outcome, a poll waits up to this long for more (fewer calls)
MAX_BATCH = 1024  # outcomes per poll answer at most
REFRESH_S = 10.0  # how often to look for nodes that joined
NODE_WAIT_S = 60.0  # with every node lost, how long to wait for a new one
CLOSE_TIMEOUT_S = 60.0
ACTOR_THREADS = 4  # poll, submit, clear/close can run at the same time in a node's actor
# A node's queue: the jobs running (one per worker), one waiting per worker (what keeps the
# workers busy while the driver reads a poll's answer and sends the refill), and one more
# per worker plus this slack, which finish before a poll answers: so each answer holds
# about one outcome per worker plus the slack. A lost node's queue runs elsewhere, and at
# the end of a run the queues drain unevenly, so it stays small.
QUEUE_SLACK = 4


@dataclass
class _Node:
    info: NodeInfo
    actor: Any
    workers: int
    depth: int
    label: str
    poll: Any = None  # the outstanding poll's ObjectRef
    said_idle: bool = True


@dataclass
class _Stream:
    """One ``run`` call's book-keeping: which node owns which job."""

    source: Iterator[ExecJob]
    retries: int
    exhausted: bool = False
    pending: deque[int] = field(default_factory=deque)  # tags to send, next first
    entries: dict[int, list[Any]] = field(default_factory=dict)  # tag -> [job, retries left]
    owned: dict[str, set[int]] = field(default_factory=dict)  # node id -> its unreported tags

    @property
    def done(self) -> bool:
        return self.exhausted and not self.pending and not any(self.owned.values())


class RaySandbox(Sandbox):
    """Runs jobs on every node of a Ray cluster, each in that node's own sandbox."""

    name = "ray"

    def __init__(self, inner: str | None = None, workers: int | None = None,
                 address: str | None = None, *, factory: Callable[[int], Sandbox] | None = None,
                 queue_depth: int | None = None, linger_s: float = LINGER_S,
                 refresh_s: float = REFRESH_S) -> None:
        if workers is not None and workers < 1:
            raise HarnessError(f"the sandbox needs at least 1 worker per node, got {workers}")
        super().__init__(workers or 1)
        self.inner = inner
        self.per_node = workers
        self.address = address
        self.factory = factory  # benchmarks: a sandbox class instead of a registered name
        self.queue_depth = queue_depth
        self.linger_s = linger_s
        self.refresh_s = refresh_s  # how often to look for nodes that joined
        self._ray: Any = None
        self._remote: Any = None
        self._nodes: dict[str, _Node] = {}
        self._starting: dict[Any, tuple[NodeInfo, Any]] = {}  # describe ref -> (node, actor)
        self._gone: set[str] = set()  # node ids lost or refused: never used again
        self._identity = ""
        self._inner_identity = ""
        self._types: list[str] = []
        self._tag = 0
        self._submission = 0
        self._refreshed = 0.0
        self.answers = 0  # poll answers read, and the outcomes in them (batching, for benchmarks)
        self.answered = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def nodes(self) -> list[str]:
        """The nodes in use (their labels), for messages and tests."""
        return [node.label for node in self._nodes.values()]

    def start(self) -> None:
        if self._ray is not None:
            return
        self._ray = connect(self.address)
        try:
            self._open_nodes()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        ray = self._ray
        if ray is None:
            return
        self._ray = None
        actors = [node.actor for node in self._nodes.values()]
        actors += [actor for _, actor in self._starting.values()]
        self._nodes.clear()
        self._starting.clear()
        try:
            refs = [actor.close.remote() for actor in actors]
            if refs:
                ray.wait(refs, num_returns=len(refs), timeout=CLOSE_TIMEOUT_S)
            for actor in actors:
                with contextlib.suppress(Exception):
                    ray.kill(actor)
        finally:
            release()

    def identity(self) -> str:
        """The nodes' common sandbox identity plus the kinds of node (processor, architecture)
        it ran on: time limits and so verdicts depend on them; host names and counts not."""
        self.start()
        return self._identity

    def _open_nodes(self) -> None:
        ray = self._ray
        nodes = alive_nodes(ray)
        if not nodes:
            raise HarnessError("the Ray cluster has no live node with CPUs")
        launched = {self._launch(node): node for node in nodes}
        ready, _ = ray.wait(list(launched), num_returns=len(launched), timeout=STARTUP_TIMEOUT_S)
        described: list[tuple[NodeInfo, Any, dict[str, Any]]] = []
        errors: list[str] = []
        for ref, node in launched.items():
            actor = self._starting.pop(ref)[1]
            if ref not in ready:
                errors.append(f"node {node.address}: the sandbox did not start within "
                              f"{STARTUP_TIMEOUT_S:g}s")
                self._refuse(node, actor)
                continue
            try:
                described.append((node, actor, ray.get(ref)))
            except Exception as exc:
                errors.append(f"node {node.address}: {_actor_error(exc)}")
                self._refuse(node, actor)
        for error in errors:
            log.warning("not using Ray %s", error)
        if not described:
            raise HarnessError(f"no Ray node could start the sandbox: {errors[0]}")
        identities = sorted({info["identity"] for _, _, info in described})
        if len(identities) > 1:
            by_node = ", ".join(f"{node.address}: {info['identity']}"
                                for node, _, info in described)
            raise HarnessError("the Ray nodes' sandboxes differ, so verdicts would depend on "
                               "the node (give every node the same sandbox interpreter and "
                               f"--sandbox): {by_node}")
        self._inner_identity = identities[0]
        types = [info["type"] for _, _, info in described]
        self._types = sorted({str(sorted(t.items())) for t in types})
        self._identity = f"{self._inner_identity}@nodes:{types_digest(types)}"
        for node, actor, info in described:
            self._admit(node, actor, info)
        self.workers = sum(node.workers for node in self._nodes.values())
        name = described[0][2]["name"]
        log.info("Ray executor: %d nodes, %d %s workers", len(self._nodes), self.workers, name)
        if name == "local":
            log.warning("sandbox 'local' on the Ray nodes: generated code is NOT isolated; "
                        "use --sandbox bwrap or docker for untrusted code")
        self._refreshed = time.monotonic()

    def _launch(self, node: NodeInfo) -> Any:
        ray = self._ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        if self._remote is None:
            self._remote = ray.remote(NodePool)
        workers = self.per_node or node.cpus
        # num_cpus=0: the pool's workers use the node's cores outside Ray's accounting, and
        # a run scheduled as a Ray task (sweeps) must not wait for CPUs its own pools hold.
        actor = self._remote.options(
            num_cpus=0, max_concurrency=ACTOR_THREADS, max_restarts=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node.node_id, soft=False),
        ).remote(self.inner, workers, self.factory)
        ref = actor.describe.remote()
        self._starting[ref] = (node, actor)
        return ref

    def _admit(self, node: NodeInfo, actor: Any, info: dict[str, Any]) -> None:
        workers = int(info["workers"])
        depth = self.queue_depth or 3 * workers + QUEUE_SLACK
        label = f"{info['host']} ({node.address}, node {node.node_id[:8]})"
        self._nodes[node.node_id] = _Node(node, actor, workers, depth, label)

    def _refuse(self, node: NodeInfo, actor: Any) -> None:
        self._gone.add(node.node_id)
        with contextlib.suppress(Exception):
            self._ray.kill(actor)

    # ------------------------------------------------------------------ running jobs

    def run(self, jobs: Iterable[ExecJob]) -> Iterator[tuple[ExecJob, Outcome]]:
        return self._stream(jobs, 0)

    def run_retrying(self, jobs: Iterable[ExecJob], retry_timeouts: int
                     ) -> Iterator[tuple[ExecJob, Outcome]]:
        # A timed-out job goes back to the front of the queue: it is re-run next, on
        # whichever node has room, interleaved with the other jobs.
        return self._stream(jobs, retry_timeouts)

    def _stream(self, jobs: Iterable[ExecJob], retries: int
                ) -> Iterator[tuple[ExecJob, Outcome]]:
        self.start()
        ray = self._ray
        stream = _Stream(iter(jobs), retries)
        finished = False
        try:
            while True:
                for node in list(self._nodes.values()):
                    self._top_up(stream, node)
                if stream.done:
                    finished = True
                    return
                if not self._nodes:
                    self._await_nodes(stream)
                    continue
                polls = {node.poll: node for node in self._nodes.values()}
                ready, _ = ray.wait([*polls, *self._starting], num_returns=1,
                                    timeout=self.refresh_s)
                for ref in ready:
                    if ref in self._starting:
                        self._take_in(ref)
                    else:
                        yield from self._receive(stream, polls[ref], ref)
                if time.monotonic() - self._refreshed > self.refresh_s:
                    self._look_for_nodes()
        finally:
            if not finished:  # abandoned or failed: the nodes' queued jobs are stale
                for node in self._nodes.values():
                    node.actor.clear.remote()
                    node.said_idle = True

    def _top_up(self, stream: _Stream, node: _Node) -> None:
        """Fill the node's queue to its depth, tell it when nothing more is coming, and
        keep one poll outstanding; a refill after a poll's answer rides on the next poll
        (one call per round trip, not two)."""
        mine = stream.owned.setdefault(node.info.node_id, set())
        batch: list[ExecJob] = []
        while len(mine) < node.depth:
            if not stream.pending:
                if stream.exhausted:
                    break
                job = next(stream.source, None)
                if job is None:
                    stream.exhausted = True
                    break
                self._tag += 1
                stream.entries[self._tag] = [job, stream.retries]
                stream.pending.append(self._tag)
            tag = stream.pending.popleft()
            batch.append(replace(stream.entries[tag][0], job_id=str(tag)))
            mine.add(tag)
        idle = stream.exhausted and not stream.pending
        if node.poll is None:
            self._submission += 1
            node.poll = node.actor.exchange.remote(self._submission, batch, idle, POLL_WAIT_S,
                                                   self.linger_s, MAX_BATCH)
            node.said_idle = idle
        elif batch or (idle and not node.said_idle):
            self._submission += 1
            node.actor.submit.remote(self._submission, batch, idle)
            node.said_idle = idle

    def _receive(self, stream: _Stream, node: _Node, ref: Any
                 ) -> Iterator[tuple[ExecJob, Outcome]]:
        try:
            batch: list[Packed] = self._ray.get(ref)
        except Exception as exc:
            self._lose(stream, node, _actor_error(exc))
            return
        node.poll = None  # the next top-up sends the refill with the next poll
        self.answers += 1
        self.answered += len(batch)
        mine = stream.owned.setdefault(node.info.node_id, set())
        for tag, status, detail, duration, stdout, stderr, calls, cpu, starved, fault in batch:
            if tag not in mine:
                continue  # a job of an earlier, abandoned run
            mine.discard(tag)
            entry = stream.entries[tag]
            if status == "timeout" and starved and entry[1] > 0:
                entry[1] -= 1
                stream.pending.appendleft(tag)
                continue
            del stream.entries[tag]
            yield entry[0], Outcome(Status(status), detail, duration, stdout, stderr,
                                    calls=calls, cpu_s=cpu, starved=starved,
                                    sandbox_fault=fault)

    def _lose(self, stream: _Stream, node: _Node, reason: str) -> None:
        """The node is gone: its unreported jobs go back to the front of the queue."""
        node_id = node.info.node_id
        self._nodes.pop(node_id, None)
        self._gone.add(node_id)
        with contextlib.suppress(Exception):
            self._ray.kill(node.actor)
        unfinished = sorted(stream.owned.pop(node_id, set()))
        stream.pending.extendleft(reversed(unfinished))
        self.workers = sum(n.workers for n in self._nodes.values()) or 1
        log.warning("lost Ray node %s (%s); its %d unfinished jobs go to the other %d nodes",
                    node.label, reason, len(unfinished), len(self._nodes))

    # ------------------------------------------------------------------ nodes joining

    def _look_for_nodes(self) -> None:
        self._refreshed = time.monotonic()
        known = set(self._nodes) | set(self._gone) | {n.node_id for n, _ in
                                                        self._starting.values()}
        for node in alive_nodes(self._ray):
            if node.node_id not in known:
                self._launch(node)

    def _take_in(self, ref: Any) -> None:
        node, actor = self._starting.pop(ref)
        try:
            info = self._ray.get(ref)
        except Exception as exc:
            log.warning("not using Ray node %s: %s", node.address, _actor_error(exc))
            self._refuse(node, actor)
            return
        kind = str(sorted(info["type"].items()))
        if info["identity"] != self._inner_identity or kind not in self._types:
            log.warning("not using Ray node %s, which joined during the run: its sandbox or "
                        "processor differs from the others' (%s)", node.address,
                        info["identity"] if info["identity"] != self._inner_identity else kind)
            self._refuse(node, actor)
            return
        self._admit(node, actor, info)
        self.workers = sum(n.workers for n in self._nodes.values())
        log.info("Ray node %s joined: %d workers", self._nodes[node.node_id].label,
                 self._nodes[node.node_id].workers)

    def _await_nodes(self, stream: _Stream) -> None:
        """Every node is lost: wait a while for one to (re)join, else give up."""
        deadline = time.monotonic() + NODE_WAIT_S
        while not self._nodes and time.monotonic() < deadline:
            if not self._starting:
                self._look_for_nodes()
            if self._starting:
                ready, _ = self._ray.wait(list(self._starting), num_returns=1, timeout=5.0)
                for ref in ready:
                    self._take_in(ref)
            else:
                time.sleep(2.0)
        if not self._nodes:
            unfinished = len(stream.pending) + sum(len(t) for t in stream.owned.values())
            raise HarnessError(f"every Ray node was lost; {unfinished} jobs are unfinished "
                               "(rerun the same command to resume)")


def _actor_error(exc: BaseException) -> str:
    """A one-line reason from a Ray actor error (its cause, when it has one)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return first_line(cause)
    return first_line(exc)
