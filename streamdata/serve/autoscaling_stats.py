"""A replica's custom autoscaling metrics: its deployment's ``record_autoscaling_stats()``
(Ray Serve's hook), sync or async, returning ``{metric name: int or float}``.

The controller asks a replica of an autoscaling deployment for its load at every look
(every ``metrics_interval_s``); the replica answers with the requests it runs and the
result of its latest call to the hook not yet handed over, with the result's age, and
starts the next call (one at a time). The controller keeps the results per replica over
``look_back_period_s`` and gives them to the custom policy as ``aggregated_metrics`` and
``raw_metrics`` (:class:`~.autoscaling_metrics.CustomMetricsWindow`).

As in Ray: a sync hook runs on a thread, not on the replica's event loop; a call that
raises or takes longer than ``RAY_SERVE_RECORD_AUTOSCALING_STATS_TIMEOUT_S`` (10 s) is
logged and counted (:attr:`AutoscalingStatsRecorder.failures`) and the replica goes on; a
result that is not a dict of numbers is logged and turns the hook off for that replica
(Ray checks the first result alone; every result is checked here).

Example:
    >>> import asyncio
    >>> class Model:
    ...     def record_autoscaling_stats(self):
    ...         return {"queue": 3}
    >>> asyncio.run(AutoscalingStatsRecorder(Model()).collect(wait_s=5.0))[0]
    {'queue': 3}
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import time
from typing import Any

logger = logging.getLogger("streamdata.serve")

#: the longest a call to ``record_autoscaling_stats`` may take (Ray's constant and variable)
RECORD_AUTOSCALING_STATS_TIMEOUT_S = float(os.environ.get("RAY_SERVE_RECORD_AUTOSCALING_STATS_TIMEOUT_S", "10.0"))


def check_stats(value: Any) -> str | None:
    """Why ``value`` is not what the hook must return (None: it is).

    Example:
        >>> check_stats({"a": 1, "b": 2.5}), check_stats([1])
        (None, 'returned list, expected Dict[str, Union[int, float]]')
    """
    if not isinstance(value, dict):
        return f"returned {type(value).__name__}, expected Dict[str, Union[int, float]]"
    for key, item in value.items():
        if not isinstance(item, (int, float)):
            return f"returned the value {item!r} ({type(item).__name__}) for {key!r}, expected an int or a float"
    return None


class AutoscalingStatsRecorder:
    """Calls one replica's ``record_autoscaling_stats`` for the controller's looks."""

    def __init__(self, obj: Any, label: str = "", timeout_s: float | None = None) -> None:
        fn = getattr(obj, "record_autoscaling_stats", None)
        self._fn = fn if callable(fn) else None
        self.enabled = self._fn is not None  # False as well once it returned something else than a dict of numbers
        self.failures = 0  # calls that raised or timed out
        self._label = label
        self._timeout_s = RECORD_AUTOSCALING_STATS_TIMEOUT_S if timeout_s is None else timeout_s
        self._call: asyncio.Task | None = None
        self._thread: asyncio.Future | None = None  # a sync call's thread, which a timeout does not stop
        self._result: tuple[dict[str, float], float] | None = None  # not handed over yet, and when it came

    async def collect(self, wait_s: float) -> tuple[dict[str, float] | None, float]:
        """The latest result not handed over yet (None if none) and its age in seconds;
        starts a call when none is under way, and waits at most ``wait_s`` for it."""
        if not self.enabled:
            return None, 0.0
        if self._call is None and (self._thread is None or self._thread.done()):
            self._call = asyncio.get_running_loop().create_task(self._run())
        if self._call is not None and not self._call.done() and wait_s > 0:
            await asyncio.wait({self._call}, timeout=wait_s)
        result, self._result = self._result, None
        if result is None:
            return None, 0.0
        return result[0], max(0.0, time.monotonic() - result[1])

    async def _run(self) -> None:
        assert self._fn is not None
        try:
            if inspect.iscoroutinefunction(self._fn) or inspect.iscoroutinefunction(
                    getattr(self._fn, "__call__", None)):
                value = await asyncio.wait_for(self._fn(), self._timeout_s)
            else:
                self._thread = asyncio.get_running_loop().run_in_executor(None, self._fn)
                value = await asyncio.wait_for(asyncio.shield(self._thread), self._timeout_s)
                if inspect.isawaitable(value):  # a sync function that returned a coroutine
                    value = await asyncio.wait_for(value, self._timeout_s)
        except asyncio.TimeoutError:
            self.failures += 1
            logger.error("%s: record_autoscaling_stats timed out after %ss", self._label, self._timeout_s)
            return
        except Exception as exc:  # noqa: BLE001 - the user's hook failed: logged and counted, the replica goes on
            self.failures += 1
            logger.error("%s: record_autoscaling_stats failed: %s: %s", self._label, type(exc).__name__, exc)
            return
        finally:
            self._call = None
        problem = check_stats(value)
        if problem is not None:
            self.enabled = False
            logger.error("%s: record_autoscaling_stats %s; its custom metrics are off", self._label, problem)
            return
        self._result = (dict(value), time.monotonic())


__all__ = ["RECORD_AUTOSCALING_STATS_TIMEOUT_S", "AutoscalingStatsRecorder", "check_stats"]
