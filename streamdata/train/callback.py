"""User callbacks of a training run (Ray Train V2's ``UserCallback``), called on the
driver: ``after_report`` once every worker made a report, ``after_exception`` when
workers fail.

A callback is passed as ``RunConfig(callbacks=[...])``; :class:`CallbackRunner` calls
each one in order with Ray's arguments. A callback that raises ends the run with a
:class:`~streamdata.errors.ControllerError` naming the callback and the hook (the
driver's loop is the run's controller, as in Ray Train V2).

Example:
    >>> class Collect(UserCallback):
    ...     def __init__(self):
    ...         self.seen = []
    ...     def after_report(self, run_context, metrics, checkpoint):
    ...         self.seen.append((run_context.train_loop_config["lr"], metrics, checkpoint))
    >>> from streamdata.train.config import DataConfig, RunConfig, ScalingConfig
    >>> cb = Collect()
    >>> ctx = TrainRunContext(run_config=RunConfig(callbacks=[cb]), train_loop_config={"lr": 0.1},
    ...                       scaling_config=ScalingConfig(num_workers=2), backend_config=None,
    ...                       dataset_config=DataConfig())
    >>> CallbackRunner(ctx.run_config.callbacks, ctx).after_report([{"loss": 1.0}, {"loss": 2.0}], None)
    >>> cb.seen
    [(0.1, [{'loss': 1.0}, {'loss': 2.0}], None)]
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from streamdata.errors import ControllerError


class RayTrainCallback:
    """The base of Ray Train's callbacks (Ray's ``RayTrainCallback``)."""


class UserCallback(RayTrainCallback):
    """A user-defined callback of a training run (Ray's ``ray.train.UserCallback``):
    subclass it, override the hooks you need and pass an instance in
    ``RunConfig(callbacks=[...])``. The hooks run on the driver, not in the workers.
    """

    def after_report(self, run_context: TrainRunContext, metrics: list[dict[str, Any]],
                     checkpoint: Any) -> None:
        """Called once every worker made a ``train.report``.

        Args:
            run_context: the run's :class:`TrainRunContext`.
            metrics: the metrics each worker reported, ``metrics[i]`` those of the worker
                of world rank ``i``.
            checkpoint: the persisted :class:`~streamdata.train.Checkpoint`, or None when
                no worker reported one.
        """

    def after_exception(self, run_context: TrainRunContext, worker_exceptions: dict[int, BaseException]) -> None:
        """Called after training workers failed (before the run restarts or gives up).

        Args:
            run_context: the run's :class:`TrainRunContext`.
            worker_exceptions: world rank → the exception that worker raised.
        """


@dataclass
class TrainRunContext:
    """What a run was configured with (Ray's ``TrainRunContext``), given to callbacks."""

    run_config: Any
    train_loop_config: dict[str, Any] | None
    scaling_config: Any
    backend_config: Any
    dataset_config: Any
    #: the run's unique id
    run_id: str = field(init=False, default_factory=lambda: uuid.uuid4().hex)

    def get_run_config(self) -> Any:
        """The run's ``RunConfig``."""
        return self.run_config


def check_callbacks(callbacks: Any) -> list[Any]:
    """``RunConfig(callbacks=...)`` checked: a list of :class:`UserCallback` (None: ``[]``).

    Example:
        >>> check_callbacks(None)
        []
        >>> check_callbacks([object()])
        Traceback (most recent call last):
        ...
        ValueError: RunConfig(callbacks=...): every callback must be a streamdata.train.UserCallback (Ray Train V2's callback interface), got object at index 0. Ray Tune callbacks (ray.tune.Callback, e.g. its loggers) are not supported by Ray Train V2 either: log from the training function, or subclass UserCallback and log in after_report
    """
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"RunConfig(callbacks=...) must be a list of UserCallback, got {type(callbacks).__name__}")
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, RayTrainCallback):
            raise ValueError(
                "RunConfig(callbacks=...): every callback must be a streamdata.train.UserCallback (Ray Train V2's "
                f"callback interface), got {type(cb).__name__} at index {i}. Ray Tune callbacks (ray.tune.Callback, "
                "e.g. its loggers) are not supported by Ray Train V2 either: log from the training function, or "
                "subclass UserCallback and log in after_report")
    return list(callbacks)


class CallbackRunner:
    """Calls a run's user callbacks in order; a callback's error becomes a
    :class:`~streamdata.errors.ControllerError` naming it."""

    def __init__(self, callbacks: list[Any], run_context: TrainRunContext) -> None:
        self.callbacks = [cb for cb in callbacks if isinstance(cb, UserCallback)]
        self.run_context = run_context

    def _call(self, hook: str, **kwargs: Any) -> None:
        for cb in self.callbacks:
            try:
                getattr(cb, hook)(run_context=self.run_context, **kwargs)
            except Exception as exc:  # noqa: BLE001 - re-raised naming the callback
                failure = RuntimeError(f"RunConfig(callbacks=...): {type(cb).__name__}.{hook} raised "
                                       f"{type(exc).__name__}: {exc}")
                failure.__cause__ = exc
                raise ControllerError(failure) from exc

    def after_report(self, metrics: list[dict[str, Any]], checkpoint: Any) -> None:
        """Every callback's ``after_report(run_context, metrics, checkpoint)``."""
        if self.callbacks:
            self._call("after_report", metrics=metrics, checkpoint=checkpoint)

    def after_exception(self, worker_exceptions: dict[int, BaseException]) -> None:
        """Every callback's ``after_exception(run_context, worker_exceptions)``."""
        if self.callbacks and worker_exceptions:
            self._call("after_exception", worker_exceptions=dict(worker_exceptions))


__all__ = ["CallbackRunner", "RayTrainCallback", "TrainRunContext", "UserCallback", "check_callbacks"]
