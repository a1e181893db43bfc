"""``ray.util.metrics`` for streamdata: ``Counter``, ``Gauge``, ``Histogram`` with tags.

Record from the driver, from tasks, from actors and from serve replicas; the
driver's runtime aggregates every process's values (counters add up, a gauge
keeps its latest value, histograms add their buckets) and exports them in
Prometheus format (``sd.init(_metrics_export_port=...)``, named ``ray_<name>``
as Ray exports application metrics). A worker buffers its recordings and sends
them as one batch every :data:`FLUSH_INTERVAL_S` seconds, never one message per
recording; the driver's own go to the runtime when metrics are collected.

On Ray (``sd.init(backend="ray")``, or inside a Ray worker) every recording goes to
Ray's own ``ray.util.metrics`` object of the same name, kind, tag keys and
boundaries, made in the recording process: Ray's metrics agent aggregates and
exports them (``ray_<name>`` on the node's ``metrics_export_port``), as for a Ray
program. :func:`collect` reads the local runtime only.

Example:
    >>> import streamdata as sd
    >>> from streamdata.util.metrics import Counter, Histogram, collect
    >>> _ = sd.init(num_cpus=1, ignore_reinit_error=True)
    >>> hits = Counter("doc_hits", description="hits", tag_keys=("route",))
    >>> hits.set_default_tags({"route": "/"}) is hits
    True
    >>> hits.inc()
    >>> hits.inc(2.0, tags={"route": "/a"})
    >>> latency = Histogram("doc_latency_s", boundaries=[0.1, 1.0])
    >>> latency.observe(0.5)
    >>> values = collect()["values"]
    >>> values[("doc_hits", (("route", "/"),))], values[("doc_hits", (("route", "/a"),))]
    (1.0, 2.0)
    >>> values[("doc_latency_s", ())]
    ([0, 1, 0], 0.5, 1)
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import warnings
from typing import Any, Dict, List, Optional, Tuple, Union

from streamdata.core.metrics_agg import MetricsAggregator

#: how often a worker sends its buffered recordings to the driver
FLUSH_INTERVAL_S = 0.2

_VALID_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


class _Recorder:
    """This process's buffer of recordings (and, in a worker, the thread that ships it)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buffer = MetricsAggregator()
        self.thread: threading.Thread | None = None
        self.in_worker = bool(os.environ.get("STREAMDATA_WORKER"))

    def record(self, kind: str, metric: Metric, tags: tuple, value: float) -> None:
        with self.lock:
            self.buffer.record(kind, metric._name, metric._description, metric._tag_keys,
                               getattr(metric, "boundaries", None), tags, float(value), time.time())
        if self.in_worker and self.thread is None:
            self._start_shipping()

    def take(self) -> dict | None:
        with self.lock:
            return self.buffer.take()

    def _start_shipping(self) -> None:
        with self.lock:
            if self.thread is not None:
                return
            self.thread = threading.Thread(target=self._ship_loop, name="streamdata-metrics", daemon=True)
            self.thread.start()

    def _ship_loop(self) -> None:
        from streamdata.core import context
        from streamdata.core import protocol as msgs
        while True:
            time.sleep(FLUSH_INTERVAL_S)
            batch = self.take()
            client = context.get_client()
            if batch is None or client is None:
                continue
            try:  # fire and forget: request id -1 has no waiter, its reply is dropped
                client.send(msgs.Request(-1, "metrics_push", (batch,)))
            except (OSError, ValueError):
                return  # the driver is gone


_recorder = _Recorder()
_ray_lock = threading.Lock()


def _active_ray() -> Any:
    """The ``ray`` module when this process records to Ray (the Ray backend, or a Ray
    worker), else None. Never imports Ray nor starts a runtime."""
    ray = sys.modules.get("ray")
    if ray is None:
        return None
    from streamdata.core import context
    if context.get_client() is not None:  # the local runtime's driver or one of its workers
        return None
    return ray if ray.is_initialized() else None


