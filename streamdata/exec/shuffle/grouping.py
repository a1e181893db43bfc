"""Grouping a table by key columns: the kernels live in the base layer
(:mod:`streamdata.aggregation.grouping`), where the aggregations use them too; the
shuffle operators import them from here.

Example:
    >>> import pyarrow as pa
    >>> t = pa.table({"k": [1, 2, 1], "v": [1.0, 2.0, 3.0]})
    >>> groups, (sums,) = group_table(t, ["k"], [HashAgg(t["v"], "sum")])
    >>> sums.to_pylist()
    [4.0, 2.0]
"""

from __future__ import annotations

from streamdata.aggregation.grouping import Groups, HashAgg, check_columns, group_table

__all__ = ["Groups", "HashAgg", "check_columns", "group_table"]
