"""Blocks to and from user ObjectRefs: ``from_*_refs``/``from_blocks`` (refs or tables
become the bundles of a materialized dataset) and ``to_*_refs`` (each block converted
by a remote task into an ObjectRef the user holds).

Conversions run in remote tasks, next to the data, never through the driver.

Example:
    >>> import pyarrow as pa
    >>> import streamdata.core.api as rt
    >>> _ = rt.init(num_cpus=1, ignore_reinit_error=True)
    >>> bundles = bundles_from_refs([rt.put(pa.table({"a": [1, 2]}))], "arrow")
    >>> bundles[0].num_rows()
    2
"""

from __future__ import annotations

from typing import Any, Sequence

import pyarrow as pa

from streamdata import block as B
from streamdata.block_metadata import BlockMetadata
from streamdata.block_pandas import source_string_columns
from streamdata.errors import PlanError
from streamdata.exec.interfaces import RefBundle

#: what ``from_*_refs`` accepts, by kind
_KINDS = ("arrow", "pandas", "numpy")


def _to_block(kind: str, value: Any) -> tuple[pa.Table, BlockMetadata]:
    """A user object (Arrow table, pandas DataFrame, ndarray) as a block and its metadata."""
    if kind == "arrow":
        if isinstance(value, (bytes, bytearray)):  # Ray also accepts Arrow IPC bytes
            value = pa.ipc.open_stream(value).read_all()
        if not isinstance(value, pa.Table):
            raise PlanError(f"from_arrow_refs: an ObjectRef holds a {type(value).__name__}, "
                            f"expected a pyarrow.Table")
        table = value
    elif kind == "pandas":
        import pandas as pd
        if not isinstance(value, pd.DataFrame):
            raise PlanError(f"from_pandas_refs: an ObjectRef holds a {type(value).__name__}, "
                            f"expected a pandas.DataFrame")
        table = source_string_columns(B.pandas_to_table(value), value.dtypes)  # as from_pandas
    else:
        import numpy as np
        if not isinstance(value, np.ndarray):
            raise PlanError(f"from_numpy_refs: an ObjectRef holds a {type(value).__name__}, "
                            f"expected a numpy.ndarray")
        table = B.numpy_to_table({"data": value}, what="from_numpy_refs")
    return table, BlockMetadata.of(table)


def is_object_ref(value: Any) -> bool:
    """Whether ``value`` is an ObjectRef of the runtime."""
    from streamdata.core.api import ObjectRef
    return isinstance(value, ObjectRef)


def bundles_from_refs(refs: Sequence[Any], kind: str) -> list[RefBundle]:
    """One bundle per ref (a remote task converts each value into a block)."""
    from streamdata.core import api as rt
    if kind not in _KINDS:  # pragma: no cover - programming error
        raise ValueError(f"unknown kind {kind!r}")
    fn = rt.remote(_to_block).options(num_returns=2, num_cpus=0)
    pairs = [fn.remote(kind, ref) for ref in refs]
    metas = rt.get([meta for _, meta in pairs]) if pairs else []
    return [RefBundle(blocks=((block, meta),), owns_blocks=False)
            for (block, _), meta in zip(pairs, metas)]


def bundles_from_tables(tables: Sequence[pa.Table]) -> list[RefBundle]:
    """Blocks already in the driver's memory, put into the object store."""
    from streamdata.core import api as rt
    return [RefBundle(blocks=((rt.put(t), BlockMetadata.of(t)),), owns_blocks=False)
            for t in tables]


def _convert(kind: str, table: pa.Table, column: str | None) -> Any:
    if kind == "pandas":
        return B.to_pandas(table)
    batch = B.to_numpy(table)
    if column is None:
        return batch
    if column not in batch:
        from streamdata.errors import ColumnNotFoundError
        raise ColumnNotFoundError(column, table.column_names)
    return batch[column]


def converted_refs(bundles: Sequence[RefBundle], kind: str, column: str | None = None) -> list[Any]:
    """One ObjectRef per block: the block as a pandas DataFrame (``kind="pandas"``) or
    as ndarrays (``"numpy"``: one column's array, or a dict of them)."""
    from streamdata.core import api as rt
    fn = rt.remote(_convert).options(num_cpus=0)
    return [fn.remote(kind, ref, column) for b in bundles for ref in b.block_refs()]


def fetch(refs: Sequence[Any]) -> list[Any]:
    """The values of ``refs`` (in the calling process)."""
    from streamdata.core import api as rt
    return list(rt.get(list(refs))) if refs else []


__all__ = ["fetch", "is_object_ref", "bundles_from_refs", "bundles_from_tables", "converted_refs"]
