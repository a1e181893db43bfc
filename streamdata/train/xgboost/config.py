"""``XGBoostConfig``: the trainer's workers form one XGBoost communication group.

On the driver, :class:`XGBoostBackend` starts XGBoost's tracker (``RabitTracker``, on
127.0.0.1: every worker is on this machine) before the training function runs, and hands
each worker the tracker's address. Each worker's training function then runs inside
:class:`XGBoostConfigContextManager`: XGBoost's ``CommunicatorContext`` with the worker's
world rank as its task id, so ``xgboost.train`` in the loop trains one model across the
workers' data shards, as on Ray. The tracker is waited for once the loop returned
everywhere, and freed with the attempt (an attempt whose workers failed leaves a tracker
still waiting for them: freeing it then reports an error, which is expected and dropped).

Example:
    >>> XGBoostConfig().xgboost_communicator, XGBoostConfig().framework.value
    ('rabit', 'xgboost')
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any

from streamdata.train.backend import Backend, BackendConfig, TrainingFramework

#: the address of the tracker and of every worker's connection to it
LOOPBACK = "127.0.0.1"

#: the tracker's arguments in this worker process (set by the driver's ``on_start``)
_worker_args: dict[str, Any] | None = None

_logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class XGBoostConfig(BackendConfig):
    """How the workers communicate (Ray's ``XGBoostConfig``).

    Args:
        xgboost_communicator: ``"rabit"`` (the only one on CPUs; Ray's other choice is
            ``"federated"``, for federated learning).
        timeout_s: how long the tracker waits for every worker to join (0: no limit).
    """

    xgboost_communicator: str = "rabit"
    timeout_s: int = 600

    def __post_init__(self) -> None:
        if self.xgboost_communicator != "rabit":
            raise ValueError(f"XGBoostConfig(xgboost_communicator=...) must be 'rabit', "
                             f"got {self.xgboost_communicator!r}")

    @property
    def backend_cls(self) -> type[Backend]:
        return XGBoostBackend

    @property
    def train_func_context(self) -> Any:
        return XGBoostConfigContextManager

    @property
    def framework(self) -> TrainingFramework:
        return TrainingFramework.XGBOOST

    def to_dict(self) -> dict[str, Any]:
        return {"xgboost_communicator": self.xgboost_communicator, "timeout_s": self.timeout_s}


class XGBoostBackend(Backend):
    """Starts the tracker on the driver and tells every worker where it is; waits for it
    once the training function returned everywhere."""

    def __init__(self) -> None:
        self._tracker: Any = None

    def on_start(self, worker_group: Any, backend_config: BackendConfig) -> None:
        from xgboost.tracker import RabitTracker

        assert isinstance(backend_config, XGBoostConfig)
        self._tracker = RabitTracker(n_workers=len(worker_group.workers), host_ip=LOOPBACK, sortby="task",
                                     timeout=backend_config.timeout_s)
        weakref.finalize(self, _free, self._tracker)  # with the attempt, whatever its end
        self._tracker.start()
        worker_group.execute(set_worker_args, self._tracker.worker_args())

    def on_shutdown(self, worker_group: Any, backend_config: BackendConfig) -> None:
        if self._tracker is not None:
            self._tracker.wait_for()
            self._tracker = None


def _free(tracker: Any) -> None:
    """Free an attempt's tracker (its own ``__del__`` would report a failed attempt's error
    as an unraisable exception)."""
    from xgboost.core import XGBoostError

    try:
        tracker.free()
    except XGBoostError as exc:  # the workers it waited for are gone
        _logger.debug("streamdata.train.xgboost: the tracker of a failed attempt: %s", exc)


def set_worker_args(args: dict[str, Any]) -> None:
    """In a worker: the tracker's arguments its training function joins with."""
    global _worker_args
    _worker_args = dict(args)


class XGBoostConfigContextManager:
    """What the training function runs inside: XGBoost's communicator, joined with the
    worker's world rank as its task id (the tracker orders ranks by it)."""

    def __init__(self) -> None:
        self._context: Any = None

    def __enter__(self) -> None:
        from xgboost.collective import CommunicatorContext

        from streamdata.train import session

        if _worker_args is None:
            raise RuntimeError("the XGBoost tracker's address did not reach this worker")
        rank = session.get_context().get_world_rank()
        self._context = CommunicatorContext(**_worker_args, dmlc_task_id=f"[streamdata-rank={rank:08d}]")
        self._context.__enter__()

    def __exit__(self, *exc: Any) -> bool:
        self._context.__exit__(*exc)
        return False


__all__ = ["XGBoostBackend", "XGBoostConfig", "XGBoostConfigContextManager", "set_worker_args"]
