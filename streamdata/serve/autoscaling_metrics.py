"""The requests an autoscaling policy sees (Ray's ``total_num_requests`` and
``total_queued_requests``), kept by the controller per deployment.

Two kinds of sources, each a step function (a value holds until the next sample):

- ``REPLICAS``: the requests running in the deployment's replicas, which the controller
  asks them for at each look at the load (``metrics_interval_s``);
- one per caller's router (the proxy's, a replica's handles, a driver's handles): its
  requests waiting for a replica slot, which the router reports while any wait (every
  ``metrics_interval_s``, and a last 0). A request that got a slot has left the queue
  before it is sent, so no request counts both as queued and as running.

Ray 2.60 does the same with the series its handles and replicas push (its
``DeploymentAutoscalingState.get_total_num_requests``): the sources are summed at every
change (:func:`merge_total`), then reduced over the last ``look_back_period_s`` with the
deployment's ``aggregation_function`` (:func:`aggregate`; mean: time-weighted). The window
opens no earlier than the replicas' first sample (nothing was observed before); a router
that had not reported yet had nothing queued (it reports as soon as a request waits).
A router that reported queued requests and then fell silent for
``max(2 * metrics_interval_s, ROUTER_TIMEOUT_S)`` is forgotten (its process died), as Ray
forgets a handle.

The custom metrics the replicas' ``record_autoscaling_stats()`` return (:mod:`.autoscaling_stats`)
are kept apart, per replica and metric, by :class:`CustomMetricsWindow`.

Example:
    >>> w = RequestWindow()
    >>> w.record(REPLICAS, 0.0, 1)      # one request running from t=0
    >>> w.record("router-a", 1.0, 4)    # four more wait in a caller from t=1
    >>> w.total(2.0, look_back_s=30), w.queued(2.0, look_back_s=30)
    (3.0, 2.0)
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

#: the source name of the requests running in the replicas
REPLICAS = "replicas"
#: the least time a router that reported queued requests may stay silent before it is
#: forgotten (Ray's ``RAY_SERVE_MIN_HANDLE_METRICS_TIMEOUT_S``)
ROUTER_TIMEOUT_S = 10.0

Sample = tuple[float, float]


def merge_total(series: Iterable[Sequence[Sample]]) -> list[Sample]:
    """The sum of step functions (each ``[(time, value), ...]`` in time order, 0 before its
    first sample) at each time one of them changes.

    Example:
        >>> merge_total([[(0.1, 5), (0.2, 7)], [(0.2, 3), (0.3, 1)]])
        [(0.1, 5), (0.2, 10), (0.3, 8)]
    """
    events = sorted((t, i, v) for i, samples in enumerate(series) for t, v in samples)
    current: dict[int, float] = {}
    total: float = 0
    out: list[Sample] = []
    for t, i, v in events:
        total += v - current.get(i, 0)
        current[i] = v
        if out and out[-1][0] == t:
            out[-1] = (t, total)
        else:
            out.append((t, total))
    return out


def value_at(step: Sequence[Sample], t: float) -> float:
    """The step function's value at ``t`` (0 before its first sample).

    Example:
        >>> value_at([(1.0, 2), (3.0, 5)], 2.9), value_at([(1.0, 2)], 0.5)
        (2, 0)
    """
    value: float = 0
    for when, v in step:
        if when > t:
            break
        value = v
    return value


def aggregate(step: Sequence[Sample], start: float, end: float, how: str = "mean") -> float:
    """The step function over ``[start, end]``: its time-weighted mean, or its max or min;
    the value at ``end`` when the window is empty.

    Example (Ray's docstring of ``get_total_num_requests``: the window opens at 0.3 and
    closes at 2.0):
        >>> merged = merge_total([[(0.2, 5), (0.8, 7), (1.5, 6)], [(0.1, 3), (0.9, 4), (1.4, 8)],
        ...                       [(0.3, 2), (1.0, 3)]])
        >>> round(aggregate(merged, 0.3, 2.0), 2), aggregate(merged, 0.3, 2.0, "max")
        (13.76, 18)
    """
    if end <= start:
        return value_at(step, end)
    value = value_at(step, start)
    if how == "max" or how == "min":
        inside = [value] + [v for t, v in step if start < t <= end]
        return max(inside) if how == "max" else min(inside)
    area, since = 0.0, start
    for t, v in step:
        if t <= start:
            continue
        if t >= end:
            break
        area += value * (t - since)
        value, since = v, t
    area += value * (end - since)
    return area / (end - start)


class RequestWindow:
    """One deployment's request samples by source, kept over the look-back window.

    Example:
        >>> w = RequestWindow()
        >>> w.record(REPLICAS, 0.0, 2); w.record(REPLICAS, 1.0, 0)
        >>> w.total(2.0, look_back_s=1.5), w.total(2.0, look_back_s=1.5, how="max")
        (0.6666666666666666, 2.0)
    """

    def __init__(self) -> None:
        self._series: dict[str, collections.deque[Sample]] = {}
        self._heard: dict[str, float] = {}  # a source's last sample (a repeated value is not stored)

    def record(self, source: str, now: float, value: float) -> None:
        """``source``'s value from ``now`` on (times of one source must not go back)."""
        samples = self._series.setdefault(source, collections.deque())
        self._heard[source] = now
        if samples and samples[-1][1] == value:
            return
        if samples and samples[-1][0] >= now:
            samples.pop()
        samples.append((now, value))

    def sources(self) -> list[str]:
        """The sources with samples kept."""
        return list(self._series)

    def forget(self, source: str) -> None:
        self._series.pop(source, None)
        self._heard.pop(source, None)

    def _window(self, now: float, look_back_s: float) -> float:
        start = now - look_back_s
        replicas = self._series.get(REPLICAS)
        if replicas:
            start = max(start, replicas[0][0])
        return start

    def prune(self, now: float, look_back_s: float, silent_after_s: float = ROUTER_TIMEOUT_S) -> None:
        """Drop samples before the window (the one holding at its start is kept), routers
        whose queue has been empty since before it, and routers silent for ``silent_after_s``
        with requests queued (their process died)."""
        start = now - look_back_s
        for source, samples in list(self._series.items()):
            while len(samples) > 1 and samples[1][0] <= start:
                samples.popleft()
            if source == REPLICAS:
                continue
            last_t, last_v = samples[-1]
            if (last_v == 0 and last_t <= start) or (last_v != 0 and now - self._heard[source] > silent_after_s):
                self.forget(source)

    def total(self, now: float, look_back_s: float, how: str = "mean") -> float:
        """Requests running and queued, aggregated over the window that ends at ``now``."""
        return self._aggregate(self._series.values(), now, look_back_s, how)

    def queued(self, now: float, look_back_s: float, how: str = "mean") -> float:
        """Requests queued in the routers alone, aggregated over the same window."""
        return self._aggregate((s for k, s in self._series.items() if k != REPLICAS), now, look_back_s, how)

    def _aggregate(self, series: Iterable[Sequence[Sample]], now: float, look_back_s: float, how: str) -> float:
        series = [s for s in series if s]
        if not series:
            return 0.0
        return float(aggregate(merge_total(series), self._window(now, look_back_s), now, how))


