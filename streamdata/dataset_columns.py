"""Column transforms of a Dataset: ``add_column``, ``with_column``, ``with_columns``,
``select_columns``, ``drop_columns``, ``rename_columns``.

:class:`ColumnsMixin` is part of :class:`~streamdata.dataset.Dataset`. Each method
checks its arguments (and, when the schema is known without running, the column
names), adds one logical node per column change and returns a new Dataset. Every
method takes Ray's per-task options (``num_cpus``, ``resources``, ``runtime_env``, ...;
see :func:`streamdata.dataset_args.remote_args`).

May import: base modules, :mod:`streamdata.plan` (node types) and
:mod:`streamdata.dataset_args`.

Example:
    >>> import streamdata as sd
    >>> ds = sd.from_items([{"a": 1, "b": 2}])
    >>> ds.with_columns({"c": sd.col("a") + sd.col("b")}).drop_columns("a").take_all()
    [{'b': 2, 'c': 3}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, Mapping, Sequence, TypeVar

import pyarrow as pa

from streamdata.dataset_args import (
    AddColumn, column_list, named_options, normalize_batch_format, task_fields,
)
from streamdata.errors import PlanError
from streamdata.expressions import Expr, UnnestExpr, col
from streamdata.plan.logical import LogicalNode, LogicalPlan, MapBatches, Project, WithColumn

#: the Dataset class the methods return (``Dataset`` binds it: ``ColumnsMixin["Dataset"]``)
DatasetT = TypeVar("DatasetT")


class ColumnsMixin(Generic[DatasetT]):
    """The column methods of a Dataset."""

    _plan: LogicalPlan

    if TYPE_CHECKING:  # pragma: no cover
        def _with(self, node: LogicalNode) -> DatasetT: ...
        def _check_columns(self, cols: Iterable[str]) -> None: ...
        def columns(self, fetch_if_missing: bool = True) -> list[str] | None: ...

    def add_column(self, col: str, fn: Callable[[Any], Any], *, batch_format: str | None = "pandas",
                   compute: Any = None, concurrency: Any = None, num_cpus: float | None = None,
                   num_gpus: float | None = None, memory: float | None = None,
                   label_selector: dict[str, str] | None = None,
                   fallback_strategy: list[dict[str, Any]] | None = None,
                   max_calls: int | None = None, resources: dict[str, float] | None = None,
                   accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None,
                   **ray_remote_args: Any) -> DatasetT:
        """Add (or replace) column ``col`` with ``fn(batch)``'s values.

        Example:
            >>> import streamdata as sd
            >>> sd.range(2).add_column("z", lambda df: df["id"] * 2).take_all()
            [{'id': 0, 'z': 0}, {'id': 1, 'z': 2}]
        """
        if not isinstance(col, str) or not col:
            raise PlanError(f"add_column needs a column name (str), got {col!r}")
        if not callable(fn):
            raise PlanError(f"add_column needs a function of a batch, got {type(fn).__name__}")
        fmt = normalize_batch_format(batch_format)
        return self._with(MapBatches(
            inputs=(self._plan.root,), fn=AddColumn(col, fn, fmt), batch_format=fmt,
            label=f"AddColumn({col})", **task_fields(locals())))

    def with_column(self, column_name: str, expr: Expr, *, compute: Any = None,
                    num_cpus: float | None = None, num_gpus: float | None = None,
                    memory: float | None = None, label_selector: dict[str, str] | None = None,
                    fallback_strategy: list[dict[str, Any]] | None = None,
                    max_calls: int | None = None, resources: dict[str, float] | None = None,
                    accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None,
                    **ray_remote_args: Any) -> DatasetT:
        """Add (or replace) column ``column_name`` computed by the expression ``expr``.

        Example:
            >>> import streamdata as sd
            >>> sd.range(2).with_column("y", sd.col("id") * 3 + 1).take_all()
            [{'id': 0, 'y': 1}, {'id': 1, 'y': 4}]
        """
        if not isinstance(column_name, str) or not column_name:
            raise PlanError(f"with_column needs a column name (str), got {column_name!r}")
        if not isinstance(expr, Expr):
            raise PlanError(f"with_column needs an expression (sd.col / sd.lit), "
                            f"got {type(expr).__name__}")
        self._check_columns(expr.columns())
        return self._with(WithColumn(
            inputs=(self._plan.root,), column=column_name, expr=expr, **task_fields(locals())))

    def with_columns(self, exprs: Mapping[str, Expr] | UnnestExpr | None = None,
                     *more_exprs: Mapping[str, Expr] | UnnestExpr,
                     compute: Any = None, num_cpus: float | None = None,
                     num_gpus: float | None = None, memory: float | None = None,
                     label_selector: dict[str, str] | None = None,
                     fallback_strategy: list[dict[str, Any]] | None = None,
                     max_calls: int | None = None, resources: dict[str, float] | None = None,
                     accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None,
                     **ray_remote_args: Any) -> DatasetT:
        """Add (or replace) several columns, each ``{name: expression}``, or one per field of
        a struct for an ``unnest(expression)`` argument; every expression sees the input's
        columns (not the ones this call adds).

        Example:
            >>> import streamdata as sd
            >>> ds = sd.range(2).with_columns({"a": sd.col("id") + 1, "b": sd.col("id") * 10})
            >>> ds.take_all()
            [{'id': 0, 'a': 1, 'b': 0}, {'id': 1, 'a': 2, 'b': 10}]
            >>> from streamdata.expressions import col, unnest
            >>> sd.from_items([{"s": {"x": 1, "y": 2}}]).with_columns(unnest(col("s"))).take_all()
            [{'s': {'x': 1, 'y': 2}, 'x': 1, 'y': 2}]
        """
        assigned: dict[str, Expr] = {}
        structs: dict[str, Expr] = {}  # temporary column -> the struct expression an unnest() expands
        for mapping in (exprs, *more_exprs):
            if mapping is None:
                continue
            if isinstance(mapping, UnnestExpr):
                mapping = self._unnest_fields(mapping, structs)
            elif isinstance(mapping, Expr):
                raise PlanError(f"with_columns takes {{name: expression}} dicts or unnest() expressions; "
                                f"got the bare expression {mapping.compact()}")
            if not isinstance(mapping, Mapping):
                raise PlanError(f"with_columns takes {{name: expression}} dicts or unnest() expressions, "
                                f"got {type(mapping).__name__}")
            for name, expr in mapping.items():
                if name in assigned:
                    raise PlanError(f"with_columns assigns column {name!r} twice")
                for used in expr.columns() if isinstance(expr, Expr) else ():
                    if used in assigned:
                        raise PlanError(f"with_columns: the expression of {name!r} reads column "
                                        f"{used!r}, which the same call assigns; split it into "
                                        f"two with_columns calls")
                assigned[name] = expr
        if not assigned:
            raise PlanError("with_columns needs at least one {name: expression}")
        options = dict(compute=compute, num_cpus=num_cpus, num_gpus=num_gpus, memory=memory,
                       **named_options(locals()), **ray_remote_args)
        ds: Any = self
        for temp, struct in structs.items():  # evaluated once each, on the input's columns
            ds = ds.with_column(temp, struct, **options)
        for name, expr in assigned.items():
            ds = ds.with_column(name, expr, **options)
        return ds.drop_columns(list(structs)) if structs else ds

    def _unnest_fields(self, unnested: UnnestExpr, structs: dict[str, Expr]) -> dict[str, Expr]:
        """``{field: temp.struct.field_by_index(i)}`` for ``unnested``'s struct, whose value goes
        in a new temporary column of ``structs``."""
        schema = self._plan.schema()
        fields = unnested.expand(schema if schema is not None else pa.schema([]))  # PlanError: type unknown
        temp = f"__unnest_{len(structs)}__"
        structs[temp] = unnested.expr
        return {f.output_name: col(temp).struct.field_by_index(i) for i, f in enumerate(fields)}

    def select_columns(self, cols: str | Sequence[str], *, compute: Any = None,
                       concurrency: int | None = None, num_cpus: float | None = None,
                       num_gpus: float | None = None, memory: float | None = None,
                       label_selector: dict[str, str] | None = None,
                       fallback_strategy: list[dict[str, Any]] | None = None,
                       max_calls: int | None = None, resources: dict[str, float] | None = None,
                       accelerator_type: str | None = None,
                       runtime_env: dict[str, Any] | None = None,
                       **ray_remote_args: Any) -> DatasetT:
        """Keep only ``cols``, in that order.

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([{"a": 1, "b": 2}]).select_columns(["b"]).take_all()
            [{'b': 2}]
        """
        cols = column_list(cols, "select_columns")
        self._check_columns(cols)
        return self._with(Project(inputs=(self._plan.root,), select=tuple(cols), **task_fields(locals())))

    def drop_columns(self, cols: str | Sequence[str], *, compute: Any = None,
                     concurrency: int | None = None, num_cpus: float | None = None,
                     num_gpus: float | None = None, memory: float | None = None,
                     label_selector: dict[str, str] | None = None,
                     fallback_strategy: list[dict[str, Any]] | None = None,
                     max_calls: int | None = None, resources: dict[str, float] | None = None,
                     accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None,
                     **ray_remote_args: Any) -> DatasetT:
        """Remove ``cols``.

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([{"a": 1, "b": 2}]).drop_columns(["b"]).take_all()
            [{'a': 1}]
        """
        cols = column_list(cols, "drop_columns")
        self._check_columns(cols)
        return self._with(Project(inputs=(self._plan.root,), drop=tuple(cols), **task_fields(locals())))

    def rename_columns(self, names: Mapping[str, str] | Sequence[str], *,
                       concurrency: int | None = None, num_cpus: float | None = None,
                       num_gpus: float | None = None, memory: float | None = None,
                       label_selector: dict[str, str] | None = None,
                       fallback_strategy: list[dict[str, Any]] | None = None,
                       max_calls: int | None = None, resources: dict[str, float] | None = None,
                       accelerator_type: str | None = None,
                       runtime_env: dict[str, Any] | None = None,
                       **ray_remote_args: Any) -> DatasetT:
        """Rename columns: a dict ``{old: new}``, or a list of new names for every column.

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([{"a": 1}]).rename_columns({"a": "x"}).take_all()
            [{'x': 1}]
        """
        if isinstance(names, Mapping):
            if not all(isinstance(k, str) and isinstance(v, str) for k, v in names.items()):
                raise PlanError(f"rename_columns takes {{old: new}} with str names, got {names!r}")
        else:
            if isinstance(names, str):
                raise PlanError(f"rename_columns takes a dict {{old: new}} or a list of new "
                                f"names, got the str {names!r}")
            new = column_list(names, "rename_columns")
            old = self.columns() or []
            if len(new) != len(old):
                raise PlanError(f"rename_columns got {len(new)} names for {len(old)} columns {old}")
            names = dict(zip(old, new))
        self._check_columns(names)
        return self._with(Project(inputs=(self._plan.root,), rename=dict(names),
                                  **task_fields(locals())))


__all__ = ["ColumnsMixin"]
