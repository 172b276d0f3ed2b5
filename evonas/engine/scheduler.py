"""The Ray pool's scheduler: work handed to each actor the moment it is free, results as they finish.

One object owns the actors and the work: ``submit`` queues cells (any time, also while others
are in flight), ``poll`` hands queued work to free actors and returns the cells finished since,
so a caller can keep every actor busy without a barrier (the asynchronous search) or drain a
finite batch (``drain``).

- A cell's scores are split by the kind of actor that runs them (GPU actors, and CPU actors
  beside them for scores that run no network on images) and merged back; a failed part fails
  the cell.
- Scores that time the device (``exclusive``, e.g. latency) run after the cell's other scores,
  with *their device* to themselves: the scheduler reserves one device (a GPU, or a node's CPUs),
  lets the work on it drain, times the cell there, and meanwhile every other device keeps
  scoring; a cluster of like devices times as many cells at once as it has devices.
- Never waits without bound: a cell with no result within ``task_timeout_s``, or, once the pool has
  timed ``STUCK_AFTER`` cells, within ``stuck_factor`` times the slowest of them (at least
  ``STUCK_FLOOR_S``; a hung node answers nothing, and Ray may take minutes to declare it dead), has
  its actor killed and replaced and is retried (up to ``max_retries`` times, then reported failed with the reason);
  a dead actor's cell is retried the same way; a replacement that has not started
  ``start_timeout_s`` after it was asked for is given up; when no actor of a kind is left, its
  cells are reported failed. A lost Ray node, each retry and the pool's size are logged when they
  happen.

No torch here: the actors are driven through Ray handles (``about``, ``score``).
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

from evonas.engine.cellwork import CellWork, Job
from evonas.engine.records import Evaluation, failed
from evonas.space.cell import Cell

__all__ = ["Scheduler", "Worker", "first_line"]

log = logging.getLogger("evonas")

#: how often (seconds) ``poll`` looks for lost Ray nodes while it waits
NODE_CHECK_S = 5.0
#: a call is presumed stuck after ``stuck_factor`` x the slowest call so far, but never before this many seconds
STUCK_FLOOR_S = 10.0
#: calls completed before the pool knows its cells' times well enough to presume one stuck
STUCK_AFTER = 20


def first_line(err: BaseException) -> str:
    """The root cause of a Ray error in one line (its last non-empty line)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[-1] if lines else type(err).__name__


@dataclass
class Worker:
    """What the scheduler knows of one actor: its kind, a label for the records, where it runs, and
    the device it shares with others (exclusive work has that device to itself)."""

    kind: str                 # "gpu" | "cpu"
    label: str                # e.g. "gpu0", "cpu3": the records' ``actor`` column
    node_id: str = ""         # the Ray node it runs on ("" until it has started)
    node: str = ""            # that node's address, for the records and the log
    device: str = "all"       # key of the device it shares; "all": unknown, so exclusive work has the pool
    since: float = field(default_factory=time.monotonic)  # when it started (or was asked for)

    def where(self) -> str:
        """e.g. "gpu1 on 10.0.0.7 (node 3551b505)"."""
        node = " ".join(x for x in (self.node, f"(node {self.node_id[:8]})" if self.node_id else "") if x)
        return f"{self.label}" + (f" on {node}" if node else "")


@dataclass
class _Task:
    """A call in flight on an actor: scoring ``job``, or its start-up (job None)."""

    actor: Any
    job: Job | None
    deadline: float           # time.monotonic()
    started: float = 0.0      # time.time(), for the records
    limit: float = 0.0        # the seconds it was given (``Scheduler._limit``)


