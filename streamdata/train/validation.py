"""Asynchronous checkpoint validation (Ray Train's ``ValidationConfig``).

A trainer given ``validation_config=ValidationConfig(fn)`` validates the checkpoints its
loop reports with ``train.report(metrics, checkpoint=..., validation=True)`` (or a
:class:`ValidationTaskConfig` whose ``fn_kwargs`` override the config's defaults). Each
such checkpoint is validated by a task, ``fn(checkpoint, **fn_kwargs)`` with the
config's ``ray_remote_kwargs``, while training goes on. The dict the task returns is
merged into that checkpoint's metrics (a key both have takes the validated value): in
``Result.best_checkpoints``, ``Result.metrics_history`` and, for the last report,
``Result.metrics``, and the kept checkpoints are ranked again. A validation that raises,
returns something other than a dict, or outruns its ``timeout_s`` leaves the metrics as
reported; the training never fails for it (as in Ray). ``fit()`` returns once every
validation ended.

Example:
    >>> config = ValidationConfig(lambda checkpoint, split="val": {"acc": 1.0},
    ...                           task_config=ValidationTaskConfig(fn_kwargs={"split": "val"}))
    >>> validation_kwargs(config, True), validation_kwargs(config, ValidationTaskConfig({"split": "test"}))
    ({'split': 'val'}, {'split': 'test'})
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from streamdata.train.api_types import ReportedCheckpointStatus
from streamdata.train.checkpoint import Checkpoint

logger = logging.getLogger(__name__)


class ValidationFn(Protocol):
    """A function that validates a checkpoint: ``fn(checkpoint, **fn_kwargs) -> dict``."""

    def __call__(self, checkpoint: Checkpoint, **kwargs: Any) -> dict[str, Any]: ...


@dataclass
class ValidationTaskConfig:
    """One validation's settings, passed to ``report(validation=...)``.

    Args:
        fn_kwargs: keyword arguments of the validation function (over the config's).
        timeout_s: how long the validation may run (None: no limit).
    """

    fn_kwargs: dict[str, Any] | None = None
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        if self.fn_kwargs is None:
            self.fn_kwargs = {}
        if not isinstance(self.fn_kwargs, dict):
            raise TypeError(f"ValidationTaskConfig(fn_kwargs=...) must be a dict, got {self.fn_kwargs!r}")
        if self.timeout_s is not None and (isinstance(self.timeout_s, bool) or
                                           not isinstance(self.timeout_s, (int, float)) or self.timeout_s <= 0):
            raise ValueError(f"ValidationTaskConfig(timeout_s=...) must be None or > 0, got {self.timeout_s!r}")


class ValidationConfig:
    """How a trainer validates checkpoints (pass it as ``validation_config=``).

    Args:
        fn: the validation function, ``fn(checkpoint, **fn_kwargs) -> dict of metrics``.
        task_config: the default :class:`ValidationTaskConfig`.
        ray_remote_kwargs: the validation task's options (``num_cpus``, ``max_retries``, ...).
    """

    def __init__(self, fn: ValidationFn, task_config: ValidationTaskConfig | None = None,
                 ray_remote_kwargs: dict[str, Any] | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"ValidationConfig(fn=...) must be a function of a checkpoint, got {fn!r}")
        if task_config is not None and not isinstance(task_config, ValidationTaskConfig):
            raise TypeError(f"ValidationConfig(task_config=...) must be a ValidationTaskConfig, got {task_config!r}")
        if ray_remote_kwargs is not None and not isinstance(ray_remote_kwargs, dict):
            raise TypeError(f"ValidationConfig(ray_remote_kwargs=...) must be a dict, got {ray_remote_kwargs!r}")
        self.fn = fn
        self.task_config = task_config or ValidationTaskConfig()
        self.ray_remote_kwargs = dict(ray_remote_kwargs or {})


def check_request(validation: Any) -> None:
    """Raise TypeError unless ``validation`` is what ``report(validation=...)`` takes."""
    if not isinstance(validation, (bool, ValidationTaskConfig)):
        raise TypeError(f"report(validation=...) takes True, False or a ValidationTaskConfig, got {validation!r}")


def validation_kwargs(config: ValidationConfig, request: bool | ValidationTaskConfig) -> dict[str, Any]:
    """The validation function's keyword arguments for one request (the report's over the config's)."""
    if isinstance(request, ValidationTaskConfig):
        return {**(config.task_config.fn_kwargs or {}), **(request.fn_kwargs or {})}
    return dict(config.task_config.fn_kwargs or {})


def run_validation(fn: ValidationFn, checkpoint: Checkpoint, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The validation task: ``fn(checkpoint, **kwargs)``, which must return a dict."""
    metrics = fn(checkpoint, **kwargs)
    if not isinstance(metrics, dict):
        raise TypeError(f"the validation function must return a dict of metrics, got {type(metrics).__name__}")
    return metrics


@dataclass(frozen=True)
class Finished:
    """A validation that ended: the report's index, the checkpoint, what it gave and how."""

    index: int
    path: str
    metrics: dict[str, Any]
    status: ReportedCheckpointStatus


@dataclass
class Validations:
    """The run's validation tasks (on the driver): started per validated report, polled
    while the training runs, waited for at its end."""

    config: ValidationConfig | None
    statuses: dict[str, ReportedCheckpointStatus] = field(default_factory=dict)
    _pending: dict[Any, tuple[int, str, float | None]] = field(default_factory=dict)

    def start(self, index: int, path: str, request: bool | ValidationTaskConfig) -> None:
        """Start validating the checkpoint at ``path`` (report ``index``)."""
        from streamdata.core import api as rt

        if self.config is None:
            raise ValueError("report(validation=...) asked for a validation, but the trainer has no "
                             "validation_config")
        timeout = request.timeout_s if isinstance(request, ValidationTaskConfig) and request.timeout_s \
            else self.config.task_config.timeout_s
        task = rt.remote(run_validation)
        if self.config.ray_remote_kwargs:
            task = task.options(**self.config.ray_remote_kwargs)
        ref = task.remote(self.config.fn, Checkpoint(path), validation_kwargs(self.config, request))
        self._pending[ref] = (index, path, None if timeout is None else time.monotonic() + timeout)
        self.statuses[path] = ReportedCheckpointStatus.PENDING_VALIDATION

    def poll(self, timeout: float = 0.0) -> list[Finished]:
        """The validations that ended (waiting up to ``timeout`` for one), timed-out ones cancelled."""
        from streamdata.core import api as rt

        if not self._pending:
            return []
        ready, _ = rt.wait(list(self._pending), num_returns=len(self._pending), timeout=timeout)
        done = [self._collect(ref) for ref in ready]
        now = time.monotonic()
        for ref, (index, path, deadline) in list(self._pending.items()):
            if deadline is not None and now >= deadline:
                rt.cancel(ref, force=True)
                del self._pending[ref]
                logger.warning("streamdata.train: the validation of %s ran past its timeout_s; cancelled", path)
                done.append(self._end(index, path, {}, ReportedCheckpointStatus.VALIDATION_TIMEOUT))
        return done

    def finish(self) -> list[Finished]:
        """Wait for every validation still running (each within its timeout)."""
        done: list[Finished] = []
        while self._pending:
            deadlines = [d for _, _, d in self._pending.values() if d is not None]
            wait = 1.0 if not deadlines else max(0.0, min(1.0, min(deadlines) - time.monotonic()))
            done += self.poll(timeout=wait)
        return done

    def _collect(self, ref: Any) -> Finished:
        from streamdata.core import api as rt

        index, path, _ = self._pending.pop(ref)
        try:
            metrics = rt.get(ref)
        except Exception as exc:  # noqa: BLE001 - a failed validation never fails the training
            logger.warning("streamdata.train: the validation of %s failed: %s: %s", path, type(exc).__name__,
                           str(exc).splitlines()[0] if str(exc) else "")
            return self._end(index, path, {}, ReportedCheckpointStatus.VALIDATION_FAILED)
        return self._end(index, path, metrics, ReportedCheckpointStatus.VALIDATED)

    def _end(self, index: int, path: str, metrics: dict[str, Any], status: ReportedCheckpointStatus) -> Finished:
        self.statuses[path] = status
        return Finished(index=index, path=path, metrics=metrics, status=status)


__all__ = ["Finished", "ValidationConfig", "ValidationFn", "ValidationTaskConfig", "Validations", "check_request",
           "run_validation", "validation_kwargs"]
