"""Ray's ``ray.util.scheduling_strategies``: where a task or actor runs.

The strategies live in the runtime (:mod:`streamdata.core.scheduling_strategies`);
this module gives them Ray's import path.

Example:
    >>> import streamdata as sd
    >>> from streamdata.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    >>> @sd.remote
    ... def one():
    ...     return 1
    >>> node = sd.get_runtime_context().get_node_id()
    >>> sd.get(one.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote())
    1
"""

from __future__ import annotations

from streamdata.core.scheduling_strategies import (
    DoesNotExist,
    Exists,
    In,
    NodeAffinitySchedulingStrategy,
    NodeLabelSchedulingStrategy,
    NotIn,
    PlacementGroupSchedulingStrategy,
    SchedulingStrategyT,
)

__all__ = [
    "PlacementGroupSchedulingStrategy", "NodeAffinitySchedulingStrategy", "NodeLabelSchedulingStrategy",
    "In", "NotIn", "Exists", "DoesNotExist", "SchedulingStrategyT",
]
