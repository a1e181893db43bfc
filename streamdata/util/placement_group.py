"""Ray's ``ray.util.placement_group`` module: reserve resource bundles together.

``placement_group``, ``remove_placement_group`` and ``PlacementGroup`` are the
runtime's (also ``sd.placement_group``); this module adds Ray's look-ups:
``placement_group_table()`` of every group, ``get_placement_group(name)`` and
``get_current_placement_group()`` (inside a task or actor scheduled in a group).

Example:
    >>> import streamdata as sd
    >>> from streamdata.util.placement_group import placement_group, placement_group_table
    >>> pg = placement_group([{"CPU": 1}], name="doc_pg")
    >>> sd.get(pg.ready())
    True
    >>> placement_group_table(pg)["state"]
    'CREATED'
    >>> get_placement_group("doc_pg").id == pg.id
    True
    >>> remove_placement_group(pg)
"""

from __future__ import annotations

from typing import Any

from streamdata.core import context
from streamdata.core.placement_group import PlacementGroup, placement_group, remove_placement_group
from streamdata.core.placement_group import placement_group_table as _one_table
from streamdata.core.runtime_context import current_placement_group_info

__all__ = ["PlacementGroup", "placement_group", "remove_placement_group", "placement_group_table",
           "get_placement_group", "get_current_placement_group", "VALID_PLACEMENT_GROUP_STRATEGIES"]

#: the strategies ``placement_group(strategy=...)`` accepts
VALID_PLACEMENT_GROUP_STRATEGIES = {"PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"}


def _ray_backend() -> Any:
    backend = context.current_backend()
    return backend if backend.name == "ray" else None


def placement_group_table(placement_group: PlacementGroup | None = None) -> dict:
    """The state of ``placement_group``; without one, of every group by id (removed ones included).

    Args:
        placement_group: the group, or None for all of them.
    """
    if placement_group is not None:
        if not isinstance(placement_group, PlacementGroup) and _ray_backend() is None:
            raise TypeError(f"placement_group_table(placement_group=...) expects a PlacementGroup, got "
                            f"{type(placement_group).__name__}")
        return _one_table(placement_group)
    if _ray_backend() is not None:
        from ray.util.placement_group import placement_group_table as ray_table
        return ray_table()
    return context.current_client().call("pg_list")


def get_placement_group(placement_group_name: str) -> PlacementGroup:
    """The live placement group created with ``name=placement_group_name``.

    The handle has no ``ready()`` reference here: call it on the handle that
    ``placement_group`` returned, or use ``placement_group_table``.

    Raises:
        ValueError: no live group has that name.
    """
    if not isinstance(placement_group_name, str) or not placement_group_name:
        raise TypeError(f"get_placement_group(placement_group_name=...) expects a non-empty str, got "
                        f"{placement_group_name!r}")
    if _ray_backend() is not None:
        from ray.util.placement_group import get_placement_group as ray_get
        return ray_get(placement_group_name)
    table = context.current_client().call("pg_list")
    live = {t.get("name"): (pg_id, t) for pg_id, t in table.items() if t["state"] != "REMOVED"}
    if placement_group_name not in live:
        raise ValueError(f"no placement group named {placement_group_name!r} (live groups named: "
                         f"{sorted(n for n in live if n)})")
    pg_id, info = live[placement_group_name]
    return PlacementGroup(pg_id, [info["bundles"][i] for i in sorted(info["bundles"])], info["strategy"])


def get_current_placement_group() -> PlacementGroup | None:
    """The placement group the running task or actor was scheduled in; None in the driver and outside one.

    Example:
        >>> get_current_placement_group() is None  # the driver
        True
    """
    if _ray_backend() is not None:
        from ray.util.placement_group import get_current_placement_group as ray_current
        return ray_current()
    info = current_placement_group_info()
    if info is None:
        return None
    return PlacementGroup(info["id"], info["bundles"], info["strategy"])
