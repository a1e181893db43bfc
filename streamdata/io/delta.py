"""Delta Lake tables (deltalake, an optional extra): ``read_delta`` / ``write_delta``.

Reading resolves the table's snapshot (``version=``) on the driver and reads its data
files with the Parquet reader, so column pruning, predicate pushdown, row-group
statistics and per-file read tasks all apply; partition columns come from the Hive
directories Delta writes. Tables with deletion vectors are refused with a clear error
(their rows cannot be read correctly by a plain Parquet scan).

Writing: each write task writes Parquet files under the table directory (named
``part-<write id>-...``; invisible until committed, since Delta readers only read files
the log lists); the driver commits all of them in one Delta transaction (``append`` or
``overwrite``; ``error`` / ``ignore`` for an existing table). A failed write commits
nothing and removes its files.
"""

from __future__ import annotations

import json
import posixpath
import time
import uuid
from typing import Any, Iterable

import pyarrow as pa

from streamdata.errors import DataSinkError, DataSourceError, DestinationExistsError, PlanError, SchemaError
from streamdata.io.datasink import Datasink
from streamdata.io.filesystem import resolve_filesystem, unstrip
from streamdata.io.lance import mode_name
from streamdata.write_context import WriteContext


def import_deltalake() -> Any:
    try:
        import deltalake
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("Delta Lake support needs deltalake: pip install 'streamdata[formats]'") from exc
    return deltalake


def _open(path: str, version: int | None, storage_options: dict[str, Any] | None, error: type[Exception]) -> Any:
    deltalake = import_deltalake()
    try:
        return deltalake.DeltaTable(path, version=version, storage_options=storage_options)
    except Exception as exc:  # noqa: BLE001 - named
        raise error(f"cannot open Delta table {path} (version={version!r}): {type(exc).__name__}: {exc}") from exc


def delta_files(path: str, version: int | None = None,
                storage_options: dict[str, Any] | None = None) -> tuple[list[str], dict[str, pa.DataType]]:
    """The data files of the table's snapshot (refusing deletion vectors), and the types of
    its partition columns (the table's schema says them; the Hive paths hold only text)."""
    dt = _open(path, version, storage_options, DataSourceError)
    protocol = dt.protocol()
    features = set(getattr(protocol, "reader_features", None) or ())
    if "deletionVectors" in features:
        adds = dt.get_add_actions(flatten=True)
        if "deletionVector" in adds.column_names or any(n.startswith("deletion_vector") for n in adds.column_names):
            raise NotImplementedError(f"read_delta: Delta table {path} uses deletion vectors, which streamdata "
                                      f"does not read; compact it (OPTIMIZE/purge) first")
    schema = pa.schema(dt.schema().to_arrow())
    types = {name: schema.field(name).type for name in dt.metadata().partition_columns}
    return list(dt.file_uris()), types


