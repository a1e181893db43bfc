"""``train.collective`` (Ray's ``ray.train.collective``): :func:`barrier` and
:func:`broadcast_from_rank_zero` across the workers of a training run, with no
``torch.distributed`` (like Ray's, they go through the run's controller: here the
driver's loop that polls the workers for reports).

How it works: a worker entering a collective records it in its session and waits;
the driver's ``poll`` of that worker hands the arrival over (with rank 0's data,
pickled), and once every worker of the group is in the collective the driver
releases them all with rank 0's data (:class:`CollectiveRounds` keeps the count).
When a worker fails (its loop raised or its process died) the driver aborts the
others' collectives, so a worker waiting at a barrier raises instead of hanging,
and the run fails (or restarts) as for any worker failure. A worker that returns
from its loop while others wait in a collective it never called fails the run at
once (Ray waits forever there). ``RAY_TRAIN_COLLECTIVE_TIMEOUT_S`` (default: no
limit) and ``RAY_TRAIN_COLLECTIVE_WARN_INTERVAL_S`` (default 60 s) are read as Ray
reads them.

In local mode (``ScalingConfig(num_workers=0)``) the calling process is the only
rank: ``barrier()`` returns at once and ``broadcast_from_rank_zero(data)`` returns
``data`` itself, as Ray's local mode does; under ``torchrun`` (several processes)
they use torchrun's process group (``torch.distributed``).

Example (local mode, runnable as it is):
    >>> from streamdata import train
    >>> from streamdata.train.collective import barrier, broadcast_from_rank_zero
    >>> def loop():
    ...     rank = train.get_context().get_world_rank()
    ...     settings = broadcast_from_rank_zero({"lr": 0.1} if rank == 0 else None)
    ...     barrier()
    ...     train.report(settings)
    >>> train.DataParallelTrainer(loop, scaling_config=train.ScalingConfig(num_workers=0)).fit().metrics
    {'lr': 0.1}
"""

from __future__ import annotations

import logging
import pickle
import time
from typing import Any, Callable, TypeVar

