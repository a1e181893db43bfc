"""``serve.metrics.Counter`` / ``Gauge`` / ``Histogram`` (Ray Serve's names): the metrics of
``streamdata.util.metrics`` that also carry the replica they are recorded in, as the tags
``deployment``, ``replica`` and ``application`` (set when made in a replica; ``""`` outside one),
and ``route``, the current request's route at each recording.

Example:
    >>> c = Counter("my_counter", description="odd requests", tag_keys=("model",))
    >>> c.set_default_tags({"model": "123"}) is c
    True
    >>> c.inc()
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

from streamdata.serve import context
from streamdata.util import metrics as util_metrics

SERVE_TAG_KEYS = ("deployment", "replica", "application", "route")


def _serve_tag_keys(name: str, tag_keys: Optional[Tuple[str, ...]]) -> Tuple[str, ...]:
    taken = sorted(set(tag_keys or ()) & set(SERVE_TAG_KEYS))
    if taken:
        raise ValueError(f"metric {name!r}: tag key(s) {taken} are set by serve; choose other names")
    return SERVE_TAG_KEYS + tuple(tag_keys or ())


def _replica_tags() -> Dict[str, str]:
    try:
        ctx = context.get_replica_context()
    except RuntimeError:
        return {"deployment": "", "replica": "", "application": ""}
    return {"deployment": ctx.deployment, "replica": ctx.replica_tag, "application": ctx.app_name}


def _with_route(tags: Optional[Dict[str, str]]) -> Dict[str, str]:
    out = dict(tags or {})
    out.setdefault("route", context.get_request_context().route)
    return out


class _ServeTags:
    def _serve_init(self) -> None:
        self.set_default_tags({})

    def set_default_tags(self, default_tags: Dict[str, str]) -> Any:
        return super().set_default_tags({**default_tags, **_replica_tags()})  # type: ignore[misc]


class Counter(_ServeTags, util_metrics.Counter):
    def __init__(self, name: str, description: str = "", tag_keys: Optional[Tuple[str, ...]] = None) -> None:
        super().__init__(name, description, _serve_tag_keys(name, tag_keys))
        self._serve_init()

    def inc(self, value: Union[int, float] = 1.0, tags: Optional[Dict[str, str]] = None) -> None:
        super().inc(value, _with_route(tags))


class Gauge(_ServeTags, util_metrics.Gauge):
    def __init__(self, name: str, description: str = "", tag_keys: Optional[Tuple[str, ...]] = None) -> None:
        super().__init__(name, description, _serve_tag_keys(name, tag_keys))
        self._serve_init()

    def set(self, value: Optional[Union[int, float]], tags: Optional[Dict[str, str]] = None) -> None:
        super().set(value, _with_route(tags))


class Histogram(_ServeTags, util_metrics.Histogram):
    def __init__(self, name: str, description: str = "", boundaries: Optional[list] = None,
                 tag_keys: Optional[Tuple[str, ...]] = None) -> None:
        super().__init__(name, description, boundaries, _serve_tag_keys(name, tag_keys))
        self._serve_init()

    def observe(self, value: Union[int, float], tags: Optional[Dict[str, str]] = None) -> None:
        super().observe(value, _with_route(tags))


__all__ = ["Counter", "Gauge", "Histogram", "SERVE_TAG_KEYS"]
