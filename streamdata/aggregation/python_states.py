"""Running user-defined (Python) accumulators over the groups of a block.

An :class:`~streamdata.aggregation.base.AggregateFn` written with Python functions keeps
one accumulator per group; between steps the accumulators travel pickled in a
binary column, one row per group, like the built-ins' Arrow states.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.aggregation.base import AggregateFn
    >>> from streamdata.aggregation.grouping import group_table
    >>> agg = AggregateFn(init=lambda k: 0, merge=lambda a, b: a + b, name="n",
    ...                   accumulate_row=lambda a, r: a + 1)
    >>> t = pa.table({"k": [1, 2, 1]})
    >>> groups, _ = group_table(t, ["k"], [], with_rows=True)
    >>> finalize_states(agg, partial_states(agg, t, groups)).to_pylist()
    [2, 1]
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from streamdata.errors import UDFReturnError

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.aggregation.grouping import Groups


class PythonAggregation(Protocol):
    """What these helpers call on an aggregation with Python-object states
    (an ``AggregateFn`` of :mod:`streamdata.aggregation.base`, which imports this module)."""

    name: str

    def _py_accumulate(self, key: Any, block: pa.Table) -> Any: ...

    def _py_merge(self, a: Any, b: Any) -> Any: ...

    def _py_finalize(self, acc: Any) -> Any: ...


def pickled(values: list[Any]) -> pa.Array:
    """One pickled value per row, in a large-binary column."""
    import cloudpickle
    return pa.array([cloudpickle.dumps(v) for v in values], type=pa.large_binary())


def partial_states(agg: PythonAggregation, block: pa.Table, groups: Groups) -> list[pa.Array]:
    """Each group's accumulator over its rows of ``block``."""
    keys = groups.key_values()
    accs = []
    for g in range(groups.num_groups):
        rows = groups.rows(g)
        sub = block if len(rows) == block.num_rows else block.take(pa.array(rows))
        accs.append(agg._py_accumulate(keys[g], sub))
    return [pickled(accs)]


def merge_states(agg: PythonAggregation, states: Sequence[pa.Array], groups: Groups) -> list[pa.Array]:
    """Each group's accumulators (rows of ``states``) merged into one."""
    blobs = states[0]
    accs = []
    for g in range(groups.num_groups):
        acc: Any = None
        for i, row in enumerate(groups.rows(g)):
            value = pickle.loads(blobs[int(row)].as_py())
            acc = value if i == 0 else agg._py_merge(acc, value)
        accs.append(acc)
    return [pickled(accs)]


def finalize_states(agg: PythonAggregation, states: Sequence[pa.Array]) -> pa.Array:
    """The output column: ``finalize`` of each group's accumulator."""
    values = [agg._py_finalize(pickle.loads(b)) for b in states[0].to_pylist()]
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise UDFReturnError(f"aggregation {agg.name!r} finalized to values Arrow cannot "
                             f"hold in one column ({exc})") from exc


__all__ = ["finalize_states", "merge_states", "partial_states", "pickled"]
