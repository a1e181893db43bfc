"""All-to-all physical operators: sort, random shuffle, repartition, aggregate, map_groups, join.

Owns:

* :mod:`.operator` — :class:`AllToAllOperator`, map side and reduce side through the object
  store, running one shuffle spec;
* :mod:`.spec` — what its tasks do for each operation (pure, picklable ``ShuffleSpec`` s);
* :mod:`.policy` — how many partitions and map tasks (pure functions);
* :mod:`.tasks` — the code its prepare, map and reduce tasks run in workers;
* :mod:`.simple_ops` — the operations that need no shuffle (block order, repartition
  without shuffle);
* :mod:`.map_groups` — the stage an actor pool runs for ``map_groups`` with a callable class.

Which logical node becomes which of these is decided in :mod:`streamdata.plan.lowering`;
nothing here sees a logical node. May import: ``streamdata.exec`` (interfaces, operators,
shuffle kernels), ``streamdata.core``, and the base types.

Example:
    >>> from streamdata.exec.operators.input_data import InputDataOperator
    >>> op = AllToAllOperator("Repartition(4)", [InputDataOperator("in", bundles=[])],
    ...                       RepartitionShuffleSpec(), num_partitions=4)
    >>> op.fixed_partitions
    4
"""

from __future__ import annotations

from streamdata.exec.operators.all_to_all.operator import AllToAllOperator
from streamdata.exec.operators.all_to_all.policy import choose_num_partitions, group_by_size
from streamdata.exec.operators.all_to_all.spec import (
    AggregateSpec,
    JoinSpec,
    MapGroupsSpec,
    RandomShuffleSpec,
    RepartitionShuffleSpec,
    ShuffleSpec,
    SortSpec,
)

__all__ = [
    "AggregateSpec",
    "AllToAllOperator",
    "JoinSpec",
    "MapGroupsSpec",
    "RandomShuffleSpec",
    "RepartitionShuffleSpec",
    "ShuffleSpec",
    "SortSpec",
    "choose_num_partitions",
    "group_by_size",
]
