"""Datasets from blocks and ObjectRefs: ``from_blocks``, ``from_arrow_refs``,
``from_pandas_refs``, ``from_numpy_refs`` (Ray Data's names).

Each returns a :class:`~streamdata.dataset.MaterializedDataset` whose blocks are already
in the object store; the conversions of ``from_*_refs`` run in remote tasks.

Part of the facade. May import: base modules, :mod:`streamdata.plan` (node types) and
:mod:`streamdata.execution`; the Dataset lazily.

Example:
    >>> import streamdata as sd, pandas as pd
    >>> ds = sd.from_pandas_refs([sd.put(pd.DataFrame({"a": [1, 2]}))])
    >>> ds.take_all()
    [{'a': 1}, {'a': 2}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from streamdata import execution
from streamdata.errors import PlanError
from streamdata.plan.logical import InputData, LogicalPlan

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.dataset import MaterializedDataset


def _dataset(bundles: Sequence[Any]) -> "MaterializedDataset":
    from streamdata.dataset import MaterializedDataset
    schema = next((m.schema for b in bundles for m in b.metadata() if m.schema is not None), None)
    return MaterializedDataset(LogicalPlan(InputData(bundles=tuple(bundles), schema=schema)))


def _refs(value: Any, fn: str) -> list[Any]:
    refs = list(value) if isinstance(value, (list, tuple)) else [value]
    for r in refs:
        if not execution.is_object_ref(r):
            raise PlanError(f"{fn} takes an ObjectRef or a list of them (from sd.put or a task), "
                            f"got {type(r).__name__}")
    return refs


def from_blocks(blocks: Sequence[Any]) -> "MaterializedDataset":
    """A dataset of the given blocks (``pyarrow.Table`` or ``pandas.DataFrame``), one
    block each.

    Example:
        >>> import streamdata as sd, pyarrow as pa
        >>> ds = sd.from_blocks([pa.table({"x": [1]}), pa.table({"x": [2, 3]})])
        >>> ds.num_blocks(), ds.count()
        (2, 3)
    """
    import pandas as pd
    import pyarrow as pa

    from streamdata import block as B
    from streamdata.block_pandas import source_string_columns
    if not isinstance(blocks, (list, tuple)):
        raise PlanError(f"from_blocks takes a list of pyarrow.Tables or pandas.DataFrames, "
                        f"got {type(blocks).__name__}")
    tables = []
    for i, blk in enumerate(blocks):
        if isinstance(blk, pa.Table):
            tables.append(blk)
        elif isinstance(blk, pd.DataFrame):
            tables.append(source_string_columns(B.pandas_to_table(blk), blk.dtypes))  # as from_pandas
        else:
            raise PlanError(f"from_blocks: block {i} is a {type(blk).__name__}; blocks are "
                            f"pyarrow.Tables or pandas.DataFrames")
    return _dataset(execution.bundles_from_tables(tables))


def from_arrow_refs(tables: Any) -> "MaterializedDataset":
    """A dataset of ObjectRefs to ``pyarrow.Table``s (or Arrow IPC stream bytes).

    Example:
        >>> import streamdata as sd, pyarrow as pa
        >>> sd.from_arrow_refs(sd.put(pa.table({"a": [7]}))).take_all()
        [{'a': 7}]
    """
    return _dataset(execution.bundles_from_refs(_refs(tables, "from_arrow_refs"), "arrow"))


def from_pandas_refs(dfs: Any) -> "MaterializedDataset":
    """A dataset of ObjectRefs to pandas DataFrames (one block each)."""
    return _dataset(execution.bundles_from_refs(_refs(dfs, "from_pandas_refs"), "pandas"))


def from_numpy_refs(ndarrays: Any) -> "MaterializedDataset":
    """A dataset of ObjectRefs to ndarrays (rows along the first axis), column ``data``.

    Example:
        >>> import streamdata as sd, numpy as np
        >>> sd.from_numpy_refs([sd.put(np.arange(3))]).take_all()
        [{'data': 0}, {'data': 1}, {'data': 2}]
    """
    return _dataset(execution.bundles_from_refs(_refs(ndarrays, "from_numpy_refs"), "numpy"))


def from_modin(df: Any) -> "MaterializedDataset":
    """A dataset of a Modin DataFrame (its partitions gathered as pandas; needs modin)."""
    try:
        import modin.pandas as mpd
    except ImportError as exc:
        raise ImportError("from_modin needs modin: pip install modin") from exc
    if not isinstance(df, mpd.DataFrame):
        raise PlanError(f"from_modin takes a modin.pandas.DataFrame, got {type(df).__name__}")
    return from_blocks([df._to_pandas()])


def from_mars(df: Any) -> "MaterializedDataset":
    """Mars DataFrames live on a Mars-on-Ray cluster."""
    raise NotImplementedError("from_mars needs Mars on Ray, which runs on a Ray cluster; it is "
                              "not available on streamdata's local runtime (use the Ray backend)")


def from_tf(dataset: Any) -> "MaterializedDataset":
    """A dataset of the elements of a ``tf.data.Dataset`` (each a dict of features, or a
    value in column ``item``; needs tensorflow)."""
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise ImportError("from_tf needs tensorflow: pip install tensorflow") from exc
    if not isinstance(dataset, tf.data.Dataset):
        raise PlanError(f"from_tf takes a tf.data.Dataset, got {type(dataset).__name__}")
    rows = [e if isinstance(e, dict) else {"item": e} for e in dataset.as_numpy_iterator()]
    from streamdata import block as B
    return from_blocks([B.rows_to_table(rows, what="from_tf")] if rows else [])


__all__ = ["from_arrow_refs", "from_blocks", "from_mars", "from_modin", "from_numpy_refs",
           "from_pandas_refs", "from_tf"]