@dataclasses.dataclass(order=True)
class TimeStampedValue:
    """One sample of a custom metric (Ray's ``TimeStampedValue``): ordered by time alone."""

    timestamp: float
    value: float = dataclasses.field(compare=False)


class CustomMetricsWindow:
    """The custom metrics each replica's ``record_autoscaling_stats`` returned, as a series
    per metric and replica kept over the look-back window (what Ray's replicas push).

    For a policy (Ray's ``AutoscalingContext`` fields), of the running replicas only:
    :meth:`raw` gives each series (``raw_metrics``), :meth:`aggregated` each series reduced
    with the ``aggregation_function`` (``aggregated_metrics``): the time-weighted mean from
    its first sample kept to ``now`` (a sample holds until the next, the last until ``now``),
    or the max or min of its samples. A replica that has not reported a metric has no entry
    under it; a metric no running replica reported is absent.

    Example:
        >>> w = CustomMetricsWindow()
        >>> w.record("r1", 0.0, {"cpu": 10}); w.record("r1", 1.0, {"cpu": 40}); w.record("r2", 1.0, {"cpu": 5})
        >>> w.aggregated(["r1", "r2"], now=2.0, look_back_s=30)
        {'cpu': {'r1': 25.0, 'r2': 5.0}}
        >>> w.aggregated(["r1"], now=2.0, look_back_s=30, how="max"), w.raw(["r2"])
        ({'cpu': {'r1': 40.0}}, {'cpu': {'r2': [TimeStampedValue(timestamp=1.0, value=5)]}})
    """

    def __init__(self) -> None:
        self._series: dict[Any, dict[str, list[TimeStampedValue]]] = {}  # replica -> metric -> samples

    def record(self, replica: Any, when: float, metrics: dict[str, float]) -> None:
        """``replica``'s metrics sampled at ``when`` (a sample older than the last is placed in order)."""
        by_name = self._series.setdefault(replica, {})
        for name, value in metrics.items():
            bisect.insort(by_name.setdefault(name, []), TimeStampedValue(when, value))

    def forget(self, replica: Any) -> None:
        """A replica that stopped: its samples go."""
        self._series.pop(replica, None)

    def replicas(self) -> list[Any]:
        return list(self._series)

    def prune(self, now: float, look_back_s: float) -> None:
        """Drop the samples taken before the window, and the metrics left with none."""
        start = now - look_back_s
        for replica, by_name in list(self._series.items()):
            for name, samples in list(by_name.items()):
                kept = samples[bisect.bisect_left(samples, TimeStampedValue(start, 0)):]
                if kept:
                    by_name[name] = kept
                else:
                    del by_name[name]
            if not by_name:
                del self._series[replica]

    def raw(self, running: Iterable[Any]) -> dict[str, dict[Any, list[TimeStampedValue]]]:
        """metric -> replica -> its samples, oldest first (copies)."""
        out: dict[str, dict[Any, list[TimeStampedValue]]] = {}
        for replica in running:
            for name, samples in self._series.get(replica, {}).items():
                out.setdefault(name, {})[replica] = list(samples)
        return out

    def aggregated(self, running: Iterable[Any], now: float, look_back_s: float,
                   how: str = "mean") -> dict[str, dict[Any, float]]:
        """metric -> replica -> its samples in the window ending at ``now`` as one number."""
        out: dict[str, dict[Any, float]] = {}
        start = now - look_back_s
        for replica, name, samples in ((r, n, s) for r in running for n, s in self._series.get(r, {}).items()):
            step = [(s.timestamp, s.value) for s in samples if s.timestamp >= start]
            if step:
                out.setdefault(name, {})[replica] = float(aggregate(step, step[0][0], max(now, step[-1][0]), how))
        return out


__all__ = ["REPLICAS", "ROUTER_TIMEOUT_S", "CustomMetricsWindow", "RequestWindow", "TimeStampedValue", "aggregate",
           "merge_total", "value_at"]
