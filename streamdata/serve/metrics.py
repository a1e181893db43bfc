"""Serve's metrics: counters and histograms, rendered in Prometheus' text format.

Example:
    >>> reg = MetricsRegistry()
    >>> reg.counter("demo_requests_total", "Requests.").inc({"app": "a"})
    >>> print(reg.render())
    # HELP demo_requests_total Requests.
    # TYPE demo_requests_total counter
    demo_requests_total{app="a"} 1
    <BLANKLINE>
"""

from __future__ import annotations

import bisect
import math
import threading
from typing import Iterable

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)

Labels = dict[str, str]


def _label_key(labels: Labels | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((labels or {}).items()))


def _fmt_labels(key: Iterable[tuple[str, str]], extra: tuple[str, str] | None = None) -> str:
    items = list(key) + ([extra] if extra else [])
    if not items:
        return ""
    body = ",".join(f'{k}="{_escape(str(v))}"' for k, v in items)
    return "{" + body + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _fmt_value(value: float) -> str:
    if value == math.inf:
        return "+Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Counter:
    """A monotonically increasing count per label set."""

    kind = "counter"

    def __init__(self, name: str, help_text: str) -> None:
        self.name, self.help = name, help_text
        self._values: dict[tuple, float] = {}
        self._lock = threading.Lock()

    def inc(self, labels: Labels | None = None, amount: float = 1.0) -> None:
        key = _label_key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, labels: Labels | None = None) -> float:
        with self._lock:
            return self._values.get(_label_key(labels), 0.0)

    def lines(self) -> list[str]:
        with self._lock:
            return [f"{self.name}{_fmt_labels(k)} {_fmt_value(v)}" for k, v in sorted(self._values.items())]


class Gauge(Counter):
    """A value that goes up and down (set per label set)."""

    kind = "gauge"

    def set(self, labels: Labels | None, value: float) -> None:
        with self._lock:
            self._values[_label_key(labels)] = float(value)


class Histogram:
    """Observations counted into cumulative buckets, with their sum and count."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: Iterable[float]) -> None:
        self.name, self.help = name, help_text
        self.buckets = tuple(sorted(buckets))
        self._counts: dict[tuple, list[float]] = {}
        self._sums: dict[tuple, float] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, labels: Labels | None = None, count: int = 1) -> None:
        key = _label_key(labels)
        with self._lock:
            counts = self._counts.setdefault(key, [0.0] * (len(self.buckets) + 1))
            counts[bisect.bisect_left(self.buckets, value)] += count
            self._sums[key] = self._sums.get(key, 0.0) + value * count

    def count(self, labels: Labels | None = None) -> float:
        with self._lock:
            return sum(self._counts.get(_label_key(labels), []))

    def lines(self) -> list[str]:
        out = []
        with self._lock:
            for key in sorted(self._counts):
                running = 0.0
                for bound, n in zip(list(self.buckets) + [math.inf], self._counts[key]):
                    running += n
                    out.append(f"{self.name}_bucket{_fmt_labels(key, ('le', _fmt_value(bound)))} "
                               f"{_fmt_value(running)}")
                out.append(f"{self.name}_sum{_fmt_labels(key)} {_fmt_value(self._sums[key])}")
                out.append(f"{self.name}_count{_fmt_labels(key)} {_fmt_value(running)}")
        return out


class MetricsRegistry:
    """Named metrics, rendered together."""

    def __init__(self) -> None:
        self._metrics: dict[str, Counter | Histogram] = {}
        self._lock = threading.Lock()

    def counter(self, name: str, help_text: str) -> Counter:
        return self._get(name, lambda: Counter(name, help_text))  # type: ignore[return-value]

    def gauge(self, name: str, help_text: str) -> Gauge:
        return self._get(name, lambda: Gauge(name, help_text))  # type: ignore[return-value]

    def histogram(self, name: str, help_text: str, buckets: Iterable[float]) -> Histogram:
        return self._get(name, lambda: Histogram(name, help_text, buckets))  # type: ignore[return-value]

    def _get(self, name: str, make: object) -> Counter | Histogram:
        with self._lock:
            metric = self._metrics.get(name)
            if metric is None:
                metric = make()  # type: ignore[operator]
                self._metrics[name] = metric
            return metric

    def render(self, extra: Iterable[Counter | Histogram] = ()) -> str:
        """All metrics (and ``extra`` ones) in Prometheus' text exposition format."""
        with self._lock:
            metrics = list(self._metrics.values())
        out = []
        for metric in metrics + list(extra):
            out.append(f"# HELP {metric.name} {metric.help}")
            out.append(f"# TYPE {metric.name} {metric.kind}")
            out.extend(metric.lines())
        return "\n".join(out) + "\n"


__all__ = ["BATCH_SIZE_BUCKETS", "Counter", "Gauge", "Histogram", "LATENCY_BUCKETS_S", "MetricsRegistry"]
