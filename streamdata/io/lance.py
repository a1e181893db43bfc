"""Lance datasets (pylance, an optional extra): ``read_lance`` / ``write_lance``.

Reading splits the dataset by fragment: each read task opens the dataset at the
version the driver saw and scans its fragments with the requested ``columns`` and
``filter`` (a Lance SQL string, or pushed-down expressions), in batches sized to the
DataContext's target block size.

Writing: each write task writes its blocks as new fragments (invisible until committed);
the driver commits them all in one Lance transaction (``Append`` or ``Overwrite``), so a
failed write adds nothing to the dataset's history.

Example:
    >>> import lance, pyarrow as pa, tempfile, os
    >>> uri = os.path.join(tempfile.mkdtemp(), "t.lance")
    >>> _ = lance.write_dataset(pa.table({"x": [1, 2, 3]}), uri)
    >>> src = LanceDatasource(uri, columns=["x"], filter="x > 1")
    >>> [b.to_pydict() for t in src.get_read_tasks(2) for b in t()]
    [{'x': [2, 3]}]
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import pyarrow as pa

from streamdata.block_metadata import BlockMetadata
from streamdata.errors import DataSinkError, DataSourceError, DestinationExistsError, PlanError
from streamdata.io.datasink import Datasink
from streamdata.io.datasource import Datasource
from streamdata.io.sizing import split_evenly, target_block_sizes
from streamdata.read_task import ReadTask
from streamdata.write_context import WriteContext

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.expressions import Expr


def import_lance() -> Any:
    try:
        import lance
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("Lance support needs pylance: pip install 'streamdata[formats]'") from exc
    return lance


def mode_name(mode: Any) -> str:
    """A save mode as a lower-case string (accepts a ``SaveMode``, Ray's, or a string)."""
    value = getattr(mode, "value", mode)
    if not isinstance(value, str):
        raise PlanError(f"mode must be a string or SaveMode, got {mode!r}")
    return value.lower()


def _open(uri: str, version: Any, storage_options: dict[str, str] | None) -> Any:
    lance = import_lance()
    try:
        return lance.dataset(uri, version=version, storage_options=storage_options)
    except Exception as exc:  # noqa: BLE001 - named
        raise DataSourceError(f"cannot open Lance dataset {uri} (version={version!r}): "
                              f"{type(exc).__name__}: {exc}", path=uri) from exc


class _LanceReadFn:
    def __init__(self, src: "LanceDatasource", fragment_ids: list[int]) -> None:
        self.src = src
        self.fragment_ids = fragment_ids

    def __call__(self) -> Iterator[pa.Table]:
        src = self.src
        ds = _open(src._uri, src._version, src._storage_options)
        _, max_bytes = target_block_sizes()
        frags = [ds.get_fragment(i) for i in self.fragment_ids]
        arrow_filter = src._arrow_filter()
        lance_filter = src._filter
        post_filter = None
        if arrow_filter is not None:
            if lance_filter is None:
                lance_filter = arrow_filter
            else:
                post_filter = arrow_filter
        opts = dict(src._scanner_options)
        opts.setdefault("batch_size_bytes", max_bytes)
        try:
            try:
                scanner = ds.scanner(columns=src._columns, filter=lance_filter, fragments=frags, **opts)
            except (TypeError, ValueError, NotImplementedError):
                if lance_filter is not arrow_filter or arrow_filter is None:
                    raise
                post_filter = arrow_filter  # Lance did not take the expression: filter after the scan
                scanner = ds.scanner(columns=src._columns, filter=src._filter, fragments=frags, **opts)
            produced = False
            for batch in scanner.to_batches():
                table = pa.Table.from_batches([batch])
                if post_filter is not None:
                    table = table.filter(post_filter)
                produced = True
                yield table
            if not produced:
                yield scanner.projected_schema.empty_table()
        except DataSourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - named
            raise DataSourceError(f"reading Lance dataset {src._uri} (fragments {self.fragment_ids}) failed: "
                                  f"{type(exc).__name__}: {exc}", path=src._uri) from exc


class LanceDatasource(Datasource):
    """A Lance dataset (see the module docstring)."""

    name = "ReadLance"

    def __init__(self, uri: str, *, version: int | str | None = None, columns: list[str] | None = None,
                 filter: str | None = None, storage_options: dict[str, str] | None = None,
                 scanner_options: dict[str, Any] | None = None) -> None:
        if not isinstance(uri, str):
            raise PlanError(f"read_lance: uri must be a string, got {uri!r}")
        ds = _open(uri, version, storage_options)
        self._uri = uri
        self._version = ds.version  # pin: every task reads the same snapshot
        self._storage_options = storage_options
        self._scanner_options = dict(scanner_options or {})
        self._schema: pa.Schema = ds.schema
        if columns is not None:
            missing = [c for c in columns if c not in self._schema.names]
            if missing:
                from streamdata.errors import ColumnNotFoundError
                raise ColumnNotFoundError(missing[0], self._schema.names)
        self._columns = list(columns) if columns is not None else None
        self._filter = filter
        self._predicates: tuple[Any, ...] = ()
        frags = ds.get_fragments()
        self._fragments = [f.fragment_id for f in frags]
        self._rows = [f.count_rows() for f in frags] if filter is None else None
        self._bytes: int | None = None

    def _arrow_filter(self) -> Any:
        if not self._predicates:
            return None
        out = self._predicates[0].to_arrow()
        for p in self._predicates[1:]:
            out = out & p.to_arrow()
        return out

    def schema(self) -> pa.Schema:
        if self._columns is None:
            return self._schema
        return pa.schema([self._schema.field(c) for c in self._columns])

    def num_rows(self) -> int | None:
        if self._rows is None or self._predicates:
            return None
        return sum(self._rows)

    def supports_projection_pushdown(self) -> bool:
        return True

    def apply_projection(self, columns: list[str]) -> "LanceDatasource":
        out = copy.copy(self)
        out._columns = list(columns)
        return out

    def supports_predicate_pushdown(self) -> bool:
        return True

    def apply_predicate(self, predicate: "Expr") -> "LanceDatasource":
        if not hasattr(predicate, "to_arrow"):
            raise PlanError(f"a predicate must be an expression, got {type(predicate).__name__}")
        out = copy.copy(self)
        out._predicates = self._predicates + (predicate,)
        return out

    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        n = max(1, min(int(parallelism), len(self._fragments)))
        tasks = []
        for lo, hi in split_evenly(len(self._fragments), n):
            ids = self._fragments[lo:hi]
            if not ids:
                continue
            rows = None if self._rows is None or self._predicates else sum(self._rows[lo:hi])
            tasks.append(ReadTask(_LanceReadFn(self, ids), BlockMetadata(num_rows=rows, input_files=(self._uri,))))
        return tasks

    def input_files(self) -> list[str]:
        return [self._uri]

    def __repr__(self) -> str:
        return f"ReadLance({self._uri!r}, version={self._version})"


class LanceDatasink(Datasink):
    """Writes fragments in the tasks, commits them in one transaction on the driver.

    Args:
        path: the dataset's URI.
        schema: the schema to write (else each block's).
        mode: ``"create"`` (fails if the dataset exists), ``"append"`` or ``"overwrite"``.
        min_rows_per_file: accepted for Ray's signature (fragments follow the blocks).
        max_rows_per_file: the most rows of one fragment file.
        data_storage_version: Lance file format version.
        storage_options: object-store options.
    """

    name = "WriteLance"

    def __init__(self, path: str, *, schema: pa.Schema | None = None, mode: Any = "create",
                 min_rows_per_file: int = 1024 * 1024, max_rows_per_file: int = 64 * 1024 * 1024,
                 data_storage_version: str | None = None, storage_options: dict[str, Any] | None = None) -> None:
        import_lance()
        self._mode = mode_name(mode)
        if self._mode not in ("create", "append", "overwrite"):
            raise PlanError(f"write_lance: mode must be 'create', 'append' or 'overwrite', got {mode!r}")
        self._uri = str(path)
        self._schema = schema
        self._max_rows = int(max_rows_per_file)
        self._storage_version = data_storage_version
        self._storage_options = storage_options
        self._read_version: int | None = None

    def _existing(self) -> Any:
        lance = import_lance()
        try:
            return lance.dataset(self._uri, storage_options=self._storage_options)
        except (ValueError, FileNotFoundError, OSError):
            return None

    def on_write_start(self) -> None:
        ds = self._existing()
        if ds is not None and self._mode == "create":
            raise DestinationExistsError(f"Lance dataset {self._uri} already exists and mode='create'; "
                                         f"use mode='append' or 'overwrite'")
        self._read_version = ds.version if ds is not None else None

    def write(self, blocks: Iterable[pa.Table], ctx: WriteContext) -> dict[str, Any]:
        lance = import_lance()
        from lance.fragment import write_fragments

        frags: list[Any] = []
        total = 0
        schema = self._schema
        for table in blocks:
            if table.num_rows == 0:
                continue
            if schema is None:
                schema = table.schema
            elif not table.schema.equals(schema):
                try:
                    table = table.cast(schema)
                except (pa.ArrowInvalid, ValueError) as exc:
                    raise DataSinkError(f"write_lance {self._uri}: a block's schema {table.schema} does not "
                                        f"match the dataset's {schema}: {exc}") from exc
            kwargs: dict[str, Any] = {"schema": schema, "max_rows_per_file": self._max_rows,
                                      "storage_options": self._storage_options}
            if self._storage_version is not None:
                kwargs["data_storage_version"] = self._storage_version
            frags.extend(write_fragments(table, self._uri, **kwargs))
            total += table.num_rows
        del lance
        return {"fragments": frags, "schema": schema, "num_rows": total}

    def on_write_complete(self, write_results: list[Any]) -> None:
        lance = import_lance()
        frags = [f for r in write_results for f in r["fragments"]]
        schema = self._schema or next((r["schema"] for r in write_results if r["schema"] is not None), None)
        ds = self._existing()
        try:
            if ds is None or self._mode == "overwrite":
                if schema is None:
                    schema = ds.schema if ds is not None else pa.schema([])
                op = lance.LanceOperation.Overwrite(schema, frags)
            else:
                if not frags:
                    return
                op = lance.LanceOperation.Append(frags)
            read_version = ds.version if ds is not None else None
            lance.LanceDataset.commit(self._uri, op, read_version=read_version,
                                      storage_options=self._storage_options)
        except Exception as exc:  # noqa: BLE001 - named
            raise DataSinkError(f"committing the write to Lance dataset {self._uri} failed: "
                                f"{type(exc).__name__}: {exc}") from exc

    def __repr__(self) -> str:
        return f"WriteLance({self._uri!r}, mode={self._mode!r})"
