"""Other engines' dataframes as sources: Dask (``from_dask``) and Daft (``from_daft``).

A Dask DataFrame is read with one read task per partition, each computing its partition
(with Dask's synchronous scheduler, inside the task) and converting it to Arrow.

Example:
    >>> import dask.dataframe as dd, pandas as pd
    >>> src = DaskDatasource(dd.from_pandas(pd.DataFrame({"x": [1, 2, 3]}), npartitions=2))
    >>> [b.to_pydict() for t in src.get_read_tasks(8) for b in t()]
    [{'x': [1, 2]}, {'x': [3]}]
"""

from __future__ import annotations

from typing import Any, Iterator

import pyarrow as pa

from streamdata.block_metadata import BlockMetadata
from streamdata.block_pandas import source_string_columns
from streamdata.errors import DataSourceError, PlanError
from streamdata.io.datasource import Datasource
from streamdata.read_task import ReadTask


class _DaskPartition:
    def __init__(self, df: Any, index: int) -> None:
        self.df, self.index = df, index

    def __call__(self) -> Iterator[pa.Table]:
        try:
            pdf = self.df.get_partition(self.index).compute(scheduler="synchronous")
        except Exception as exc:  # noqa: BLE001 - named
            raise DataSourceError(f"from_dask: computing partition {self.index} failed: "
                                  f"{type(exc).__name__}: {exc}") from exc
        # string columns as Ray's schema has a frame's: Arrow string (source_string_columns)
        yield source_string_columns(pa.Table.from_pandas(pdf, preserve_index=False), pdf.dtypes)


class DaskDatasource(Datasource):
    """A Dask DataFrame (see the module docstring)."""

    name = "FromDask"

    def __init__(self, df: Any) -> None:
        try:
            import dask.dataframe as dd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("from_dask needs dask: pip install 'streamdata[formats]'") from exc
        if not isinstance(df, dd.DataFrame):
            raise PlanError(f"from_dask takes a dask.dataframe.DataFrame, got {type(df).__name__}")
        self._df = df

    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        return [ReadTask(_DaskPartition(self._df, i), BlockMetadata()) for i in range(self._df.npartitions)]


def daft_to_arrow(df: Any) -> pa.Table:
    """The Arrow table of a Daft DataFrame (needs ``daft``)."""
    try:
        import daft  # noqa: F401
    except ImportError as exc:
        raise ImportError("from_daft needs daft, which is not installed: pip install getdaft") from exc
    return df.to_arrow()