class Metric:
    """The base of the metric classes: name, description, tag keys, default tags (Ray's)."""

    def __init__(self, name: str, description: str = "", tag_keys: Optional[Tuple[str, ...]] = None) -> None:
        if not isinstance(name, str):
            raise TypeError(f"metric name must be a str, got {type(name).__name__}")
        if not name:
            raise ValueError("Empty name is not allowed. Please provide a metric name.")
        self._discard_metric = not _VALID_NAME.match(name)
        if self._discard_metric:
            warnings.warn(f"Invalid metric name: {name}. Metric will be discarded and data will not be "
                          "collected or published. Metric names can only contain letters, numbers, _, "
                          "and :. Metric names cannot start with numbers.", UserWarning, stacklevel=3)
        if tag_keys is None:
            tag_keys = ()
        if not isinstance(tag_keys, tuple):
            raise TypeError(f"tag_keys should be a tuple type, got: {type(tag_keys)}")
        for key in tag_keys:
            if not isinstance(key, str):
                raise TypeError(f"Tag keys must be str, got {type(key)}.")
        self._name = name
        self._description = description
        self._tag_keys = tag_keys
        self._default_tags: Dict[str, str] = {}
        self._ray_metric: Any = None  # Ray's metric of this name, made on first use on Ray

    def set_default_tags(self, default_tags: Dict[str, str]) -> Metric:
        """Tags used by every recording that does not give them; returns the metric itself."""
        for key, val in default_tags.items():
            if key not in self._tag_keys:
                raise ValueError(f"Unrecognized tag key {key}.")
            if not isinstance(val, str):
                raise TypeError(f"Tag values must be str, got {type(val)}.")
        self._default_tags = dict(default_tags)
        return self

    def _final_tags(self, tags: Optional[Dict[str, str]]) -> tuple:
        if tags:
            for key, val in tags.items():
                if not isinstance(val, str):
                    raise TypeError(f"Tag values must be str, got {type(val)}.")
            final = {**self._default_tags, **tags}
        else:
            final = self._default_tags
        missing = [k for k in self._tag_keys if k not in final]
        if missing:
            raise ValueError(f"Missing value for tag key(s): {','.join(missing)}.")
        return tuple(sorted(final.items()))

    def _record(self, kind: str, value: Union[int, float], tags: Optional[Dict[str, str]] = None) -> None:
        if self._discard_metric:
            return
        final = self._final_tags(tags)
        if _active_ray() is not None:
            self._record_on_ray(kind, value, final)
            return
        _recorder.record(kind, self, final, value)

    def _record_on_ray(self, kind: str, value: Union[int, float], tags: tuple) -> None:
        """Record to Ray's metric of this name (made here, in the recording process)."""
        metric = self._ray_metric
        if metric is None:
            from ray.util import metrics as ray_metrics
            with _ray_lock:
                if self._ray_metric is None:
                    self._ray_metric = self._make_ray_metric(ray_metrics)
                metric = self._ray_metric
        method = {"counter": "inc", "gauge": "set", "histogram": "observe"}[kind]
        getattr(metric, method)(value, tags=dict(tags))  # the tags are final: the defaults are applied already

    def _make_ray_metric(self, ray_metrics: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no Ray counterpart")

    @property
    def info(self) -> Dict[str, Any]:
        """The metric's name, description, tag keys and default tags."""
        return {"name": self._name, "description": self._description, "tag_keys": self._tag_keys,
                "default_tags": self._default_tags}


def _check_value(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"value must be int or float, got {type(value)}.")


class Counter(Metric):
    """A total that only grows (exported as a Prometheus counter ``ray_<name>_total``)."""

    def __init__(self, name: str, description: str = "", tag_keys: Optional[Tuple[str, ...]] = None) -> None:
        super().__init__(name, description, tag_keys)

    def inc(self, value: Union[int, float] = 1.0, tags: Optional[Dict[str, str]] = None) -> None:
        """Add ``value`` (> 0) to the counter of ``tags``."""
        _check_value(value)
        if value <= 0:
            raise ValueError(f"value must be >0, got {value}")
        self._record("counter", value, tags)

    def _make_ray_metric(self, ray_metrics: Any) -> Any:
        return ray_metrics.Counter(self._name, self._description, self._tag_keys)

    def __reduce__(self) -> tuple:
        return _rebuild, (Counter, (self._name, self._description, self._tag_keys), self._default_tags)


class Gauge(Metric):
    """A value that goes up and down; the latest recording wins."""

    def __init__(self, name: str, description: str = "", tag_keys: Optional[Tuple[str, ...]] = None) -> None:
        super().__init__(name, description, tag_keys)

    def set(self, value: Optional[Union[int, float]], tags: Optional[Dict[str, str]] = None) -> None:
        """Set the gauge of ``tags`` to ``value`` (None: do nothing, as Ray's)."""
        if value is None:
            return
        _check_value(value)
        self._record("gauge", value, tags)

    def _make_ray_metric(self, ray_metrics: Any) -> Any:
        return ray_metrics.Gauge(self._name, self._description, self._tag_keys)

    def __reduce__(self) -> tuple:
        return _rebuild, (Gauge, (self._name, self._description, self._tag_keys), self._default_tags)


class Histogram(Metric):
    """Observations counted in buckets with upper ``boundaries`` (positive, ascending)."""

    def __init__(self, name: str, description: str = "", boundaries: Optional[List[float]] = None,
                 tag_keys: Optional[Tuple[str, ...]] = None) -> None:
        super().__init__(name, description, tag_keys)
        if boundaries is None or len(boundaries) == 0:
            raise ValueError("boundaries argument should be provided when using the Histogram class. "
                             'e.g., Histogram("name", boundaries=[1.0, 2.0])')
        for i, boundary in enumerate(boundaries):
            if isinstance(boundary, bool) or not isinstance(boundary, (int, float)) or boundary <= 0:
                raise ValueError(f"Invalid `boundaries` argument at index {i}, {boundaries}. "
                                 "Use positive values for the arguments.")
        if list(boundaries) != sorted(boundaries):
            raise ValueError(f"`boundaries` must be in ascending order, got {boundaries}")
        self.boundaries = list(boundaries)

    def observe(self, value: Union[int, float], tags: Optional[Dict[str, str]] = None) -> None:
        """Count ``value`` in its bucket (and in the sum and count)."""
        _check_value(value)
        self._record("histogram", value, tags)

    def _make_ray_metric(self, ray_metrics: Any) -> Any:
        return ray_metrics.Histogram(self._name, self._description, self.boundaries, self._tag_keys)

    @property
    def info(self) -> Dict[str, Any]:
        return {**super().info, "boundaries": self.boundaries}

    def __reduce__(self) -> tuple:
        return _rebuild, (Histogram, (self._name, self._description, self.boundaries, self._tag_keys),
                          self._default_tags)


def _rebuild(cls: type, args: tuple, default_tags: dict) -> Metric:
    metric = cls(*args)
    if default_tags:
        metric.set_default_tags(default_tags)
    return metric


def collect(timeout: float | None = 30) -> dict:
    """Every process's metrics as the driver's runtime aggregated them (the driver's own
    recordings included): ``{"defs": {name: (kind, description, tag_keys, boundaries)},
    "values": {(name, tags): value}}`` — a counter's total, a gauge's value, a histogram's
    ``(bucket counts, sum, count)``.

    Raises:
        RuntimeSystemError: on the Ray backend, where Ray's metrics agent holds the values
            (read them from its Prometheus endpoint).
    """
    from streamdata.core import context
    if _active_ray() is not None:
        from streamdata.errors import RuntimeSystemError
        raise RuntimeSystemError(
            "metrics.collect() reads the local runtime's metrics; on backend='ray' the metrics go to "
            "Ray's metrics agent: scrape the node's Prometheus endpoint (its metrics_export_port)")
    client = context.current_client()
    batch = _recorder.take()
    if batch is not None:
        client.call("metrics_push", batch, timeout=timeout)
    return client.call("metrics_snapshot", timeout=timeout)


__all__ = ["Counter", "Gauge", "Histogram", "Metric", "collect"]