from streamdata.train import session as session_mod
from streamdata.train.session import CollectiveArrival, TrainSession

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: above this many pickled bytes ``broadcast_from_rank_zero`` logs a warning (Ray's limit: it
#: warns, and sends the data anyway)
MAX_BROADCAST_SIZE_BYTES = 1000
#: seconds a collective may wait for the last worker before the run fails (unset or "None": no limit)
COLLECTIVE_TIMEOUT_S_ENV_VAR = "RAY_TRAIN_COLLECTIVE_TIMEOUT_S"
#: seconds between the driver's warnings that a collective still waits for some ranks
COLLECTIVE_WARN_INTERVAL_S_ENV_VAR = "RAY_TRAIN_COLLECTIVE_WARN_INTERVAL_S"
DEFAULT_COLLECTIVE_WARN_INTERVAL_S = 60.0


def _worker_session(api: str) -> TrainSession:
    session = session_mod._session
    if session is None:
        raise RuntimeError(f"`{api}` cannot be used outside of a training function. You are calling it from the "
                           "driver or another process that is not a training worker; it works only inside the "
                           "function a trainer's fit() runs (TorchTrainer(...).fit(), DataParallelTrainer(...).fit(), "
                           "sd.train.run(...))")
    return session


def _pack(data: Any, api: str) -> bytes:
    """``data`` pickled (what rank 0 sends); a warning above ``MAX_BROADCAST_SIZE_BYTES``.

    Example:
        >>> import pickle
        >>> pickle.loads(_pack({"a": 1}, "broadcast_from_rank_zero"))
        {'a': 1}
    """
    import cloudpickle

    try:
        payload = cloudpickle.dumps(data)
    except Exception as exc:  # noqa: BLE001 - re-raised with what failed, keeping the type Ray raises
        error_type = pickle.PicklingError if isinstance(exc, pickle.PicklingError) else TypeError
        raise error_type(f"`{api}`: the data must be picklable, and this {type(data).__name__} is not: "
                         f"{type(exc).__name__}: {exc}") from exc
    if len(payload) > MAX_BROADCAST_SIZE_BYTES:
        logger.warning("Data size %d bytes exceeds the maximum broadcast size of %d bytes (`%s` is meant for "
                       "small data; it is sent anyway)", len(payload), MAX_BROADCAST_SIZE_BYTES, api)
    return payload


def _local_collective(data: Any, *, is_barrier: bool) -> Any:
    """Local mode: one rank (``data`` as it is), or torchrun's processes."""
    import sys

    dist = getattr(sys.modules.get("torch"), "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
        return None if is_barrier else data
    if is_barrier:
        dist.barrier()
        return None
    box = [data]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def broadcast_from_rank_zero(data: T) -> T:
    """Rank 0's ``data`` (any picklable object; meant to be small, <1 KB, as in Ray: larger
    data is sent with a warning), on every worker. Every worker must call it (it is also a
    barrier); what the other ranks pass is checked to be picklable and then ignored.

    Raises ``RuntimeError`` outside a training function, ``TypeError`` (or
    ``pickle.PicklingError``) when ``data`` cannot be pickled.

    Example (inside ``train_fn``)::

        rank = train.get_context().get_world_rank()
        vocab = broadcast_from_rank_zero(load_vocab() if rank == 0 else None)
    """
    api = "broadcast_from_rank_zero"
    session = _worker_session(api)
    if session.local:
        return _local_collective(data, is_barrier=False)
    payload = _pack(data, api) if data is not None else None
    released = session.collective(api, payload if session.context.world_rank == 0 else None)
    return pickle.loads(released) if released is not None else None  # type: ignore[return-value]


def barrier() -> None:
    """Wait until every worker of the group called ``barrier()``.

    Raises ``RuntimeError`` outside a training function, and when the group fails while
    this worker waits (another worker raised or died: the run then fails or restarts as
    for any worker failure).

    Example (inside ``train_fn``)::

        if train.get_context().get_world_rank() == 0:
            download_dataset()
        barrier()  # the other ranks read the files once rank 0 wrote them
    """
    session = _worker_session("barrier")
    if session.local:
        _local_collective(None, is_barrier=True)
        return
    session.collective("barrier", None)


def _env_seconds(name: str, default: float | None) -> float | None:
    """A number of seconds from the environment (unset or "None": ``default``; "None" when
    the default is a number: no limit)."""
    from streamdata.context import env_str

    value = env_str(name)
    if value is None or value.strip() == "":
        return default
    if value.strip().lower() == "none":
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} must be a number of seconds or None") from None
    if seconds <= 0:
        raise ValueError(f"environment variable {name}={value!r} must be > 0 (or None: no limit)")
    return seconds


class CollectiveRounds:
    """The driver's side of the workers' collectives: which ranks wait in the current
    one, when to release them (every rank arrived: rank 0's payload) and when it can
    no longer complete (a rank returned without joining it, or it timed out).

    Example:
        >>> rounds = CollectiveRounds(2, timeout_s=None)
        >>> rounds.arrive(0, CollectiveArrival(1, "barrier")) is None
        True
        >>> rounds.arrive(1, CollectiveArrival(1, "barrier"))
        (1, None)
        >>> rounds.finish(0)
        >>> _ = rounds.arrive(1, CollectiveArrival(2, "barrier"))
        >>> rounds.failure()
        RuntimeError('rank 1 waits in `barrier` (collective #2), but rank 0 returned from its training function without calling it: every worker must make the same collective calls in the same order')
    """

    def __init__(self, world_size: int, *, timeout_s: float | None,
                 warn_interval_s: float | None = DEFAULT_COLLECTIVE_WARN_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.world_size = world_size
        self.timeout_s = timeout_s
        self.warn_interval_s = warn_interval_s
        self._clock = clock
        self._waiting: dict[int, CollectiveArrival] = {}
        self._finished: set[int] = set()
        self._started = 0.0
        self._warned = 0.0
        self._failed = False

    @classmethod
    def from_env(cls, world_size: int) -> "CollectiveRounds":
        """Timeout and warning interval from Ray's environment variables."""
        return cls(world_size, timeout_s=_env_seconds(COLLECTIVE_TIMEOUT_S_ENV_VAR, None),
                   warn_interval_s=_env_seconds(COLLECTIVE_WARN_INTERVAL_S_ENV_VAR,
                                                DEFAULT_COLLECTIVE_WARN_INTERVAL_S))

    def arrive(self, rank: int, arrival: CollectiveArrival) -> tuple[int, bytes | None] | None:
        """Rank ``rank`` waits in ``arrival``; ``(seq, payload)`` to release every worker
        with once all arrived, else None."""
        if not self._waiting:
            self._started = self._warned = self._clock()
        self._waiting[rank] = arrival
        if len(self._waiting) < self.world_size:
            return None
        names = sorted({a.name for a in self._waiting.values()})
        if len(names) > 1:
            logger.warning("streamdata.train: the workers met in different collectives (%s) as their collective "
                           "#%d; rank 0's data was broadcast", ", ".join(names), arrival.seq)
        released = (arrival.seq, self._waiting[0].payload)
        self._waiting.clear()
        return released

    def finish(self, rank: int) -> None:
        """Rank ``rank``'s training function returned."""
        self._finished.add(rank)

    def _missing(self) -> list[int]:
        return sorted(set(range(self.world_size)) - set(self._waiting))

    def failure(self) -> BaseException | None:
        """Why the collective the workers wait in can never complete (once; then None)."""
        if not self._waiting or self._failed:
            return None
        first = self._waiting[min(self._waiting)]
        gone = sorted(self._finished - set(self._waiting))
        elapsed = self._clock() - self._started
        error: BaseException | None = None
        if gone:
            waiting = sorted(self._waiting)
            error = RuntimeError(
                f"rank{'s' if len(waiting) > 1 else ''} {', '.join(map(str, waiting))} wait"
                f"{'' if len(waiting) > 1 else 's'} in `{first.name}` (collective #{first.seq}), but rank"
                f"{'s' if len(gone) > 1 else ''} {', '.join(map(str, gone))} returned from its training function "
                "without calling it: every worker must make the same collective calls in the same order")
        elif self.timeout_s is not None and elapsed > self.timeout_s:
            error = TimeoutError(
                f"The collective operation timed out after {elapsed:.2f} seconds. The following ranks have not "
                f"joined the collective operation: {self._missing()}. You can set the timeout with the "
                f"{COLLECTIVE_TIMEOUT_S_ENV_VAR} environment variable (current value: {self.timeout_s:.2f} "
                "seconds); set it to None to wait without a limit.")
        self._failed = error is not None
        return error

    def warning(self) -> str | None:
        """A warning to log when the collective has waited another warning interval."""
        if not self._waiting or self._failed or self.warn_interval_s is None:
            return None
        now = self._clock()
        if now - self._warned < self.warn_interval_s:
            return None
        self._warned = now
        name = self._waiting[min(self._waiting)].name
        return (f"`{name}` has not been called by all {self.world_size} workers in the group. The workers have been "
                f"waiting for {now - self._started:.2f} s for the following ranks to join the `{name}` call: "
                f"{self._missing()}. Also ensure that workers are not hanging on other operations, causing them to "
                f"miss this synchronization barrier. You can set the {COLLECTIVE_WARN_INTERVAL_S_ENV_VAR} environment "
                f"variable to change the frequency of this warning (current value: {self.warn_interval_s} s).")


__all__ = ["barrier", "broadcast_from_rank_zero"]
