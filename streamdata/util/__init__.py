"""Ray's ``ray.util`` under streamdata: actor pools, queues, placement groups, scheduling
strategies, a ``multiprocessing.Pool`` on actors, and small helpers.

Ray programs move over by changing the import (``from ray.util import ActorPool`` →
``from streamdata.util import ActorPool``). Submodules and their names load on first
use, so ``import streamdata.util`` costs next to nothing; ``state`` and ``metrics``
(observability) are submodules too.

Example:
    >>> import streamdata as sd
    >>> from streamdata.util import ActorPool
    >>> @sd.remote
    ... class Doubler:
    ...     def double(self, x):
    ...         return 2 * x
    >>> pool = ActorPool([Doubler.remote(), Doubler.remote()])
    >>> list(pool.map(lambda actor, v: actor.double.remote(v), [1, 2, 3]))
    [2, 4, 6]
"""

from __future__ import annotations

from streamdata.lazy import lazy_attributes

# the placement-group module first, so that the names below (functions) are not replaced by the
# module when a program imports ``streamdata.util.placement_group`` (as ``ray.util`` does); it loads
# nothing that ``streamdata.core`` has not loaded already
from streamdata.util import placement_group as _placement_group_module  # noqa: F401
from streamdata.util.placement_group import (
    get_current_placement_group,
    get_placement_group,
    placement_group,
    placement_group_table,
    remove_placement_group,
)

#: submodules, imported on first access (``state`` and ``metrics`` belong to observability; a
#: submodule missing from a build raises ModuleNotFoundError when it is asked for)
SUBMODULES = ("actor_pool", "queue", "scheduling_strategies", "multiprocessing", "check_serialize", "helpers",
              "serialization", "accelerators", "state", "metrics")

#: name -> the submodule that defines it, imported on first access
LAZY_NAMES = {
    "ActorPool": "actor_pool",
    "as_completed": "helpers",
    "map_unordered": "helpers",
    "get_node_ip_address": "helpers",
    "get_node_instance_id": "helpers",
    "list_named_actors": "helpers",
    "log_once": "helpers",
    "disable_log_once_globally": "helpers",
    "enable_periodic_logging": "helpers",
    "inspect_serializability": "check_serialize",
    "register_serializer": "serialization",
    "deregister_serializer": "serialization",
}

__all__ = [
    "ActorPool", "as_completed", "map_unordered", "get_node_ip_address", "get_node_instance_id",
    "list_named_actors", "inspect_serializability", "log_once", "disable_log_once_globally",
    "enable_periodic_logging", "register_serializer", "deregister_serializer", "placement_group",
    "placement_group_table", "get_placement_group", "get_current_placement_group", "remove_placement_group",
]


__getattr__ = lazy_attributes(__name__, globals(), {
    **{name: f"{__name__}.{module}:{name}" for name, module in LAZY_NAMES.items()},
    **{module: f"{__name__}.{module}" for module in SUBMODULES},
})


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(LAZY_NAMES) | set(SUBMODULES))
