"""Apache Iceberg tables (pyiceberg, an optional extra): ``read_iceberg`` / ``write_iceberg``.

The table is loaded from a catalog (``catalog=`` an object, or ``catalog_kwargs`` for
``pyiceberg.catalog.load_catalog``, e.g. a local SQL catalog on SQLite). Reading plans
the scan on the driver (``row_filter``, ``selected_fields``, ``snapshot_id``: pruning
by partition and column statistics) and spreads the data files over the read tasks,
each of which decodes its files with pyiceberg's Arrow reader (deletes applied). The
engine's filters are pushed down too: the parts with an Iceberg equivalent prune the
scan, and the whole predicate is applied to the rows read.

Writing: each write task writes its blocks as Parquet data files with the table's
schema (an incompatible block fails, naming the table); the driver adds them all in one
snapshot (``mode="append"``, or ``"overwrite"`` deleting ``overwrite_filter`` or
everything first). A failed write commits no snapshot, so readers see nothing of it.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any, Iterable, Iterator

import pyarrow as pa

from streamdata.block_metadata import BlockMetadata
from streamdata.errors import DataSinkError, DataSourceError, PlanError, SchemaError
from streamdata.io.datasink import Datasink
from streamdata.io.datasource import Datasource
from streamdata.io.lance import mode_name
from streamdata.read_task import ReadTask
from streamdata.write_context import WriteContext


def _import() -> None:
    try:
        import pyiceberg  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("Iceberg support needs pyiceberg: pip install 'streamdata[formats]'") from exc


def load_table(table_identifier: str, catalog: Any, catalog_kwargs: dict[str, Any] | None,
               error: type[Exception]) -> Any:
    """The table from ``catalog`` (or one built from ``catalog_kwargs``), errors naming it."""
    _import()
    if not isinstance(table_identifier, str) or not table_identifier:
        raise PlanError(f"table_identifier must be a 'namespace.table' string, got {table_identifier!r}")
    if catalog is None:
        from pyiceberg.catalog import load_catalog

        kwargs = dict(catalog_kwargs or {})
        name = kwargs.pop("name", "default")
        try:
            catalog = load_catalog(name, **kwargs)
        except Exception as exc:  # noqa: BLE001 - named
            raise error(f"cannot load the Iceberg catalog {name!r} ({kwargs}) for table {table_identifier}: "
                        f"{type(exc).__name__}: {exc}") from exc
    try:
        return catalog.load_table(table_identifier)
    except Exception as exc:  # noqa: BLE001 - named
        raise error(f"cannot load Iceberg table {table_identifier}: {type(exc).__name__}: {exc}") from exc


_FLIP = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}


def to_iceberg(expr: Any) -> Any:
    """A pyiceberg expression equal to ``expr`` (comparisons of a column with a literal,
    null tests, ``is_in``, and/or/not of those), or None when it has no equivalent.

    Example:
        >>> from streamdata.expressions import col
        >>> str(to_iceberg((col("x") > 1) & col("y").is_null()))
        "And(left=GreaterThan(term=Reference(name='x'), literal=LongLiteral(1)), right=IsNull(term=Reference(name='y')))"
    """
    from pyiceberg import expressions as ie

    from streamdata.expressions import BinaryExpr, ColumnExpr, IsInExpr, LiteralExpr, UnaryExpr

    compare = {"eq": ie.EqualTo, "ne": ie.NotEqualTo, "lt": ie.LessThan, "le": ie.LessThanOrEqual,
               "gt": ie.GreaterThan, "ge": ie.GreaterThanOrEqual}
    if isinstance(expr, BinaryExpr):
        if expr.op in ("and", "or"):
            a, b = to_iceberg(expr.left), to_iceberg(expr.right)
            if a is None or b is None:
                return None
            return ie.And(a, b) if expr.op == "and" else ie.Or(a, b)
        if expr.op in compare:
            left, right, op = expr.left, expr.right, expr.op
            if isinstance(left, LiteralExpr) and isinstance(right, ColumnExpr):
                left, right, op = right, left, _FLIP[op]
            if isinstance(left, ColumnExpr) and isinstance(right, LiteralExpr) and right.value is not None:
                return compare[op](left.name, right.value)
        return None
    if isinstance(expr, UnaryExpr) and isinstance(expr.operand, ColumnExpr):
        if expr.op == "is_null":
            return ie.IsNull(expr.operand.name)
        if expr.op == "is_not_null":
            return ie.NotNull(expr.operand.name)
    if isinstance(expr, UnaryExpr) and expr.op == "not":
        inner = to_iceberg(expr.operand)
        return None if inner is None else ie.Not(inner)
    if isinstance(expr, IsInExpr) and isinstance(expr.operand, ColumnExpr) and \
            all(v is not None for v in expr.values) and expr.values:
        return ie.In(expr.operand.name, tuple(expr.values))
    return None


def _conjuncts(expr: Any) -> list[Any]:
    from streamdata.expressions import BinaryExpr

    if isinstance(expr, BinaryExpr) and expr.op == "and":
        return _conjuncts(expr.left) + _conjuncts(expr.right)
    return [expr]


class _IcebergReadFn:
    def __init__(self, name: str, metadata: Any, io: Any, projection: Any, row_filter: Any,
                 case_sensitive: bool, tasks: list[Any], post_filter: Any = None,
                 columns: list[str] | None = None) -> None:
        self.name, self.metadata, self.io = name, metadata, io
        self.projection, self.row_filter, self.case_sensitive = projection, row_filter, case_sensitive
        self.tasks = tasks
        self.post_filter = post_filter  # the engine's predicates, applied exactly after the scan
        self.columns = columns  # the output columns (the scan may read more, for post_filter)

    def __call__(self) -> Iterator[pa.Table]:
        from pyiceberg.io.pyarrow import ArrowScan, schema_to_pyarrow

        scan = ArrowScan(self.metadata, self.io, self.projection, self.row_filter, self.case_sensitive)
        produced = False
        try:
            for batch in scan.to_record_batches(self.tasks):
                produced = True
                table = pa.Table.from_batches([batch])
                if self.post_filter is not None:
                    table = table.filter(self.post_filter)
                if self.columns is not None:
                    table = table.select(self.columns)
                yield table
        except Exception as exc:  # noqa: BLE001 - named
            files = [t.file.file_path for t in self.tasks]
            raise DataSourceError(f"reading Iceberg table {self.name} (files {files}) failed: "
                                  f"{type(exc).__name__}: {exc}", path=files[0] if files else None) from exc
        if not produced:
            empty = schema_to_pyarrow(self.projection, include_field_ids=False).empty_table()
            yield empty.select(self.columns) if self.columns is not None else empty


class IcebergDatasource(Datasource):
    """An Iceberg table scan (see the module docstring)."""

    name = "ReadIceberg"

    def __init__(self, table_identifier: str, *, row_filter: Any = None, selected_fields: tuple[str, ...] = ("*",),
                 snapshot_id: int | None = None, scan_kwargs: dict[str, Any] | None = None,
                 catalog_kwargs: dict[str, Any] | None = None, catalog: Any = None) -> None:
        table = load_table(table_identifier, catalog, catalog_kwargs, DataSourceError)
        self._ident = table_identifier
        self._table = table
        self._row_filter = row_filter
        self._fields = tuple(selected_fields)
        self._snapshot_id = snapshot_id
        self._scan_kwargs = dict(scan_kwargs or {})
        self._predicates: tuple[Any, ...] = ()
        names = [f.name for f in table.schema().fields]
        for f in self._fields:
            if f != "*" and f not in names:
                from streamdata.errors import ColumnNotFoundError
                raise ColumnNotFoundError(f, names)

    def _scan(self, for_read: bool = False) -> Any:
        from pyiceberg.expressions import AlwaysTrue, And

        kwargs: dict[str, Any] = dict(self._scan_kwargs)
        row_filter = self._row_filter if self._row_filter is not None else AlwaysTrue()
        fields = self._fields
        if for_read and self._predicates:
            if isinstance(row_filter, str):
                from pyiceberg.expressions.parser import parse

                row_filter = parse(row_filter)
            for part in (c for p in self._predicates for c in _conjuncts(p)):
                converted = to_iceberg(part)
                if converted is not None:  # prunes files and row groups; the rest is filtered after
                    row_filter = And(row_filter, converted)
            if "*" not in fields:  # the post-scan filter needs its columns
                needed = {c for p in self._predicates for c in p.columns()}
                fields = tuple(dict.fromkeys(list(fields) + sorted(needed - set(fields))))
        kwargs["row_filter"] = row_filter
        try:
            return self._table.scan(selected_fields=fields, snapshot_id=self._snapshot_id, **kwargs)
        except Exception as exc:  # noqa: BLE001 - named
            raise DataSourceError(f"cannot scan Iceberg table {self._ident} (row_filter={self._row_filter!r}, "
                                  f"snapshot_id={self._snapshot_id}): {type(exc).__name__}: {exc}") from exc

    def schema(self) -> pa.Schema:
        from pyiceberg.io.pyarrow import schema_to_pyarrow

        return schema_to_pyarrow(self._scan().projection(), include_field_ids=False)

    def supports_projection_pushdown(self) -> bool:
        return True

    def apply_projection(self, columns: list[str]) -> "IcebergDatasource":
        out = copy.copy(self)
        out._fields = tuple(columns)
        return out

    def supports_predicate_pushdown(self) -> bool:
        return True

    def apply_predicate(self, predicate: Any) -> "IcebergDatasource":
        """Conjuncts with an Iceberg equivalent prune the scan; the whole predicate is also
        applied to the rows read, so the result is exact."""
        if not hasattr(predicate, "to_arrow"):
            raise PlanError(f"a predicate must be an expression, got {type(predicate).__name__}")
        if "*" not in self._fields:
            for c in predicate.columns():
                if c not in self._fields:
                    from streamdata.errors import ColumnNotFoundError
                    raise ColumnNotFoundError(c, list(self._fields))
        out = copy.copy(self)
        out._predicates = self._predicates + (predicate,)
        return out

    def _read_fn(self, scan: Any, group: list[Any]) -> _IcebergReadFn:
        post = None
        columns = None
        if self._predicates:
            post = self._predicates[0].to_arrow()
            for p in self._predicates[1:]:
                post = post & p.to_arrow()
            if "*" not in self._fields:
                columns = list(self._fields)
        return _IcebergReadFn(self._ident, self._table.metadata, self._table.io, scan.projection(),
                              scan.row_filter, scan.case_sensitive, group, post, columns)

    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        scan = self._scan(for_read=True)
        files = list(scan.plan_files())
        if not files:
            return [ReadTask(self._read_fn(scan, []), BlockMetadata(num_rows=0, size_bytes=0))]
        n = max(1, min(int(parallelism), len(files)))
        # balance by bytes: largest first onto the lightest task
        groups: list[list[Any]] = [[] for _ in range(n)]
        weight = [0] * n
        for t in sorted(files, key=lambda t: -t.file.file_size_in_bytes):
            i = weight.index(min(weight))
            groups[i].append(t)
            weight[i] += t.file.file_size_in_bytes
        tasks = []
        for group in groups:
            if not group:
                continue
            exact = all(not t.delete_files for t in group) and self._row_filter is None and not self._predicates
            rows = sum(t.file.record_count for t in group) if exact else None
            meta = BlockMetadata(num_rows=rows, size_bytes=sum(t.file.file_size_in_bytes for t in group),
                                 input_files=tuple(t.file.file_path for t in group))
            tasks.append(ReadTask(self._read_fn(scan, group), meta))
        return tasks

    def __repr__(self) -> str:
        return f"ReadIceberg({self._ident!r})"


class IcebergDatasink(Datasink):
    """Parquet data files written by the tasks, added in one snapshot by the driver."""

    name = "WriteIceberg"

    def __init__(self, table_identifier: str, *, catalog_kwargs: dict[str, Any] | None = None, catalog: Any = None,
                 snapshot_properties: dict[str, str] | None = None, mode: Any = "append",
                 overwrite_filter: Any = None, upsert_kwargs: dict[str, Any] | None = None,
                 overwrite_kwargs: dict[str, Any] | None = None) -> None:
        self._mode = mode_name(mode)
        if self._mode == "upsert":
            raise NotImplementedError("write_iceberg(mode='upsert') is not implemented in streamdata; "
                                      "use mode='append' or 'overwrite'")
        if self._mode not in ("append", "overwrite"):
            raise PlanError(f"write_iceberg: mode must be 'append' or 'overwrite', got {mode!r}")
        self._ident = table_identifier
        self._catalog = catalog
        self._catalog_kwargs = catalog_kwargs
        self._props = dict(snapshot_properties or {})
        self._overwrite_filter = overwrite_filter
        self._overwrite_kwargs = dict(overwrite_kwargs or {})
        table = load_table(table_identifier, catalog, catalog_kwargs, DataSinkError)
        self._metadata = table.metadata
        self._io = table.io
        self._write_uuid = uuid.uuid4()

    def write(self, blocks: Iterable[pa.Table], ctx: WriteContext) -> dict[str, Any]:
        import itertools

        from pyiceberg.io.pyarrow import _check_pyarrow_schema_compatible, _dataframe_to_data_files

        files: list[Any] = []
        total = 0
        counter = itertools.count(ctx.task_index * 1_000_000)
        schema = self._metadata.schema()
        for table in blocks:
            if table.num_rows == 0:
                continue
            try:
                _check_pyarrow_schema_compatible(schema, table.schema)
            except Exception as exc:  # noqa: BLE001 - named
                raise SchemaError(f"write_iceberg: a block with schema {table.schema} does not fit Iceberg table "
                                  f"{self._ident} ({schema}): {exc}") from exc
            files.extend(_dataframe_to_data_files(self._metadata, table, self._io,
                                                  write_uuid=self._write_uuid, counter=counter))
            total += table.num_rows
        return {"data_files": files, "num_rows": total}

    def on_write_complete(self, write_results: list[Any]) -> None:
        from pyiceberg.expressions import AlwaysTrue

        table = load_table(self._ident, self._catalog, self._catalog_kwargs, DataSinkError)
        files = [f for r in write_results for f in r["data_files"]]
        try:
            txn = table.transaction()
            if self._mode == "overwrite":
                flt = self._overwrite_filter
                if flt is not None and hasattr(flt, "to_arrow") and not isinstance(flt, str):
                    raise PlanError("write_iceberg: overwrite_filter must be a pyiceberg BooleanExpression "
                                    "or a filter string")
                txn.delete(flt if flt is not None else AlwaysTrue(), snapshot_properties=self._props,
                           **self._overwrite_kwargs)
            if files:
                with txn.update_snapshot(snapshot_properties=self._props).fast_append() as append:
                    for f in files:
                        append.append_data_file(f)
            txn.commit_transaction()
        except PlanError:
            raise
        except Exception as exc:  # noqa: BLE001 - named
            raise DataSinkError(f"committing the write to Iceberg table {self._ident} failed: "
                                f"{type(exc).__name__}: {exc}") from exc

    def on_write_failed(self, error: BaseException) -> None:
        """Nothing to undo: the data files of a failed write are in no snapshot."""

    def __repr__(self) -> str:
        return f"WriteIceberg({self._ident!r}, mode={self._mode!r})"


__all__ = ["IcebergDatasink", "IcebergDatasource", "load_table"]