class Scheduler:
    """The actors of one pool and the work queued for them (see the module's docstring).

    ``spawn(kind)`` starts one actor of a kind (its ``about`` and ``score`` methods are called);
    ``kill(actor)`` stops one; ``place(about)`` turns what a started actor says of itself
    (``Scorer.about``) into ``(node_id, node, device)`` and raises when the actor must not be used (another
    evonas than the driver's). ``scores``: the spec's scores; ``target_kind``: the kind that computes every
    score when not split (GPU when there are GPU actors); ``split``: whether CPU actors beside GPU ones
    take the scores ``beside(name)`` names.
    """

    def __init__(self, *, spawn: Callable[[str], Any], kill: Callable[[Any], None], scores: tuple[str, ...],
                 target_kind: str, split: bool, beside: Callable[[str], bool], max_retries: int,
                 task_timeout_s: float, start_timeout_s: float, stuck_factor: float = 0.0,
                 stuck_floor_s: float = STUCK_FLOOR_S,
                 place: Callable[[Mapping[str, Any]], tuple[str, str, str]] | None = None) -> None:
        self._spawn, self._kill, self._place_of = spawn, kill, place
        self.target_kind = target_kind
        self.max_retries, self.task_timeout_s, self.start_timeout_s = max_retries, task_timeout_s, start_timeout_s
        self.stuck_factor, self.stuck_floor_s = stuck_factor, stuck_floor_s  # 0: only task_timeout_s
        self.slowest = 0.0                            # the longest cell scored so far, by its worker's clock
        self.n_timed = 0                              # calls that returned
        self.workers: dict[Any, Worker] = {}          # every live actor (started or starting)
        self._count = {"gpu": 0, "cpu": 0}            # labels handed out per kind
        self.idle: list[Any] = []                     # started actors with nothing to do
        self.pending: dict[Any, _Task] = {}           # object ref -> call in flight
        self.queues: dict[str, deque[Job]] = {"gpu": deque(), "cpu": deque()}
        self.timing: deque[Job] = deque()            # exclusive jobs not yet given a device
        self.reserved: dict[str, Job] = {}           # device key -> the exclusive job that has it
        self.work = CellWork(scores, target_kind, split, beside)  # each cell's parts, merged as they come
        self.nodes: set[str] | None = None            # alive Ray node ids, as last seen
        self._nodes_seen = 0.0
        self.busy_s = 0.0                             # scoring seconds of every worker, the gone ones too
        self.worker_s = 0.0                           # seconds the gone workers were alive
        self.retries = 0

    # -- actors ------------------------------------------------------------------------------------

    def add(self, actor: Any, kind: str, about: Mapping[str, Any] | None = None) -> Worker:
        """Register a started actor (the pool's first ones, already awaited; ``about``: what it said of itself)."""
        worker = self._new_worker(actor, kind)
        if about is not None:
            self._place(worker, about)
        self.idle.append(actor)
        return worker

    def _new_worker(self, actor: Any, kind: str) -> Worker:
        worker = Worker(kind, f"{kind}{self._count[kind]}")
        self._count[kind] += 1
        self.workers[actor] = worker
        return worker

    def _place(self, worker: Worker, about: Mapping[str, Any]) -> None:
        if self._place_of is not None:
            worker.node_id, worker.node, worker.device = self._place_of(about)

    def _replace(self, actor: Any) -> None:
        """Kill ``actor`` and ask for a new one of its kind; its start-up is awaited like a call (the deadline
        counts from now, whatever the caller does meanwhile)."""
        kind = self.workers[actor].kind if actor in self.workers else self.target_kind
        self._drop(actor)
        new = self._spawn(kind)
        self._new_worker(new, kind)
        self.pending[new.about.remote()] = _Task(new, None, time.monotonic() + self.start_timeout_s)

    def _drop(self, actor: Any) -> None:
        self._kill(actor)
        worker = self.workers.pop(actor, None)
        if worker is not None:
            self.worker_s += time.monotonic() - worker.since
        if actor in self.idle:
            self.idle.remove(actor)

    @property
    def num_workers(self) -> int:
        return len(self.workers)

    def utilisation(self) -> float:
        """The share of the workers' time (since each started, the gone ones included) spent scoring, by the
        workers' own clocks (a result waiting for the driver to take it is not scoring)."""
        now = time.monotonic()
        alive = self.worker_s + sum(now - w.since for w in self.workers.values())
        return self.busy_s / alive if alive > 0 else 0.0

    # -- work --------------------------------------------------------------------------------------

    @property
    def outstanding(self) -> int:
        """Cells submitted and not yet returned by ``poll``."""
        return self.work.outstanding

    def submit(self, cells: Iterable[Cell], only: Mapping[str, tuple[str, ...]] | None = None, *,
               exclusive: bool = False) -> None:
        """Queue ``cells`` (``only[arch]``: just these scores of that cell). The scores that time the device
        are timed after the others, with their device to themselves; ``exclusive``: every score is."""
        for job in self.work.plan(cells, only, exclusive=exclusive):
            self._queue(job)

    def _queue(self, job: Job, *, front: bool = False) -> None:
        queue = self.timing if job.exclusive else self.queues[job.kind]
        queue.appendleft(job) if front else queue.append(job)

    def poll(self, timeout: float | None = None) -> list[Evaluation]:
        """Hand queued work to free actors and return the cells finished since the last poll, waiting up to
        ``timeout`` seconds (None: until at least one finishes) when none has; [] when nothing is outstanding."""
        import ray

        until = None if timeout is None else time.monotonic() + timeout
        while not self.work.done and self.work.parts_left:
            self._dispatch()
            self._fail_orphans()
            if self.work.done or not self.pending:
                break
            now = time.monotonic()
            wait_s = min([t.deadline for t in self.pending.values()] + [now + NODE_CHECK_S]) - now
            if until is not None:
                wait_s = min(wait_s, until - now)
            refs = list(self.pending)
            ready, _ = ray.wait(refs, num_returns=1, timeout=max(0.0, wait_s))
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)  # everything finished by now
                for ref in ready:
                    self._complete(ref)
            self._expire()  # also while others keep finishing: a stuck call is not hidden by a busy pool
            if time.monotonic() - self._nodes_seen >= NODE_CHECK_S:
                self.check_nodes()
            if until is not None and time.monotonic() >= until:
                break
        self._dispatch()  # the actors just freed start on the next work before the caller sees the results
        return self.work.take_done()

    def drain(self) -> Iterator[Evaluation]:
        """Every outstanding cell's evaluation, as each finishes."""
        while self.outstanding:
            yield from self.poll()

    # -- inside ------------------------------------------------------------------------------------

    def _busy_on(self, device: str) -> int:
        """Scoring calls in flight on ``device``."""
        return sum(1 for t in self.pending.values()
                   if t.job is not None and t.actor in self.workers and self.workers[t.actor].device == device)

    def _dispatch(self) -> None:
        if self.timing or self.reserved:
            self._dispatch_exclusive()
        for kind, queue in self.queues.items():
            if not queue:
                continue
            for actor in [a for a in self.idle if self.workers[a].kind == kind
                          and self.workers[a].device not in self.reserved]:
                if not queue:
                    break
                self._start(actor, queue.popleft())

    def _dispatch_exclusive(self) -> None:
        """Each waiting exclusive job reserves a device of its kind: no new work goes there until it is timed."""
        starting = {t.actor for t in self.pending.values() if t.job is None}
        devices = {w.device for a, w in self.workers.items() if w.kind == self.target_kind and a not in starting}
        for key in [k for k in self.reserved if k not in devices]:  # its device is gone: the job waits for another
            self._queue(self.reserved.pop(key), front=True)
        free = sorted(devices - set(self.reserved), key=self._busy_on)
        while self.timing and free:
            self.reserved[free.pop(0)] = self.timing.popleft()
        running = {id(t.job) for t in self.pending.values()}
        for key, job in self.reserved.items():
            if id(job) in running or self._busy_on(key):
                continue
            actor = next((a for a in self.idle if self.workers[a].device == key and self.workers[a].kind == job.kind),
                         None)
            if actor is not None:
                self._start(actor, job)

    def _start(self, actor: Any, job: Job) -> None:
        self.idle.remove(actor)
        ref, limit = actor.score.remote(job.cell.arch, job.scores), self._limit(job)
        self.pending[ref] = _Task(actor, job, time.monotonic() + limit, time.time(), limit)

    def _limit(self, job: Job) -> float:
        """Seconds a call may take: ``task_timeout_s``, or less once the pool knows its cells' times (never on a
        cell's last attempt, so that a cell slower than any before is not failed for it)."""
        if not self.stuck_factor or self.n_timed < STUCK_AFTER or job.attempt > self.max_retries:
            return self.task_timeout_s
        return min(self.task_timeout_s, max(self.stuck_floor_s, self.stuck_factor * self.slowest))

    def _release(self, job: Job) -> None:
        """An exclusive job is over (or failed): its device takes other work again."""
        for key in [k for k, held in self.reserved.items() if held is job]:
            del self.reserved[key]

    def _fail_orphans(self) -> None:
        """Fail the queued work of a kind no actor is left for (and none is starting)."""
        alive = {w.kind for w in self.workers.values()}
        for kind, queue in (*self.queues.items(), (self.target_kind, self.timing)):
            if kind in alive:
                continue
            while queue:
                job = queue.popleft()
                self._settle(job, failed(job.cell, "no Ray scoring worker is left (replacements failed to start)",
                                         job.attempt))

    def _complete(self, ref: Any) -> None:
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        task = self.pending.pop(ref)
        worker = self.workers.get(task.actor)
        try:
            out = ray.get(ref)
        except RayActorError as err:
            if task.job is not None:
                self.busy_s += time.time() - task.started
            self.check_nodes()
            if task.job is None:  # a replacement died while starting: the pool shrinks
                self._drop(task.actor)
                log.warning(f"a replacement Ray worker could not start ({first_line(err)}); the pool has "
                            f"{self.num_workers} worker(s)")
                return
            self._replace(task.actor)
            self._retry_or_fail(task, worker, f"worker died: {type(err).__name__}: {first_line(err)}")
            return
        except RayTaskError as err:
            if task.job is None:
                self._drop(task.actor)
                log.warning(f"a replacement Ray worker could not start ({first_line(err)}); the pool has "
                            f"{self.num_workers} worker(s)")
                return
            self.idle.append(task.actor)
            self._release(task.job)
            self._settle(task.job, failed(task.job.cell, f"{type(err).__name__}: {err}", task.job.attempt))
            return
        if task.job is None:  # a replacement started: where is it, and does it run the driver's evonas?
            try:
                self._place(worker, out)
            except Exception as err:  # noqa: BLE001 (a worker that must not be used is let go, and said so)
                self._drop(task.actor)
                log.warning(f"a replacement Ray worker was let go: {err}; the pool has {self.num_workers} worker(s)")
                return
            worker.since = time.monotonic()
            self.idle.append(task.actor)
            log.info(f"a replacement Ray worker started ({worker.where()}); the pool has {self.num_workers} worker(s)")
            return
        self.idle.append(task.actor)
        self._release(task.job)
        out.attempts, out.started, out.ended = task.job.attempt, task.started, time.time()
        self.busy_s += out.wall_time  # the worker's own time: not the wait for the driver to see the result
        # the worker's own time (a first call's set-up and the driver's delays are not the cell's)
        self.slowest, self.n_timed = max(self.slowest, out.wall_time or out.ended - out.started), self.n_timed + 1
        if worker is not None:
            out.actor, out.node = worker.label, worker.node
        self._settle(task.job, out)

    def _expire(self) -> None:
        now = time.monotonic()
        for ref in [r for r, t in self.pending.items() if t.deadline <= now]:
            task = self.pending.pop(ref)
            worker = self.workers.get(task.actor)
            if task.job is None:
                self._drop(task.actor)
                log.warning(f"a replacement Ray worker did not start within {self.start_timeout_s:g} s of being asked "
                            f"for (ray.start_timeout_s); given up, the pool has {self.num_workers} worker(s)")
                continue
            self.busy_s += time.time() - task.started
            self._replace(task.actor)
            self.check_nodes()
            if task.limit < self.task_timeout_s:
                reason = (f"no result after {task.limit:.0f} s, {self.stuck_factor:g} x the slowest cell so far "
                          f"({self.slowest:.1f} s; ray.stuck_factor): presumed stuck, the worker was killed")
            else:
                reason = f"no result within {self.task_timeout_s:g} s (ray.task_timeout_s); the worker was killed"
            self._retry_or_fail(task, worker, reason)

    def _retry_or_fail(self, task: _Task, worker: Worker | None, reason: str) -> None:
        job = task.job
        self._release(job)
        where = f" on {worker.where()}" if worker is not None else ""
        if job.attempt <= self.max_retries:
            self.retries += 1
            log.warning(f"cell {job.cell.arch}{where}: {reason}; retrying (attempt {job.attempt + 1} of "
                        f"{self.max_retries + 1})")
            job.attempt += 1
            self._queue(job, front=True)
            return
        self._settle(job, failed(job.cell, f"{reason} (in {job.attempt} attempt(s))", job.attempt))

    def _settle(self, job: Job, ev: Evaluation) -> None:
        """One part in: the device-timing part it makes due, if any, is queued."""
        then = self.work.settle(job, ev)
        if then is not None:
            self._queue(then)

    def check_nodes(self) -> None:
        """Log the Ray nodes lost since the last look, and replace the idle workers that were on them (a busy
        one's call fails and is retried)."""
        import ray

        self._nodes_seen = time.monotonic()
        try:
            nodes = ray.nodes()
        except Exception:  # noqa: BLE001 (the GCS itself is gone: the retries will say so)
            return
        alive = {n["NodeID"] for n in nodes if n.get("Alive")}
        if self.nodes is not None:
            for node in nodes:
                if node["NodeID"] not in self.nodes - alive:
                    continue
                gone = [a for a, w in self.workers.items() if w.node_id == node["NodeID"]]
                for actor in [a for a in gone if a in self.idle]:
                    self._replace(actor)
                log.warning(f"Ray node {node.get('NodeManagerAddress', '?')} ({node['NodeID'][:8]}) was lost with "
                            f"{len(gone)} worker(s); they are replaced where the cluster has room and their cells "
                            f"retried; the pool has {self.num_workers} worker(s)")
        self.nodes = alive

    def close(self) -> None:
        for actor in list(self.workers):
            self._kill(actor)
        self.workers.clear()
        self.idle.clear()
        self.pending.clear()
