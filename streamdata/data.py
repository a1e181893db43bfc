"""``streamdata.data``: Ray Data's namespace, so ``import streamdata as ray`` then
``ray.data.read_csv(...)`` runs as written for Ray.

streamdata keeps its data API at the top level (``sd.read_csv``); this module answers the
same names under ``.data`` (datasets, readers, strategies, contexts, connectors, and the
submodules ``aggregate``, ``expressions``, ``context``, ``datasource``, ``block``,
``preprocessors`` and ``extensions``), looked up on first use so ``import streamdata`` stays fast. Ray Core's
names (``remote``, ``get``, ``init``, ...) are not data names and are not answered here, as in
Ray.

Example:
    >>> import streamdata as ray
    >>> ray.data.range(3).take_all()
    [{'id': 0}, {'id': 1}, {'id': 2}]
    >>> ray.data.DataContext is ray.DataContext
    True
"""

from __future__ import annotations

import importlib
from typing import Any

#: submodules of ``ray.data`` that live at ``streamdata.<name>``
_SUBMODULES = frozenset({"aggregate", "expressions", "context", "datasource", "block", "preprocessors",
                         "extensions"})

#: Ray Core's names: on ``ray``, never on ``ray.data``
_CORE = frozenset({
    "init", "shutdown", "is_initialized", "remote", "method", "get", "put", "wait", "cancel", "kill",
    "get_actor", "available_resources", "cluster_resources", "get_gpu_ids", "object_store_stats",
    "get_runtime_context", "nodes", "timeline", "ObjectRefGenerator", "placement_group",
    "remove_placement_group", "placement_group_table", "PlacementGroup", "PlacementGroupSchedulingStrategy",
    "ObjectRef", "ActorHandle", "ActorClass", "exceptions", "LoggingConfig", "train", "serve", "util",
    "data",
})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = importlib.import_module(f"streamdata.{name}")
    else:
        streamdata = importlib.import_module("streamdata")  # the package above (not a module-level import)
        if name in _CORE or name.startswith("_") or not hasattr(streamdata, name):
            raise AttributeError(f"module 'streamdata.data' has no attribute {name!r} "
                                 "(Ray Data's names are answered here; Ray Core's are on 'streamdata')")
        value = getattr(streamdata, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    streamdata = importlib.import_module("streamdata")
    return sorted((set(streamdata.__all__) - _CORE) | _SUBMODULES)
