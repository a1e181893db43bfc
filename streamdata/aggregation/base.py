"""The aggregation protocol, and user aggregations in Ray's two styles.

:class:`AggregateFn` is the base of every aggregation (Ray's accumulator style);
:class:`AggregateFnV2` the base of aggregations written as methods. Its underscore methods are the
protocol the group-by engine (:mod:`streamdata.exec.shuffle.groupby`) calls for the
*partial*, *merge* and *finalize* steps, on accumulators held as Arrow columns with
one value per group (:data:`States`). Their defaults run the user's Python functions
once per group and block, keeping each accumulator pickled in a binary column; the
vectorized built-ins (:mod:`streamdata.aggregation.builtins`) override them with pyarrow
hash aggregations.

Import these names from :mod:`streamdata.aggregate`, the public module.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.exec.shuffle.groupby import aggregate_table
    >>> total = AggregateFn(zero_factory=lambda: 0, merge=lambda a, b: a + b, name="total",
    ...                     accumulate_block=lambda acc, block: acc + len(block))
    >>> aggregate_table(pa.table({"k": [1, 1, 2]}), ["k"], [total]).to_pylist()
    [{'k': 1, 'total': 2}, {'k': 2, 'total': 1}]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from streamdata.aggregation import python_states as PY
from streamdata.errors import PlanError

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.aggregation.grouping import Groups, HashAgg


def _is_null(value: Any) -> bool:
    """None or a float NaN (Ray's ``is_null``), never comparing anything else."""
    return value is None or (isinstance(value, float) and value != value)


#: accumulator columns of one aggregation, one value per group
States = list[pa.Array]
#: input arrays of one step (accumulator columns or hash-aggregation results)
Arrays = Sequence[pa.Array]


class AggregateFn:
    """A user-defined aggregation in the accumulator style (Ray's ``AggregateFn``).

    Args:
        init: ``init(key) -> accumulator``: the empty accumulator of a group (``key``
            is the group's key: a value, a tuple for several key columns, None for a
            global aggregation).
        merge: ``merge(a, b) -> accumulator``: combine two accumulators.
        name: the output column name.
        accumulate_row: ``accumulate_row(acc, row_dict) -> acc``, called per row.
        accumulate_block: ``accumulate_block(acc, block) -> acc``, called per group
            and block with a ``pyarrow.Table`` (the vectorized alternative; give
            exactly one of ``accumulate_row`` and ``accumulate_block``).
        finalize: ``finalize(acc) -> value`` (default: the accumulator itself).
        zero_factory: ``zero_factory() -> accumulator``; may replace ``init`` when the
            empty accumulator does not depend on the key.

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> prod = AggregateFn(init=lambda k: 1, merge=lambda a, b: a * b, name="prod",
        ...                    accumulate_row=lambda a, row: a * row["x"])
        >>> aggregate_table(pa.table({"x": [1, 2, 3, 4]}), [], [prod]).to_pylist()
        [{'prod': 24}]
    """

    def __init__(self, init: Callable[[Any], Any] | None = None,
                 merge: Callable[[Any, Any], Any] | None = None,
                 name: str | None = None,  # noqa: D417
                 accumulate_row: Callable[[Any, dict[str, Any]], Any] | None = None,
                 accumulate_block: Callable[[Any, pa.Table], Any] | None = None,
                 finalize: Callable[[Any], Any] | None = None, *,
                 zero_factory: Callable[[], Any] | None = None) -> None:
        if init is None and zero_factory is None:
            raise PlanError("AggregateFn needs init(key) or zero_factory()")
        if merge is None:
            raise PlanError("AggregateFn needs merge(a, b)")
        if (accumulate_row is None) == (accumulate_block is None):
            raise PlanError("AggregateFn needs exactly one of accumulate_row and accumulate_block")
        if not isinstance(name, str) or not name:
            raise PlanError(f"AggregateFn needs a name (the output column), got {name!r}")
        self.name = name
        self._init = init
        self._zero = zero_factory
        self._merge_fn = merge
        self._acc_row = accumulate_row
        self._acc_block = accumulate_block
        self._finalize_fn = finalize

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    # ------------------------------------------------------------------ Python hooks
    def _py_zero(self, key: Any) -> Any:
        return self._init(key) if self._init is not None else self._zero()  # type: ignore[misc]

    def _py_accumulate(self, key: Any, block: pa.Table) -> Any:
        acc = self._py_zero(key)
        if self._acc_block is not None:
            return self._acc_block(acc, block)
        for row in block.to_pylist():
            acc = self._acc_row(acc, row)  # type: ignore[misc]
        return acc

    def _py_merge(self, a: Any, b: Any) -> Any:
        return self._merge_fn(a, b)  # type: ignore[misc]

    def _py_finalize(self, acc: Any) -> Any:
        return acc if self._finalize_fn is None else self._finalize_fn(acc)

    # ------------------------------------------------------------------ engine protocol
    # The engine (streamdata.exec.shuffle.groupby) calls these; accumulators are
    # lists of Arrow arrays with one value per group. The defaults below run the
    # Python hooks once per group, keeping each accumulator pickled in a binary column.

    def _input_columns(self) -> list[str]:
        """Columns the aggregation reads (checked before it runs)."""
        return []

    def _needs_rows(self, phase: str) -> bool:
        """Whether the ``"partial"`` or ``"merge"`` step needs each group's rows."""
        return True

    def _partial_requests(self, block: pa.Table) -> list[HashAgg]:
        return []

    def _partial_states(self, block: pa.Table, groups: Groups, results: Arrays) -> States:
        return PY.partial_states(self, block, groups)

    def _merge_requests(self, states: Sequence[pa.Array]) -> list[HashAgg]:
        return []

    def _merge_states(self, states: Arrays, groups: Groups, results: Arrays) -> States:
        return PY.merge_states(self, states, groups)

    def _finalize_states(self, states: Sequence[pa.Array]) -> pa.Array:
        return PY.finalize_states(self, states)

    def _identity_states(self) -> States:
        return [PY.pickled([self._py_zero(None)])]



class AggregateFnV2(AggregateFn):
    """Base class for aggregations written as methods (Ray's ``AggregateFnV2``).

    Subclasses implement :meth:`aggregate_block` (a block → an accumulator) and
    :meth:`combine` (two accumulators → one), and may override :meth:`finalize`. As in Ray,
    a None (or NaN) accumulator is null: with ``ignore_nulls`` it is skipped when combining
    (``aggregate_block`` may return None for a block of nulls), without it wins; ``finalize``
    never sees one (the result is None).

    Args:
        name: the output column name.
        zero_factory: returns the empty accumulator.
        on: the column the aggregation reads (checked to exist), or None.
        ignore_nulls: whether null values are skipped.

    Example:
        >>> import pyarrow as pa, pyarrow.compute as pc
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> class Product(AggregateFnV2):
        ...     def __init__(self, on):
        ...         super().__init__(f"prod({on})", lambda: 1, on=on, ignore_nulls=True)
        ...     def aggregate_block(self, block):
        ...         return pc.product(block[self.on]).as_py()
        ...     def combine(self, a, b):
        ...         return a * b
        >>> aggregate_table(pa.table({"x": [2, 3]}), [], [Product("x")]).to_pylist()
        [{'prod(x)': 6}]
    """

    def __init__(self, name: str, zero_factory: Callable[[], Any], *, on: str | None,
                 ignore_nulls: bool) -> None:
        if not isinstance(name, str) or not name:
            raise PlanError(f"an aggregation needs a name (the output column), got {name!r}")
        if on is not None and not isinstance(on, str):
            raise PlanError(f"`on` must be a column name, got {on!r}")
        self.name = name
        self.on = on
        self.ignore_nulls = bool(ignore_nulls)
        self._zero = zero_factory

    @property
    def _target_col_name(self) -> str | None:  # Ray's attribute names, for ported subclasses
        return self.on

    @property
    def _ignore_nulls(self) -> bool:
        return self.ignore_nulls

    def get_target_column(self) -> str | None:
        """The column the aggregation reads."""
        return self.on

    def get_agg_name(self) -> str:
        """The aggregation's short name, e.g. ``"sum"`` for ``sum(x)``."""
        return self.name.split("(", 1)[0]

    def aggregate_block(self, block: pa.Table) -> Any:
        """The accumulator of one block (one group of it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement aggregate_block")

    def combine(self, current_accumulator: Any, new: Any) -> Any:
        """Two accumulators combined into one."""
        raise NotImplementedError(f"{type(self).__name__} must implement combine")

    def finalize(self, accumulator: Any) -> Any:
        """The output value of a fully combined accumulator (default: itself)."""
        return accumulator

    def _input_columns(self) -> list[str]:
        return [self.on] if self.on is not None else []

    # Ray's null-safe protocol: with ignore_nulls, a None (or NaN) accumulator is empty (a block
    # or group with no non-null value gives None from aggregate_block) and is skipped when
    # combining; without, a None (a null seen) wins every combine. A None accumulator finalizes
    # to None. (Ray's zero is None with ignore_nulls too; here it stays zero_factory()'s, so an
    # aggregation over no rows at all finalizes the zero, as the built-in sketches expect.)
    def _py_zero(self, key: Any) -> Any:
        return self._zero()

    def _py_accumulate(self, key: Any, block: pa.Table) -> Any:
        result = self.aggregate_block(block)
        return None if self.ignore_nulls and _is_null(result) else result

    def _py_merge(self, a: Any, b: Any) -> Any:
        if self.ignore_nulls:
            return b if _is_null(a) else a if _is_null(b) else self.combine(a, b)
        return b if _is_null(b) else a if _is_null(a) else self.combine(a, b)

    def _py_finalize(self, acc: Any) -> Any:
        return acc if _is_null(acc) else self.finalize(acc)




class VectorizedAggregateFnV2(AggregateFnV2):
    """An :class:`AggregateFnV2` that merges a whole column of partial accumulators at once
    (Ray's ``VectorizedAggregateFnV2``): implement :meth:`aggregate_block` and
    :meth:`_combine_column` instead of :meth:`combine`.

    Example:
        >>> import pyarrow as pa, pyarrow.compute as pc
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> class Total(VectorizedAggregateFnV2):
        ...     def __init__(self, on):
        ...         super().__init__(f"total({on})", lambda: 0, on=on, ignore_nulls=True)
        ...     def aggregate_block(self, block):
        ...         return pc.sum(block[self.on]).as_py() or 0
        ...     def _combine_column(self, accumulator_col):
        ...         return pc.sum(accumulator_col).as_py()
        >>> aggregate_table(pa.table({"x": [1, 2, 3]}), [], [Total("x")]).to_pylist()
        [{'total(x)': 6}]
    """

    def combine(self, current_accumulator: Any, new: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} merges columns of accumulators "
                                  "(_combine_column), not pairs")

    def _combine_column(self, accumulator_col: Any) -> Any:
        """One accumulator from a column (``pyarrow.Array`` or list) of accumulators."""
        raise NotImplementedError(f"{type(self).__name__} must implement _combine_column")

    def _py_accumulate(self, key: Any, block: pa.Table) -> Any:
        return self.aggregate_block(block)

    def _py_merge(self, a: Any, b: Any) -> Any:
        try:
            column: Any = pa.array([a, b])
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            column = [a, b]
        return self._combine_column(column)


__all__ = ["AggregateFn", "AggregateFnV2", "Arrays", "States", "VectorizedAggregateFnV2"]
