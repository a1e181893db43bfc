"""Aggregation of custom metrics (``Counter``, ``Gauge``, ``Histogram`` values), no I/O.

One :class:`MetricsAggregator` is a process's buffer of recordings (a worker
sends it to the driver as one batch now and then, never one message per
recording) and another is the driver's store where the batches of every process
are merged: counters add up, a gauge keeps its latest value, histograms add
their bucket counts. The public classes live in :mod:`streamdata.util.metrics`.

Example:
    >>> agg = MetricsAggregator()
    >>> agg.record("counter", "hits", "", ("route",), None, (("route", "/a"),), 2.0, 1.0)
    >>> worker = MetricsAggregator()
    >>> worker.record("counter", "hits", "", ("route",), None, (("route", "/a"),), 3.0, 2.0)
    >>> agg.merge(worker.take())
    >>> agg.snapshot()["values"][("hits", (("route", "/a"),))]
    5.0
    >>> worker.take() is None
    True
"""

from __future__ import annotations

import bisect
from typing import Any

Tags = tuple  # ((key, value), ...) sorted by key


class MetricsAggregator:
    """Metric definitions and their values per tag set."""

    __slots__ = ("defs", "values", "dirty")

    def __init__(self) -> None:
        #: name -> (kind, description, tag_keys, boundaries)
        self.defs: dict[str, tuple[str, str, tuple, tuple | None]] = {}
        #: (name, tags) -> a counter's total, a gauge's (value, time) or a histogram's [buckets, sum, count]
        self.values: dict[tuple[str, Tags], Any] = {}
        self.dirty = False

    def define(self, kind: str, name: str, description: str, tag_keys: tuple, boundaries: tuple | None) -> None:
        if name not in self.defs:
            self.defs[name] = (kind, description, tuple(tag_keys), tuple(boundaries) if boundaries else None)

    def record(self, kind: str, name: str, description: str, tag_keys: tuple, boundaries: tuple | None,
               tags: Tags, value: float, now: float) -> None:
        """Apply one recording (``inc``, ``set`` or ``observe``)."""
        if name not in self.defs:
            self.define(kind, name, description, tag_keys, boundaries)
        key = (name, tags)
        values = self.values
        if kind == "counter":
            values[key] = values.get(key, 0.0) + value
        elif kind == "gauge":
            values[key] = (value, now)
        else:
            bounds = self.defs[name][3] or ()
            entry = values.get(key)
            if entry is None:
                entry = values[key] = [[0] * (len(bounds) + 1), 0.0, 0]
            entry[0][bisect.bisect_left(bounds, value)] += 1
            entry[1] += value
            entry[2] += 1
        self.dirty = True

    def take(self) -> dict | None:
        """The recordings since the last ``take`` as one batch (None if there are none); resets."""
        if not self.dirty:
            return None
        batch = {"defs": dict(self.defs), "values": self.values}
        self.values = {}
        self.dirty = False
        return batch

    def merge(self, batch: dict) -> None:
        """Add a batch from :meth:`take` (of this or another process)."""
        for name, definition in batch["defs"].items():
            self.defs.setdefault(name, definition)
        values = self.values
        for key, value in batch["values"].items():
            kind = self.defs[key[0]][0]
            if kind == "counter":
                values[key] = values.get(key, 0.0) + value
            elif kind == "gauge":
                old = values.get(key)
                if old is None or old[1] <= value[1]:
                    values[key] = value
            else:
                old = values.get(key)
                if old is None:
                    values[key] = [list(value[0]), value[1], value[2]]
                elif len(old[0]) == len(value[0]):
                    old[0] = [a + b for a, b in zip(old[0], value[0])]
                    old[1] += value[1]
                    old[2] += value[2]
        self.dirty = True

    def snapshot(self) -> dict:
        """A copy of the definitions and values (gauges as values, without their times)."""
        out: dict[tuple[str, Tags], Any] = {}
        for key, value in self.values.items():
            kind = self.defs[key[0]][0]
            if kind == "gauge":
                out[key] = value[0]
            elif kind == "histogram":
                out[key] = (list(value[0]), value[1], value[2])
            else:
                out[key] = value
        return {"defs": dict(self.defs), "values": out}
