"""Routing a deployment's requests to its replicas: the less loaded of two random
replicas with a free slot ("power of two choices"), as Ray Serve's router; a
request for a multiplexed model prefers a replica that served that model, and a
request of a session (``handle.options(session_id=...)``, the HTTP header
``x-session-id``) the replica that served that session (when it has a free slot).

A replica takes at most ``max_ongoing_requests`` requests at once from this
router. When every replica is full a request waits in the router's queue until a
slot frees, unless ``max_queued_requests`` requests wait already: then it is
refused with :class:`~streamdata.errors.BackPressureError` (HTTP 503). With no
replica at all (starting, or scaled to zero) requests wait for one. While requests
wait, the router reports how many to the controller (``on_demand``) every
``queue_report_interval_s`` (an autoscaling deployment's ``metrics_interval_s``), and
a last 0 once none waits: the autoscaler counts them with the replicas' running
requests (:mod:`.autoscaling_metrics`); for a deployment that does not autoscale it
reports only while it has no replica. A replica
whose connection drops is dropped at once: its requests in flight fail with
``ActorDiedError`` and new ones go to the others. The choice itself is the pure
:func:`choose_replica`.

Example:
    >>> import random
    >>> choose_replica([3, 0, 5], capacity=5, rng=random.Random(0)) in (0, 1)
    True
    >>> choose_replica([5, 5], capacity=5, rng=random.Random(0)) is None
    True
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import random
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Sequence

from streamdata.errors import BackPressureError
from streamdata.serve import wire
from streamdata.serve.channel import ReplicaConnection, ReplicaRejectedError, ReplicaUnreachableError

#: how many replicas a request tries when the chosen one cannot be reached
MAX_UNREACHABLE_RETRIES = 3
#: how many sessions a router remembers the replica of (the oldest are forgotten first)
MAX_SESSIONS = 10_000
#: how often requests that wait are reported to the controller again, at most (with no
#: replica at all; an autoscaling deployment's reports come every ``metrics_interval_s``)
DEMAND_REPORT_INTERVAL_S = 0.1
#: how long a replica that refused a request (full with other callers' requests) counts as full
REJECTED_BACKOFF_S = 0.005


def choose_replica(loads: Sequence[int], capacity: int, rng: random.Random,
                   preferred: Sequence[bool] | None = None) -> int | None:
    """The index of the replica to send a request to, or None when all are full.

    Among the replicas with a free slot (the ``preferred`` ones first, when any is
    free), two are drawn at random and the less loaded one wins (ties: the first
    drawn); with one candidate, that one.

    Example:
        >>> choose_replica([1, 4], capacity=5, rng=random.Random(1))
        0
        >>> choose_replica([0, 4], capacity=5, rng=random.Random(1), preferred=[False, True])
        1
    """
    candidates = [i for i, load in enumerate(loads) if load < capacity]
    if preferred is not None:
        best = [i for i in candidates if preferred[i]]
        candidates = best or candidates
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    a, b = rng.sample(candidates, 2)
    return a if loads[a] <= loads[b] else b


@dataclass(frozen=True, slots=True)
class ReplicaInfo:
    """A running replica as the controller announces it."""

    replica_id: str
    path: str


class _Tries:
    """What one request met on its tries so far."""

    __slots__ = ("unreachable", "refused")

    def __init__(self) -> None:
        self.unreachable = 0  # replicas that could not be reached
        self.refused = False  # a replica refused it (full with other callers' requests)


class _Slot:
    __slots__ = ("info", "conn", "ongoing", "full_until")

    def __init__(self, info: ReplicaInfo, conn: ReplicaConnection) -> None:
        self.info = info
        self.conn = conn
        self.ongoing = 0
        self.full_until = 0.0  # the replica refused a request: full (for this router) until then


_router_ids = itertools.count()


class Router:
    """Routes one deployment's requests; use it from one event loop.

    ``on_demand(app_name, deployment_name, queued, router_id)`` is told the requests that
    wait for a replica slot (see the module's docstring)."""

    def __init__(self, app_name: str, deployment_name: str, max_ongoing_requests: int = 5,
                 max_queued_requests: int = -1, observe: Callable[[str, str, float, bool], None] | None = None,
                 seed: int | None = None, on_demand: Callable[[str, str, int, str], None] | None = None,
                 queue_report_interval_s: float | None = None) -> None:
        self.app_name = app_name
        self.deployment_name = deployment_name
        self.max_ongoing_requests = max_ongoing_requests
        self.max_queued_requests = max_queued_requests
        self.queue_report_interval_s = queue_report_interval_s  # None: the deployment does not autoscale
        self.router_id = f"{os.getpid()}-{next(_router_ids)}"  # the controller's key of this router's reports
        self._observe = observe
        self._on_demand = on_demand
        self._reporter: asyncio.Task | None = None  # reports the queue to the controller while requests wait
        self._report_due: asyncio.Future | None = None  # the reporter's next report (set early: the queue emptied)
        self._idle: asyncio.Future | None = None  # shutdown() waits on it for the requests in flight
        self._slots: list[_Slot] = []
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._rng = random.Random(seed)
        self._model_affinity: dict[str, str] = {}
        self._session_affinity: collections.OrderedDict[str, str] = collections.OrderedDict()
        self.closed = False
        self.populated = False  # replicas were announced to it once (Ray's running_replicas_populated)

    # ---- replicas
    def update(self, replicas: Sequence[ReplicaInfo], max_ongoing_requests: int | None = None,
               max_queued_requests: int | None = None, queue_report_interval_s: float | None = None) -> None:
        """Route to ``replicas`` from now on (connections to kept replicas are kept);
        ``queue_report_interval_s``: the deployment's autoscaling ``metrics_interval_s``
        (None: it does not autoscale)."""
        if self.closed:
            return
        self.queue_report_interval_s = queue_report_interval_s
        if max_ongoing_requests is not None:
            self.max_ongoing_requests = max_ongoing_requests
        if max_queued_requests is not None:
            self.max_queued_requests = max_queued_requests
        current = {s.info.replica_id: s for s in self._slots}
        slots = []
        for info in replicas:
            slot = current.pop(info.replica_id, None)
            if slot is None or slot.info.path != info.path or not slot.conn.alive:
                slot = _Slot(info, ReplicaConnection(info.replica_id, info.path, self.deployment_name,
                                                     self._on_lost))
            slots.append(slot)
        for gone in current.values():
            if gone.ongoing == 0:
                gone.conn.close()
        self._slots = slots
        if slots:
            self.populated = True
        self._wake()

    def _on_lost(self, conn: ReplicaConnection) -> None:
        self._slots = [s for s in self._slots if s.conn is not conn]

    def replica_ids(self) -> list[str]:
        return [s.info.replica_id for s in self._slots]

    def ongoing(self) -> int:
        """Requests in flight plus requests waiting for a slot."""
        return sum(s.ongoing for s in self._slots) + len(self._waiters)

    def queued(self) -> int:
        return len(self._waiters)

    # ---- slots
    def _pick(self, model_id: str, session_id: str = "") -> _Slot | None:
        slots = self._slots
        if not slots:
            return None
        preferred = None
        target = self._session_affinity.get(session_id) if session_id else None
        if target is None and model_id:
            target = self._model_affinity.get(model_id)
        if target is not None:
            preferred = [s.info.replica_id == target for s in slots]
        capacity = self.max_ongoing_requests
        now = time.monotonic()
        loads = [s.ongoing if s.full_until <= now else capacity for s in slots]
        index = choose_replica(loads, capacity, self._rng, preferred)
        return None if index is None else slots[index]

    def _retry_in(self) -> float | None:
        """Seconds until a replica that refused requests may be tried again (None: none did)."""
        now = time.monotonic()
        waits = [s.full_until - now for s in self._slots if s.full_until > now]
        return max(0.0, min(waits)) if waits else None

    def _full_by_count(self) -> bool:
        """Whether every replica holds ``max_ongoing_requests`` of this router's requests."""
        return all(s.ongoing >= self.max_ongoing_requests for s in self._slots)

    async def _acquire(self, model_id: str, session_id: str = "", refused: bool = False) -> _Slot:
        """A slot for a request. When none is free and ``max_queued_requests`` wait already,
        the request is refused if this router's own requests fill every replica or a
        replica refused this request (``refused``); a replica that refused another one
        is only tried again after its back-off, not taken for full by a new request."""
        if self.closed:
            raise RuntimeError(f"deployment {self.deployment_name!r} of application {self.app_name!r} was deleted")
        slot = self._pick(model_id, session_id) if not self._waiters else None
        while slot is None:
            await self._wait_turn(refused, self._retry_in())
            slot = self._pick(model_id, session_id)
        slot.ongoing += 1
        if model_id:
            self._model_affinity[model_id] = slot.info.replica_id
        if session_id:
            self._session_affinity[session_id] = slot.info.replica_id
            self._session_affinity.move_to_end(session_id)
            if len(self._session_affinity) > MAX_SESSIONS:
                self._session_affinity.popitem(last=False)
        return slot

    async def _wait_turn(self, refused: bool, timeout: float | None) -> None:
        """Wait in the queue until a slot may have freed (or ``timeout`` seconds: None, no
        limit); refuse the request (``BackPressureError``) when ``max_queued_requests``
        wait already (see :meth:`_acquire`); fail it when the router closed meanwhile."""
        limit = self.max_queued_requests
        if (limit >= 0 and len(self._waiters) >= limit and self._slots
                and (refused or self._full_by_count())):
            raise BackPressureError(
                f"all {len(self._slots)} replica(s) of deployment {self.deployment_name!r} have "
                f"{self.max_ongoing_requests} requests ongoing (max_ongoing_requests) and "
                f"{len(self._waiters)} request(s) wait (max_queued_requests={limit})")
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        if self._reporter is None and self._on_demand is not None:
            self._reporter = asyncio.get_running_loop().create_task(self._report_queue())
        try:
            if timeout is None:
                await fut
            else:
                await asyncio.wait([fut], timeout=timeout)
        finally:
            if fut in self._waiters:
                self._waiters.remove(fut)
            due = self._report_due
            if not self._waiters and due is not None and not due.done():
                due.set_result(None)  # the last 0 goes now, not at the next interval
        if self.closed:
            raise RuntimeError(f"deployment {self.deployment_name!r} of application {self.app_name!r} "
                               "was deleted while the request waited")

    async def _report_queue(self) -> None:
        """Tell the controller how many requests wait, while any does, and a last 0 as soon
        as none does: an autoscaling deployment's every ``queue_report_interval_s``; any
        deployment's while it has no replica (every ``DEMAND_REPORT_INTERVAL_S`` at most:
        the controller starts one, and counts them until it runs, so it does not scale
        back to zero meanwhile)."""
        assert self._on_demand is not None
        loop = asyncio.get_running_loop()
        reported = False
        next_report = loop.time()
        try:
            while True:
                interval = self.queue_report_interval_s
                waiting = 0 if self.closed else len(self._waiters)
                if interval is None and self._slots:  # not autoscaling, and replicas take them: nothing to tell
                    waiting = 0
                    if not reported:
                        return
                now = loop.time()
                if waiting and now < next_report:  # woken as the queue emptied, and it filled again at once
                    await self._report_wait(next_report - now)
                    continue
                self._on_demand(self.app_name, self.deployment_name, waiting, self.router_id)
                reported = True
                if not waiting:
                    return
                if interval is None or not self._slots:
                    interval = min(interval or DEMAND_REPORT_INTERVAL_S, DEMAND_REPORT_INTERVAL_S)
                next_report = now + interval
                await self._report_wait(interval)
        except asyncio.CancelledError:  # closed: the requests that waited are gone
            if reported:
                self._on_demand(self.app_name, self.deployment_name, 0, self.router_id)
            raise
        finally:
            self._reporter = None

    async def _report_wait(self, seconds: float) -> None:
        """Wait ``seconds``, or until the queue empties (:meth:`_acquire` sets ``_report_due``)."""
        loop = asyncio.get_running_loop()
        due = self._report_due = loop.create_future()
        timer = loop.call_later(seconds, lambda: due.done() or due.set_result(None))
        try:
            await due
        finally:
            timer.cancel()
            self._report_due = None

    def _release(self, slot: _Slot) -> None:
        slot.ongoing -= 1
        if slot.ongoing == 0 and (self.closed or slot not in self._slots):
            slot.conn.close()
            if self.closed and slot in self._slots:
                self._slots.remove(slot)
        self._wake()
        idle = self._idle
        if idle is not None and not self._slots and not idle.done():
            idle.set_result(None)

    def _wake(self) -> None:
        for fut in list(self._waiters):
            if not fut.done():
                fut.set_result(None)
                if self._pick("") is None:
                    return

    # ---- requests
    async def call(self, method: str, args: tuple, kwargs: dict, *, kind: str = wire.CALL,
                   model_id: str = "", request_id: str = "", route: str = "", session_id: str = "",
                   feed: AsyncIterator[Any] | None = None) -> Any:
        """Route one request and return its answer (or raise its error); a replica that
        cannot be reached (the request never left) is skipped for another; ``feed``: as
        for :meth:`stream`."""
        tries = _Tries()
        while True:
            async with self._attempt(model_id, tries, session_id) as slot:
                return await slot.conn.call(method, args, kwargs, kind=kind, model_id=model_id,
                                            request_id=request_id, route=route, session_id=session_id, feed=feed)

    async def stream(self, method: str, args: tuple, kwargs: dict, *, kind: str = wire.CALL,
                     model_id: str = "", request_id: str = "", route: str = "", session_id: str = "",
                     feed: AsyncIterator[Any] | None = None) -> AsyncIterator[Any]:
        """Route one request and yield its streamed answer (a replica that cannot be
        reached is skipped for another); ``feed``: a duplex request's messages to the
        replica (see :meth:`ReplicaConnection.stream`: it is read only once a replica took
        the request, so one that refuses it leaves it whole for the next)."""
        tries = _Tries()
        while True:
            async with self._attempt(model_id, tries, session_id) as slot:
                async with contextlib.aclosing(slot.conn.stream(
                        method, args, kwargs, kind=kind, model_id=model_id, request_id=request_id, route=route,
                        session_id=session_id, feed=feed)) as items:
                    async for item in items:
                        yield item
                return

    @contextlib.asynccontextmanager
    async def _attempt(self, model_id: str, tries: _Tries, session_id: str = "") -> AsyncIterator[_Slot]:
        """One try of a request on a replica slot. A replica that rejected it (full) or
        could not be reached is left for another try (the caller's loop goes on: the
        error is swallowed here), up to ``MAX_UNREACHABLE_RETRIES`` unreachable ones;
        the slot is released and the try observed however it ends."""
        slot = await self._acquire(model_id, session_id, refused=tries.refused)
        start = time.perf_counter()
        ok = retry = False
        try:
            yield slot
            ok = True
        except ReplicaRejectedError:
            slot.full_until = time.monotonic() + REJECTED_BACKOFF_S
            tries.refused = retry = True
        except ReplicaUnreachableError:
            tries.unreachable += 1
            if tries.unreachable > MAX_UNREACHABLE_RETRIES:
                raise
            retry = True
        finally:
            self._release(slot)
            if self._observe is not None and not retry:
                self._observe(self.app_name, self.deployment_name, time.perf_counter() - start, ok)

    def close(self) -> None:
        """Refuse new requests; wake the waiting ones (they fail)."""
        self.closed = True
        if self._reporter is not None:
            self._reporter.cancel()
        for fut in list(self._waiters):
            if not fut.done():
                fut.set_result(None)
        for slot in self._slots:
            if slot.ongoing == 0:
                slot.conn.close()
        self._slots = [s for s in self._slots if s.ongoing]  # the rest close when their requests end

    async def shutdown(self) -> None:
        """Close (new and waiting requests fail) and wait until the requests sent already end."""
        self.close()
        while self._slots:
            self._idle = asyncio.get_running_loop().create_future()
            await self._idle


__all__ = ["BackPressureError", "ReplicaInfo", "Router", "choose_replica"]
