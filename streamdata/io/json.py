"""JSON files: JSON lines (one object per line, read with ``pyarrow.json``, streaming)
and JSON arrays (a document ``[{...}, {...}]``, parsed whole).

The format is detected per file from its first character. A malformed line raises a
:class:`~streamdata.errors.DataSourceError` naming the file and the line.
``read_options`` / ``parse_options`` (``pyarrow.json`` option objects or dicts) pass
through; ``parse_options.explicit_schema`` fixes column types.

Example:
    >>> import fsspec
    >>> fs = fsspec.filesystem("memory")
    >>> fs.pipe("/doc/json/a.jsonl", b'{"x": 1}\\n{"x": 2}\\n')
    >>> fs.pipe("/doc/json/b.json", b'[{"x": 3}]')
    >>> src = JSONDatasource("memory://doc/json")
    >>> [b.to_pydict() for t in src.get_read_tasks(2) for b in t()]
    [{'x': [1, 2]}, {'x': [3]}]
"""

from __future__ import annotations

import copy
import json as pyjson
from typing import Any, Iterator

import pyarrow as pa

from streamdata.errors import DataSourceError, PlanError
from streamdata.io.file_datasink import FileDatasink, FileWriter
from streamdata.io.file_datasource import FileBasedDatasource, FileSplit
from streamdata.io.filesystem import unstrip
from streamdata import block


def _options(kind: str, value: Any) -> Any:
    import pyarrow.json as pajson

    cls = {"read": pajson.ReadOptions, "parse": pajson.ParseOptions}[kind]
    if value is None:
        return cls()
    if isinstance(value, cls):
        return copy.copy(value)
    if isinstance(value, dict):
        try:
            return cls(**value)
        except TypeError as exc:
            raise PlanError(f"invalid {kind}_options for JSON: {exc}") from exc
    raise PlanError(f"{kind}_options must be a pyarrow.json.{cls.__name__} or a dict, got {type(value).__name__}")


def _first_char(f: Any) -> str:
    while True:
        chunk = f.read(4096)
        if not chunk:
            return ""
        stripped = chunk.lstrip()
        if stripped.startswith(b"\xef\xbb\xbf"):  # UTF-8 BOM
            stripped = stripped[3:].lstrip()
        if stripped:
            return chr(stripped[0])


class JSONDatasource(FileBasedDatasource):
    """JSON-lines and JSON-array files as Arrow tables (see the module docstring)."""

    name = "ReadJSON"
    encoding_ratio = 0.6

    def __init__(self, paths: Any, *, read_options: Any = None, parse_options: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(paths, **kwargs)
        self._read_options = _options("read", read_options)
        self._parse_options = _options("parse", parse_options)

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        with self.open_input(fs, split) as f:
            first = _first_char(f)
        if first == "":
            return
        if first == "[":
            yield self._read_array(fs, split)
        else:
            yield from self._read_lines(fs, split)

    def _read_lines(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        import pyarrow.json as pajson

        wanted = self.physical_columns()
        with self.open_input(fs, split) as f:
            try:
                reader = pajson.open_json(f, read_options=self._read_options, parse_options=self._parse_options)
                for batch in reader:
                    table = pa.Table.from_batches([batch])
                    if wanted is not None:
                        table = table.select([c for c in wanted if c in table.column_names])
                    yield table
            except pa.ArrowInvalid as exc:
                raise self._line_error(fs, split, str(exc)) from exc

    def _line_error(self, fs: Any, split: FileSplit, arrow_message: str) -> DataSourceError:
        """Find the malformed line with Python's parser (slow path, on error only)."""
        where = unstrip(fs, split.path)
        with self.open_input(fs, split) as f:
            for number, raw in enumerate(f, start=1):
                line = raw.strip()
                if not line:
                    continue
                try:
                    value = pyjson.loads(line)
                except ValueError as exc:
                    msg = getattr(exc, "msg", str(exc))
                    return DataSourceError(f"{where}: line {number} is not valid JSON ({msg}): "
                                           f"{line[:200].decode(errors='replace')!r}", path=where)
                if not isinstance(value, dict):
                    return DataSourceError(f"{where}: line {number} is a JSON {type(value).__name__}, "
                                           f"expected an object: {line[:200].decode(errors='replace')!r}",
                                           path=where)
        return DataSourceError(f"{where}: {arrow_message}", path=where)

    def _read_array(self, fs: Any, split: FileSplit) -> pa.Table:
        where = unstrip(fs, split.path)
        with self.open_input(fs, split) as f:
            data = f.read()
        try:
            rows = pyjson.loads(data)
        except ValueError as exc:
            line = getattr(exc, "lineno", None)
            at = f"line {line}" if line is not None else "somewhere"
            raise DataSourceError(f"{where}: invalid JSON at {at} ({getattr(exc, 'msg', exc)})",
                                  path=where) from exc
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                raise DataSourceError(f"{where}: element {i} of the JSON array is a "
                                      f"{type(row).__name__}, expected an object", path=where)
        schema = self._parse_options.explicit_schema
        if schema is not None:
            try:
                table = pa.Table.from_pylist(rows, schema=schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise DataSourceError(f"{where}: does not match explicit_schema: {exc}", path=where) from exc
        else:
            table = block.rows_to_table(rows, what=f"JSON file {where}") if rows else pa.table({})
        wanted = self.physical_columns()
        if wanted is not None:
            table = table.select([c for c in wanted if c in table.column_names])
        return table


# ---------------------------------------------------------------------------- writing


def _jsonable(value: Any) -> Any:
    import base64

    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    import decimal

    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class _JSONLinesWriter(FileWriter):
    def __init__(self, f: Any, schema: pa.Schema, dumps_options: dict[str, Any]) -> None:
        super().__init__(f, schema)
        self._options = dumps_options

    def accepts(self, table: pa.Table) -> bool:
        return True  # JSON lines need no fixed schema

    def write(self, table: pa.Table) -> None:
        lines = [pyjson.dumps(row, default=_jsonable, **self._options) for row in block.iter_rows(table)]
        self.f.write(("\n".join(lines) + "\n").encode("utf-8"))


class JSONDatasink(FileDatasink):
    """Writes JSON-lines files, one object per row (see :mod:`streamdata.io.file_datasink`).

    Tensors become nested lists, bytes base64 text, dates and times ISO strings.
    ``**dumps_options`` pass to :func:`json.dumps` (e.g. ``ensure_ascii=False``).
    """

    name = "WriteJSON"
    extension = "json"

    def __init__(self, path: str, *, filesystem: Any = None, mode: str = "append",
                 max_rows_per_file: int | None = None, **dumps_options: Any) -> None:
        super().__init__(path, filesystem=filesystem, mode=mode, max_rows_per_file=max_rows_per_file)
        try:
            pyjson.dumps({}, **dumps_options)
        except TypeError as exc:
            raise PlanError(f"invalid JSON option: {exc}") from exc
        self._dumps_options = dumps_options

    def open_writer(self, f: Any, schema: pa.Schema) -> FileWriter:
        return _JSONLinesWriter(f, schema, self._dumps_options)
