"""A Dataset's identity and descriptions: ``set_name``/``name``/``get_dataset_id``,
``copy``, ``summary``, ``get_stats_summary``, and lineage (``serialize_lineage``).

:class:`MetaMixin` is part of :class:`~streamdata.dataset.Dataset`.

May import: base modules, :mod:`streamdata.plan` (node types) and
:mod:`streamdata.execution`.

Example:
    >>> import streamdata as sd
    >>> ds = sd.range(3)
    >>> ds.set_name("numbers"); ds.name
    'numbers'
    >>> ds.get_dataset_id().startswith("numbers_")
    True
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Iterator, Sequence, TypeVar

from streamdata import execution
from streamdata.dataset_observed import record
from streamdata.errors import PlanError
from streamdata.plan.logical import InputData, LogicalPlan, Read

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.summary import DatasetSummary

#: the Dataset class a method is called on (or with)
_D = TypeVar("_D", bound="MetaMixin")


class MetaMixin:
    """Name, identity, summary and lineage of a Dataset."""

    _plan: LogicalPlan
    _stats: execution.StatsRecord

    if TYPE_CHECKING:  # pragma: no cover
        def _iter_tables(self, *, stats_owner: Any = None, observe: bool = True) -> Iterator[Any]: ...
        def schema(self, fetch_if_missing: bool = True) -> Any: ...
        def _check_columns(self, cols: Any) -> None: ...
        def _iter_bundles(self, *, stats_owner: Any = None, observe: bool = True) -> Iterator[Any]: ...

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str | None:
        """The name given with :meth:`set_name` (None by default)."""
        return getattr(self, "_name", None)

    def set_name(self, name: str | None) -> None:
        """Name the dataset (shown in stats and progress; part of its id).

        Example:
            >>> import streamdata as sd
            >>> ds = sd.range(1); ds.set_name("x"); ds.name
            'x'
        """
        if name is not None and not isinstance(name, str):
            raise PlanError(f"set_name takes a str or None, got {name!r}")
        self._name = name

    def get_dataset_id(self) -> str:
        """A unique id of this dataset: ``<name or 'dataset'>_<uuid>``."""
        if getattr(self, "_uuid", None) is None:
            self._uuid = uuid.uuid4().hex
        return f"{self.name or 'dataset'}_{self._uuid}"

    @staticmethod
    def copy(ds: _D, _deep_copy: bool = False, _as: type | None = None) -> _D:
        """A new Dataset object with the same plan and name (``_as``: of that class).

        Example:
            >>> import streamdata as sd
            >>> a = sd.range(2); b = sd.Dataset.copy(a)
            >>> b is not a, b.count()
            (True, 2)
        """
        cls = _as or type(ds)
        out = cls(ds._plan)
        out._name = ds.name
        out._stats.last = ds._stats.last
        for known in ("_observed", "_schema_cache"):  # what ``ds`` knows of its output, as Ray's cache copy
            if hasattr(ds, known):
                setattr(out, known, getattr(ds, known))
        return out

    # ------------------------------------------------------------------ descriptions
    def summary(self, columns: Sequence[str] | None = None,
                override_dtype_agg_mapping: Any = None) -> "DatasetSummary":
        """Per-column statistics by data type (runs the plan): count, mean, min, max, std,
        median, missing and zero percentages for numbers; top values for strings; ...
        (see :mod:`streamdata.summary`).

        Example:
            >>> import streamdata as sd
            >>> s = sd.from_items([{"a": 1}, {"a": 3}]).summary()
            >>> s.get_column_stats("a")["mean"]
            2.0
        """
        from streamdata.summary import SummaryBuilder
        if override_dtype_agg_mapping is not None:
            raise NotImplementedError("summary(override_dtype_agg_mapping=...) is not supported "
                                      "yet; the default statistics are computed")
        if columns is not None:
            if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
                raise PlanError(f"summary columns must be a list of column names, got {columns!r}")
            self._check_columns(columns)
        schema = self.schema()
        if schema is None:
            raise PlanError("summary: the dataset is empty (no schema)")
        builder = SummaryBuilder(schema.base_schema, columns)
        for table in self._iter_tables(observe=False):  # Ray's summary runs aggregations
            builder.add(table)
        return builder.build()

    def get_stats_summary(self, detail: bool = False) -> Any:
        """The statistics of the last execution (None before one ran); ``detail`` is
        accepted as in Ray (the stats always hold every operator)."""
        return self._stats.last

    # ------------------------------------------------------------------ blocks
    def iter_internal_ref_bundles(self) -> Iterator[execution.RefBundle]:
        """The output's RefBundles, streaming: each one's ``blocks`` are entries with
        ``.ref`` (the block's ObjectRef) and ``.metadata`` (as Ray's ``BlockEntry``; they
        also unpack as ``(ref, metadata)`` pairs).

        Example:
            >>> import streamdata as sd
            >>> sum(len(sd.get(entry.ref)) for bundle in sd.range(5).iter_internal_ref_bundles()
            ...     for entry in bundle.blocks)
            5
        """
        return self._iter_bundles()

    def get_internal_block_refs(self) -> list[Any]:
        """The ObjectRefs of every output block (runs the plan; its rows and schema are
        then known to ``repr``, ``count`` and ``schema``, as in Ray)."""
        bundles = execution.run(self._plan, record=self._stats).bundles
        record(self, bundles)
        return [ref for b in bundles for ref in b.block_refs()]

    # ------------------------------------------------------------------ lineage
    def has_serializable_lineage(self) -> bool:
        """Whether :meth:`serialize_lineage` can capture the plan: Ray's rule, so not when
        it holds in-memory data, either blocks (``materialize()``, ``from_*_refs``, a split)
        or rows given on the driver (``from_items``, ``from_pandas``, ``from_arrow``,
        ``from_numpy``). Reads (``range``, ``read_*``) and what is built on them can.

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([1, 2]).has_serializable_lineage()
            False
            >>> sd.range(3).zip(sd.range(3)).has_serializable_lineage()
            True
        """
        from streamdata.io.memory import ArrowTablesDatasource

        return not any(isinstance(n, InputData) or (
            isinstance(n, Read) and isinstance(n.datasource, ArrowTablesDatasource))
            for n in self._plan.sources())

    def serialize_lineage(self) -> bytes:
        """The plan as bytes (:meth:`deserialize_lineage` rebuilds the dataset)."""
        if not self.has_serializable_lineage():
            raise PlanError("serialize_lineage: this dataset holds in-memory data (from_* or "
                            "materialize()); only plans that start from reads serialize")
        import cloudpickle
        return cloudpickle.dumps(self._plan)

    @classmethod
    def deserialize_lineage(cls: type[_D], serialized_ds: bytes) -> _D:
        """The dataset whose plan :meth:`serialize_lineage` produced."""
        import cloudpickle
        if not isinstance(serialized_ds, (bytes, bytearray)):
            raise PlanError(f"deserialize_lineage takes the bytes of serialize_lineage(), "
                            f"got {type(serialized_ds).__name__}")
        plan = cloudpickle.loads(serialized_ds)
        if not isinstance(plan, LogicalPlan):
            raise PlanError("deserialize_lineage: the bytes do not hold a dataset's lineage")
        return cls(plan)  # type: ignore[call-arg]


def list_stats_summaries() -> list[Any]:
    """The stats of the executions that finished while
    ``DataContext.enable_stats_summary_collection`` was on, oldest first.

    Example:
        >>> import streamdata as sd
        >>> ctx = sd.DataContext.get_current()
        >>> ctx.enable_stats_summary_collection = True
        >>> _ = sd.range(3).map(lambda r: r).take_all()
        >>> ctx.enable_stats_summary_collection = False
        >>> len(sd.list_stats_summaries()) >= 1
        True
    """
    return execution.finished_stats()


__all__ = ["MetaMixin", "list_stats_summaries"]
