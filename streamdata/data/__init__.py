"""``streamdata.data``: Ray Data's namespace, so ``import streamdata as ray`` then
``ray.data.read_csv(...)`` runs as written for Ray.

streamdata keeps its data API at the top level (``sd.read_csv``); this module answers the
same names under ``.data`` (datasets, readers, strategies, contexts, connectors, and the
submodules ``aggregate``, ``expressions``, ``context``, ``datasource`` (with Ray's
``datasource.partitioning``, ``datasource.file_based_datasource``, ...), ``block``,
``preprocessors`` and ``extensions``), looked up on first use so ``import streamdata`` stays fast. Ray Core's
names (``remote``, ``get``, ``init``, ...) are not data names and are not answered here, as in
Ray. Ray's module paths import too (:data:`MODULE_PATHS`): ``from streamdata.data.aggregate
import Count``, ``from streamdata.data.dataset import Dataset``,
``from streamdata.data.preprocessors.scaler import StandardScaler``.

Example:
    >>> import streamdata as ray
    >>> ray.data.range(3).take_all()
    [{'id': 0}, {'id': 1}, {'id': 2}]
    >>> ray.data.DataContext is ray.DataContext
    True
    >>> from streamdata.data.aggregate import Count
    >>> Count is ray.aggregate.Count
    True
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

#: Ray's module paths under ``ray.data`` (``from ray.data.aggregate import Count``,
#: ``ray.data.block.BlockAccessor``, ``from ray.data.datasource.partitioning import Partitioning``)
#: and streamdata's module that answers each. Ray's public ``ray.data.datasource.*`` modules are
#: answered by :mod:`streamdata.datasource`, which holds all of their public names.
MODULE_PATHS: dict[str, str] = {
    **{name: f"streamdata.{name}" for name in ("aggregate", "expressions", "context", "datasource",
                                               "preprocessors", "extensions", "dataset", "iterator", "read_api",
                                               "datatype", "preprocessor", "collate_fn")},
    "block": "streamdata.block_accessor", "grouped_data": "streamdata.grouped",
    **{f"datasource.{name}": "streamdata.datasource" for name in (
        "datasource", "datasink", "partitioning", "file_based_datasource", "file_datasink", "filename_provider")},
    # the private names Ray's own guides import (streamdata.ray_private)
    **{name: "streamdata.ray_private" for name in (
        "_internal", "_internal.util", "_internal.delegating_block_builder", "_internal.datasource",
        "_internal.datasource.range_datasource", "_internal.remote_fn")},
}

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
    if name in MODULE_PATHS:
        value = importlib.import_module(MODULE_PATHS[name])
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
    return sorted((set(streamdata.__all__) - _CORE) | set(MODULE_PATHS))


def _origin(path: str) -> str | None:
    """streamdata's module for Ray's module path ``path`` (below ``ray.data``): the longest
    :data:`MODULE_PATHS` key it starts with, and the modules below a package there
    (``preprocessors.scaler`` → ``streamdata.preprocessors.scaler``); None for no key."""
    # (no builtin ``range`` here: this module's globals cache data names, ``range`` among them)
    head, rest = path, ""
    while head:
        if head in MODULE_PATHS:
            return MODULE_PATHS[head] + (f".{rest}" if rest else "")
        head, _, last = head.rpartition(".")
        rest = f"{last}.{rest}" if rest else last
    return None


def _answer(origin: types.ModuleType, path: str, name: str) -> Any:
    """A name of the alias of Ray's ``ray.data.<path>``: its origin's, or a module below it
    in :data:`MODULE_PATHS` (``ray.data.datasource.partitioning``, imported on first use)."""
    try:
        return getattr(origin, name)
    except AttributeError:
        if f"{path}.{name}" in MODULE_PATHS:
            return importlib.import_module(f"{__name__}.{path}.{name}")
        raise


class _RayModulePaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports of ``streamdata.data.<path>`` (:data:`MODULE_PATHS`, and the modules below a
    package there, such as ``streamdata.data.preprocessors.scaler``): each is a module that
    answers the names of streamdata's own module (the same objects; nothing is copied)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        prefix = __name__ + "."
        if not fullname.startswith(prefix):
            return None
        origin = _origin(fullname[len(prefix):])
        if origin is None:
            return None
        try:
            found = importlib.util.find_spec(origin)
        except (ModuleNotFoundError, ValueError):  # below a module that is not a package
            return None
        if found is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, origin=origin)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        origin = importlib.import_module(spec.origin)
        path = spec.name[len(__name__) + 1:]
        module = types.ModuleType(spec.name, origin.__doc__)
        module.__getattr__ = functools.partial(_answer, origin, path)  # type: ignore[attr-defined]
        module.__dir__ = functools.partial(dir, origin)  # type: ignore[attr-defined]
        if hasattr(origin, "__all__"):
            module.__all__ = list(origin.__all__)
        if hasattr(origin, "__path__") or any(key.startswith(f"{path}.") for key in MODULE_PATHS):
            module.__path__ = []  # a package: the modules below it are found here too
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module answers its origin's names."""


if not any(isinstance(finder, _RayModulePaths) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RayModulePaths())
