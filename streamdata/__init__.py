"""streamdata: a streaming data-processing engine for ML and AI workloads.

``import streamdata as sd`` gives Ray Core's runtime API (embedded, no cluster
needed) and Ray Data's Dataset API, under Ray's names.

Example:
    >>> import streamdata as sd
    >>> @sd.remote
    ... def square(x):
    ...     return x * x
    >>> sd.get([square.remote(i) for i in range(4)])
    [0, 1, 4, 9]
"""

from __future__ import annotations

from streamdata import exceptions
from streamdata.context import DataContext
from streamdata.core.api import (
    ActorClass,
    ActorHandle,
    ObjectRef,
    PlacementGroup,
    PlacementGroupSchedulingStrategy,
    available_resources,
    cancel,
    cluster_resources,
    get,
    get_actor,
    get_gpu_ids,
    init,
    is_initialized,
    kill,
    method,
    object_store_stats,
    placement_group,
    placement_group_table,
    put,
    remote,
    remove_placement_group,
    shutdown,
    wait,
)

__version__ = "0.1.0"

__all__ = [
    # runtime (Ray Core's names)
    "init", "shutdown", "is_initialized", "remote", "method", "get", "put", "wait", "cancel", "kill",
    "get_actor", "available_resources", "cluster_resources", "get_gpu_ids", "object_store_stats",
    "placement_group", "remove_placement_group", "placement_group_table", "PlacementGroup",
    "PlacementGroupSchedulingStrategy", "ObjectRef", "ActorHandle", "ActorClass", "exceptions",
    # data
    "DataContext",
]
