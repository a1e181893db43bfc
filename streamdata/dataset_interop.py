"""A Dataset handed to other systems: ObjectRefs of its blocks (``to_arrow_refs``,
``to_pandas_refs``, ``to_numpy_refs``), Modin, TensorFlow, JAX, and the converters that
need a Ray cluster (Mars, random access actors), which raise saying so (Dask, Daft and
Spark are in :mod:`streamdata.write_connectors`).

:class:`InteropMixin` is part of :class:`~streamdata.dataset.Dataset`. Optional libraries
are imported when called; a missing one raises ImportError naming the package to install.

May import: base modules, :mod:`streamdata.plan` (node types) and
:mod:`streamdata.execution`.

Example:
    >>> import streamdata as sd
    >>> refs = sd.range(4, override_num_blocks=2).to_pandas_refs()
    >>> [len(df) for df in sd.get(refs)]
    [2, 2]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence

from streamdata import execution
from streamdata.dataset_observed import record
from streamdata.errors import PlanError
from streamdata.lazy import require
from streamdata.plan.logical import LogicalPlan

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def _ray_only(what: str, needs: str) -> NotImplementedError:
    return NotImplementedError(f"{what} needs {needs}, which runs on a Ray cluster; it is not "
                               f"available on streamdata's local runtime (use the Ray backend)")


class InteropMixin:
    """Conversions of a Dataset for other libraries and systems."""

    _plan: LogicalPlan
    _stats: execution.StatsRecord

    if TYPE_CHECKING:  # pragma: no cover
        def schema(self, fetch_if_missing: bool = True) -> Any: ...
        def iter_batches(self, **kwargs: Any) -> Iterator[Any]: ...
        def iterator(self) -> Any: ...
        def to_pandas(self, limit: int | None = None) -> "pd.DataFrame": ...
        def to_arrow(self) -> Any: ...
        def columns(self, fetch_if_missing: bool = True) -> list[str] | None: ...

    def _bundles(self) -> list[execution.RefBundle]:
        """The output's bundles (runs the plan; its rows and schema are then known, as Ray's
        ``to_*_refs`` leave them)."""
        bundles = execution.run(self._plan, record=self._stats).bundles
        record(self, bundles)
        return bundles

    # ------------------------------------------------------------------ ObjectRefs
    def to_arrow_refs(self) -> list[Any]:
        """ObjectRefs of the blocks, each a ``pyarrow.Table`` (runs the plan).

        Example:
            >>> import streamdata as sd
            >>> [t.num_rows for t in sd.get(sd.range(3, override_num_blocks=1).to_arrow_refs())]
            [3]
        """
        return [ref for b in self._bundles() for ref in b.block_refs()]

    def to_pandas_refs(self) -> list[Any]:
        """ObjectRefs of the blocks, each converted to a pandas DataFrame (by a task)."""
        return execution.converted_refs(self._bundles(), "pandas")

    def to_numpy_refs(self, *, column: str | None = None) -> list[Any]:
        """ObjectRefs of the blocks as NumPy: one column's ndarray (``column``), else a
        dict of ndarrays.

        Example:
            >>> import streamdata as sd
            >>> ds = sd.range(3, override_num_blocks=1)
            >>> [a.tolist() for a in sd.get(ds.to_numpy_refs(column="id"))]
            [[0, 1, 2]]
        """
        if column is not None and not isinstance(column, str):
            raise PlanError(f"to_numpy_refs column must be a column name, got {column!r}")
        return execution.converted_refs(self._bundles(), "numpy", column)

    # ------------------------------------------------------------------ dataframes
    # (to_dask, to_daft, to_spark: streamdata.write_connectors)
    def to_modin(self) -> Any:
        """A Modin DataFrame of every row."""
        mpd = require("modin.pandas", "modin", "to_modin")
        return mpd.DataFrame(self.to_pandas())

    def to_mars(self) -> Any:
        """Mars DataFrames live on a Mars-on-Ray cluster."""
        raise _ray_only("to_mars", "Mars on Ray")

    def to_random_access_dataset(self, key: str, num_workers: int | None = None) -> Any:
        """Random access by key is served by a pool of Ray actors across a cluster."""
        if not isinstance(key, str):
            raise PlanError(f"to_random_access_dataset key must be a column name, got {key!r}")
        raise _ray_only("to_random_access_dataset", "Ray's RandomAccessDataset actors")

    # ------------------------------------------------------------------ TensorFlow / JAX
    def iter_tf_batches(self, *, prefetch_batches: int = 1, batch_size: int | None = 256,
                        dtypes: Any = None, drop_last: bool = False,
                        local_shuffle_buffer_size: int | None = None,
                        local_shuffle_seed: int | None = None) -> Iterator[Any]:
        """Batches as dicts of ``tf.Tensor`` (needs tensorflow)."""
        return self.iterator().iter_tf_batches(
            prefetch_batches=prefetch_batches, batch_size=batch_size, dtypes=dtypes,
            drop_last=drop_last, local_shuffle_buffer_size=local_shuffle_buffer_size,
            local_shuffle_seed=local_shuffle_seed)

    def iter_jax_batches(self, *, prefetch_batches: int = 1, batch_size: int | None = 256,
                         dtypes: Any = None, collate_fn: Any = None, drop_last: bool = False,
                         local_shuffle_buffer_size: int | None = None,
                         local_shuffle_seed: int | None = None, synchronize_batches: bool = False,
                         paddings: Any = None) -> Iterator[Any]:
        """Batches as dicts of ``jax.Array`` (needs jax)."""
        return self.iterator().iter_jax_batches(
            prefetch_batches=prefetch_batches, batch_size=batch_size, dtypes=dtypes,
            collate_fn=collate_fn, drop_last=drop_last,
            local_shuffle_buffer_size=local_shuffle_buffer_size,
            local_shuffle_seed=local_shuffle_seed, synchronize_batches=synchronize_batches,
            paddings=paddings)

    def to_tf(self, feature_columns: str | Sequence[str], label_columns: str | Sequence[str], *,
              additional_columns: str | Sequence[str] | None = None, prefetch_batches: int = 1,
              batch_size: int = 1, drop_last: bool = False,
              local_shuffle_buffer_size: int | None = None,
              local_shuffle_seed: int | None = None, feature_type_spec: Any = None,
              label_type_spec: Any = None, additional_type_spec: Any = None) -> Any:
        """A ``tf.data.Dataset`` of ``(features, labels[, additional])`` batches (needs
        tensorflow); see :meth:`streamdata.iterator.DataIterator.to_tf`."""
        return self.iterator().to_tf(
            feature_columns, label_columns, additional_columns=additional_columns,
            prefetch_batches=prefetch_batches, batch_size=batch_size, drop_last=drop_last,
            local_shuffle_buffer_size=local_shuffle_buffer_size,
            local_shuffle_seed=local_shuffle_seed, feature_type_spec=feature_type_spec,
            label_type_spec=label_type_spec, additional_type_spec=additional_type_spec)


__all__ = ["InteropMixin"]