class DeltaDatasink(Datasink):
    """Parquet files written by the tasks, committed in one Delta transaction by the driver.

    Args:
        path: the table's directory (local or any fsspec URL).
        mode: ``"append"`` (default), ``"overwrite"``, ``"error"`` or ``"ignore"``.
        partition_by: partition columns (Hive directories).
        storage_options: passed to deltalake.
        schema_mode: ``"merge"`` (Ray's default) lets an append add columns; else blocks must match.
        name, description: table metadata on creation.
    """

    name = "WriteDelta"

    def __init__(self, path: str, *, mode: Any = "append", partition_by: list[str] | None = None,
                 storage_options: dict[str, str] | None = None, schema_mode: str = "merge",
                 filesystem: Any = None, name: str | None = None, description: str | None = None) -> None:
        import_deltalake()
        self._mode = mode_name(mode)
        if self._mode not in ("append", "overwrite", "error", "ignore"):
            raise PlanError(f"write_delta: mode must be 'append', 'overwrite', 'error' or 'ignore', got {mode!r}")
        self._uri = str(path)
        fs, paths = resolve_filesystem(self._uri, filesystem)
        self._fs = fs
        self._root = paths[0].rstrip("/")
        self._partition_by = list(partition_by or [])
        self._storage_options = storage_options
        self._schema_mode = schema_mode
        self._table_name = name
        self._description = description
        self._write_id = uuid.uuid4().hex
        self._table_schema: pa.Schema | None = None
        self._skip = False

    def _existing(self) -> Any:
        deltalake = import_deltalake()
        try:
            return deltalake.DeltaTable(self._uri, storage_options=self._storage_options)
        except Exception:  # noqa: BLE001 - no table there yet
            return None

    def on_write_start(self) -> None:
        dt = self._existing()
        if dt is not None:
            if self._mode == "error":
                raise DestinationExistsError(f"Delta table {self._uri} already exists and mode='error'")
            self._skip = self._mode == "ignore"
            if self._mode == "append":
                self._table_schema = pa.schema(dt.schema().to_arrow())
                existing = list(dt.metadata().partition_columns)
                if self._partition_by and self._partition_by != existing:
                    raise SchemaError(f"write_delta {self._uri}: partition_by={self._partition_by} but the table is "
                                      f"partitioned by {existing}")
                self._partition_by = existing

    def _conform(self, table: pa.Table) -> pa.Table:
        """The block in the table's schema: its columns cast to the table's types, missing ones
        null; new columns kept at the end with ``schema_mode="merge"``, refused otherwise."""
        target = self._table_schema
        if target is None or table.schema.equals(target):
            return table
        extra = [c for c in table.column_names if c not in target.names]
        if extra and self._schema_mode != "merge":
            raise SchemaError(f"write_delta {self._uri}: columns {extra} are not in the table "
                              f"({target.names}); pass schema_mode='merge' to add them")
        arrays, fields = [], []
        for f in target:
            if f.name in table.column_names:
                col = table.column(f.name)
                if col.type != f.type:
                    try:
                        col = col.cast(f.type, safe=True)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
                        raise SchemaError(f"write_delta {self._uri}: column {f.name!r} holds {col.type}, the "
                                          f"table has {f.type}: {exc}") from exc
            else:
                col = pa.nulls(table.num_rows, f.type)
            arrays.append(col)
            fields.append(f)
        for c in extra:
            arrays.append(table.column(c))
            fields.append(pa.field(c, table.schema.field(c).type))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def write(self, blocks: Iterable[pa.Table], ctx: WriteContext) -> dict[str, Any]:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
        from deltalake.transaction import AddAction

        actions: list[Any] = []
        schema: pa.Schema | None = None
        total = 0
        if self._skip:
            return {"actions": [], "schema": None, "num_rows": 0}
        counter = 0
        for table in blocks:
            if table.num_rows == 0:
                continue
            for c in self._partition_by:
                if c not in table.column_names:
                    raise SchemaError(f"write_delta {self._uri}: partition column {c!r} is not in the data "
                                      f"(columns {table.column_names})")
            table = self._conform(table)
            if schema is None or len(table.schema) > len(schema):
                schema = table.schema
            groups: list[tuple[dict[str, str | None], pa.Table]]
            if self._partition_by:
                keys = table.select(self._partition_by).group_by(self._partition_by).aggregate([]).to_pylist()
                groups = []
                for key in keys:
                    mask = None
                    for c, v in key.items():
                        m = pc.is_null(table[c]) if v is None else pc.equal(table[c], v)
                        mask = m if mask is None else pc.and_(mask, m)
                    part = table.filter(mask).drop_columns(self._partition_by)
                    groups.append(({c: None if v is None else str(v) for c, v in key.items()}, part))
            else:
                groups = [({}, table)]
            for values, part in groups:
                subdir = "/".join(f"{c}={'__HIVE_DEFAULT_PARTITION__' if v is None else v}"
                                  for c, v in values.items())
                name = f"part-{self._write_id}-{ctx.task_index:05d}-{counter:05d}.parquet"
                counter += 1
                rel = posixpath.join(subdir, name) if subdir else name
                full = f"{self._root}/{rel}"
                self._fs.makedirs(posixpath.dirname(full), exist_ok=True)
                with self._fs.open(full, "wb") as f:
                    pq.write_table(part, f)
                size = self._fs.size(full)
                stats = json.dumps({"numRecords": part.num_rows})
                actions.append(AddAction(rel, int(size), values, int(time.time() * 1000), True, stats))
            total += table.num_rows
        return {"actions": actions, "schema": schema, "num_rows": total}

    def on_write_complete(self, write_results: list[Any]) -> None:
        if self._skip:
            return
        from deltalake.transaction import create_table_with_add_actions

        actions = [a for r in write_results for a in r["actions"]]
        schemas = [r["schema"] for r in write_results if r["schema"] is not None]
        schema = None
        if schemas:
            try:
                schema = pa.unify_schemas(schemas)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                self._remove_files()
                raise SchemaError(f"write_delta {self._uri}: the blocks' schemas disagree: {exc}") from exc
        dt = self._existing()
        try:
            if dt is None:
                if schema is None:
                    raise DataSinkError(f"write_delta {self._uri}: nothing to write and no table to create "
                                        f"(an empty dataset has no schema)")
                self._fs.makedirs(self._root, exist_ok=True)
                from deltalake import Schema as DeltaSchema

                create_table_with_add_actions(self._uri, DeltaSchema.from_arrow(schema), actions, mode="error",
                                              partition_by=self._partition_by or None, name=self._table_name,
                                              description=self._description, storage_options=self._storage_options)
            else:
                if schema is None:
                    if self._mode != "overwrite":
                        return
                    schema = pa.schema(dt.schema().to_arrow())
                mode = "overwrite" if self._mode == "overwrite" else "append"
                if mode == "append":
                    from deltalake import Field as DeltaField

                    current = pa.schema(dt.schema().to_arrow()).names
                    new = [DeltaField.from_arrow(schema.field(n)) for n in schema.names if n not in current]
                    if new:  # schema_mode="merge": add the new columns first (a commit of its own)
                        dt.alter.add_columns(new)
                        dt = self._existing()
                dt.create_write_transaction(actions, mode, schema, partition_by=self._partition_by or None)
        except DataSinkError:
            self._remove_files()
            raise
        except Exception as exc:  # noqa: BLE001 - named
            self._remove_files()
            raise DataSinkError(f"committing the write to Delta table {self._uri} failed: "
                                f"{type(exc).__name__}: {exc}") from exc

    def _remove_files(self) -> None:
        try:
            prefix = f"part-{self._write_id}-"
            for p in self._fs.find(self._root):
                if posixpath.basename(p).startswith(prefix):
                    self._fs.rm(p)
        except (FileNotFoundError, OSError):
            pass

    def on_write_failed(self, error: BaseException) -> None:
        """Remove this write's files (no log entry refers to them)."""
        self._remove_files()

    def __repr__(self) -> str:
        return f"WriteDelta({unstrip(self._fs, self._root)!r}, mode={self._mode!r})"
