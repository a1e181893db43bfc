"""Routing requests to a deployment's replicas: the less loaded of two random
replicas with a free slot ("power of two choices"), as Ray Serve's router.

A replica takes at most ``max_ongoing_requests`` requests at once (counted
here, by the process that routes). When every replica is full a request waits
in the router's queue until one finishes, or, when the caller asked
(``reject_when_full``, the HTTP ingress does), is refused at once; with no
replica at all (an autoscaled deployment at zero) it waits for one. The choice
itself is the pure :func:`choose_replica`.

Example:
    >>> import random
    >>> choose_replica([3, 0, 5], capacity=5, rng=random.Random(0)) in (0, 1)
    True
    >>> choose_replica([5, 5], capacity=5, rng=random.Random(0)) is None
    True
"""

from __future__ import annotations

import concurrent.futures
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Sequence

from streamdata.errors import BackPressureError
from streamdata.serve.metrics import LATENCY_BUCKETS_S, MetricsRegistry


def choose_replica(loads: Sequence[int], capacity: int, rng: random.Random,
                   available: Sequence[bool] | None = None) -> int | None:
    """The index of the replica to send a request to, or None when all are full.

    Two distinct replicas with a free slot are drawn at random and the less
    loaded one wins (ties: the first drawn); with one candidate, that one.

    Example:
        >>> choose_replica([1, 4], capacity=5, rng=random.Random(1))
        0
    """
    candidates = [i for i, load in enumerate(loads)
                  if load < capacity and (available is None or available[i])]
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    a, b = rng.sample(candidates, 2)
    return a if loads[a] <= loads[b] else b


@dataclass(eq=False)
class ReplicaSlot:
    """A replica as the router sees it."""

    replica_id: str
    actor: Any
    ongoing: int = 0
    draining: bool = False


@dataclass(eq=False)
class _Request:
    method: str
    args: tuple
    kwargs: dict
    future: concurrent.futures.Future
    start: float = field(default_factory=time.monotonic)


class Router:
    """Routes one deployment's requests; thread-safe."""

    def __init__(self, app_name: str, deployment_name: str, max_ongoing_requests: int,
                 metrics: MetricsRegistry | None = None, seed: int | None = None) -> None:
        self.app_name = app_name
        self.deployment_name = deployment_name
        self.max_ongoing_requests = max_ongoing_requests
        self._lock = threading.Lock()
        self._replicas: list[ReplicaSlot] = []
        self._queue: deque[_Request] = deque()
        self._rng = random.Random(seed)
        self._closed = False
        self._idle = threading.Condition(self._lock)
        self._labels = {"application": app_name, "deployment": deployment_name}
        metrics = metrics or MetricsRegistry()
        self._requests = metrics.counter("streamdata_serve_deployment_requests_total",
                                         "Requests a deployment answered (successes and errors).")
        self._errors = metrics.counter("streamdata_serve_deployment_errors_total",
                                       "Requests a deployment answered with an error.")
        self._latency = metrics.histogram("streamdata_serve_deployment_latency_seconds",
                                          "Time from routing a request to its answer.", LATENCY_BUCKETS_S)

    # ---- replicas
    def add_replica(self, replica_id: str, actor: Any) -> None:
        with self._lock:
            self._replicas.append(ReplicaSlot(replica_id, actor))
            assigned = self._assign_queued()
        self._send_all(assigned)

    def drain_replica(self, replica_id: str) -> None:
        """Route nothing more to ``replica_id`` (it is about to stop)."""
        with self._lock:
            for slot in self._replicas:
                if slot.replica_id == replica_id:
                    slot.draining = True

    def remove_replica(self, replica_id: str) -> None:
        with self._lock:
            self._replicas = [s for s in self._replicas if s.replica_id != replica_id]

    def ongoing(self, replica_id: str) -> int:
        with self._lock:
            return next((s.ongoing for s in self._replicas if s.replica_id == replica_id), 0)

    def replica_ids(self, *, include_draining: bool = False) -> list[str]:
        with self._lock:
            return [s.replica_id for s in self._replicas if include_draining or not s.draining]

    def actors(self) -> list[Any]:
        with self._lock:
            return [s.actor for s in self._replicas if not s.draining]

    def load(self) -> int:
        """Requests in flight plus requests waiting for a slot."""
        with self._lock:
            return sum(s.ongoing for s in self._replicas) + len(self._queue)

    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    # ---- requests
    def submit(self, method: str, args: tuple, kwargs: dict, *,
               reject_when_full: bool = False) -> concurrent.futures.Future:
        """Send a request; the future resolves with the replica's answer. Raises
        :class:`BackPressureError` when ``reject_when_full`` and every replica is full."""
        request = _Request(method, args, kwargs, concurrent.futures.Future())
        with self._lock:
            if self._closed:
                raise RuntimeError(f"deployment {self.deployment_name!r} of application "
                                   f"{self.app_name!r} was shut down")
            slot = self._pick()
            if slot is None:
                # with no replica at all (starting, or scaled to zero) the request waits for one
                if reject_when_full and any(not s.draining for s in self._replicas):
                    raise BackPressureError(
                        f"all {len(self._replicas)} replica(s) of deployment {self.deployment_name!r} have "
                        f"{self.max_ongoing_requests} requests ongoing (max_ongoing_requests)")
                self._queue.append(request)
                return request.future
            slot.ongoing += 1
        self._send(slot, request)
        return request.future

    def cancel_queued(self, future: concurrent.futures.Future) -> bool:
        """Drop a request still waiting for a slot; True when it was waiting."""
        with self._lock:
            for request in self._queue:
                if request.future is future:
                    self._queue.remove(request)
                    break
            else:
                return False
        return future.cancel()

    def _pick(self) -> ReplicaSlot | None:
        replicas = self._replicas
        index = choose_replica([s.ongoing for s in replicas], self.max_ongoing_requests, self._rng,
                               [not s.draining for s in replicas])
        return None if index is None else replicas[index]

    def _assign_queued(self) -> list[tuple[ReplicaSlot, _Request]]:
        """Under the lock: give queued requests the free slots."""
        out = []
        while self._queue:
            slot = self._pick()
            if slot is None:
                break
            request = self._queue.popleft()
            if request.future.cancelled():
                continue
            slot.ongoing += 1
            out.append((slot, request))
        return out

    def _send_all(self, assigned: list[tuple[ReplicaSlot, _Request]]) -> None:
        for slot, request in assigned:
            self._send(slot, request)

    def _send(self, slot: ReplicaSlot, request: _Request) -> None:
        try:
            ref = slot.actor.handle_request.remote(request.method, request.args, request.kwargs)
            fut = ref.future()
        except BaseException as exc:  # noqa: BLE001 - e.g. the runtime is gone
            self._finish(slot, request, None, exc)
            return
        fut.add_done_callback(lambda f: self._finish(slot, request, f, None))

    def _finish(self, slot: ReplicaSlot, request: _Request, fut: concurrent.futures.Future | None,
                error: BaseException | None) -> None:
        if fut is not None:
            error = fut.exception()
        with self._lock:
            slot.ongoing -= 1
            assigned = self._assign_queued()
            self._idle.notify_all()
        self._requests.inc(self._labels)
        if error is not None:
            self._errors.inc(self._labels)
        self._latency.observe(time.monotonic() - request.start, self._labels)
        if not request.future.cancelled():
            try:
                if error is not None:
                    request.future.set_exception(error)
                else:
                    request.future.set_result(fut.result() if fut is not None else None)
            except concurrent.futures.InvalidStateError:
                pass
        self._send_all(assigned)

    def wait_idle(self, replica_id: str, timeout: float | None) -> bool:
        """Wait until ``replica_id`` has no request in flight (at most ``timeout`` s)."""
        with self._idle:
            return self._idle.wait_for(
                lambda: all(s.ongoing == 0 for s in self._replicas if s.replica_id == replica_id), timeout)

    def close(self) -> None:
        """Refuse new requests and fail the queued ones."""
        with self._lock:
            self._closed = True
            queued, self._queue = list(self._queue), deque()
        for request in queued:
            if not request.future.done():
                request.future.set_exception(RuntimeError(
                    f"deployment {self.deployment_name!r} was shut down before the request was routed"))


__all__ = ["BackPressureError", "ReplicaSlot", "Router", "choose_replica"]
