"""JSON files: JSON lines (one object per line, read with ``pyarrow.json``, streaming)
and JSON arrays (a document ``[{...}, {...}]``, parsed whole).

Values that change type between lines, or nested lists/objects pyarrow cannot give one
type, are read as Ray's ``read_json(lines=True)`` reads them: the file falls back to
Python's parser, and a column whose values have no common Arrow type holds Python
objects (``{"a": 1}`` then ``{"a": "x"}`` gives ``a`` as ``1`` and ``'x'``). With
``parse_options.explicit_schema`` there is no fallback: a mismatch is an error.

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

import json as pyjson
from typing import Any, Iterator

import pyarrow as pa

from streamdata.errors import DataSourceError, PlanError
from streamdata.io.file_datasink import FileDatasink, FileWriter
from streamdata.io.file_datasource import FileBasedDatasource, FileSplit
from streamdata.io.file_options import reader_options
from streamdata.io.filesystem import unstrip
from streamdata import block


def _options(kind: str, value: Any) -> Any:
    import pyarrow.json as pajson

    classes = {"read": pajson.ReadOptions, "parse": pajson.ParseOptions}
    return reader_options("JSON", kind, classes[kind], value)


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
        done = 0  # rows already yielded (a fallback resumes after them)
        with self.open_input(fs, split) as f:
            try:
                reader = pajson.open_json(f, read_options=self._read_options, parse_options=self._parse_options)
                for batch in reader:
                    table = pa.Table.from_batches([batch])
                    if wanted is not None:
                        table = table.select([c for c in wanted if c in table.column_names])
                    done += table.num_rows
                    yield table
                return
            except pa.ArrowInvalid as exc:
                if self._parse_options.explicit_schema is not None:
                    raise self._line_error(fs, split, str(exc)) from exc
        # pyarrow needs one type per column; values that change type between rows (or
        # nested values it cannot unify) are read with Python's parser, like Ray's
        # ``read_json(lines=True)``: such columns hold Python objects
        yield from self._read_lines_python(fs, split, skip=done, wanted=wanted)

    def _read_lines_python(self, fs: Any, split: FileSplit, *, skip: int,
                           wanted: list[str] | None) -> Iterator[pa.Table]:
        """The slow path: one ``json.loads`` per line, tables of about ``block_size`` bytes."""
        where = unstrip(fs, split.path)
        limit = max(1, int(self._read_options.block_size or (1 << 20)))
        rows: list[dict[str, Any]] = []
        size = 0
        seen = 0
        with self.open_input(fs, split) as f:
            for number, raw in enumerate(f, start=1):
                line = raw.strip()
                if not line:
                    continue
                seen += 1
                if seen <= skip:
                    continue
                rows.append(self._parse_line(where, number, line))
                size += len(line)
                if size >= limit:
                    yield self._rows_table(where, rows, wanted)
                    rows, size = [], 0
        if rows:
            yield self._rows_table(where, rows, wanted)

    @staticmethod
    def _parse_line(where: str, number: int, line: bytes) -> dict[str, Any]:
        try:
            value = pyjson.loads(line)
        except ValueError as exc:
            msg = getattr(exc, "msg", str(exc))
            raise DataSourceError(f"{where}: line {number} is not valid JSON ({msg}): "
                                  f"{line[:200].decode(errors='replace')!r}", path=where) from None
        if not isinstance(value, dict):
            raise DataSourceError(f"{where}: line {number} is a JSON {type(value).__name__}, "
                                  f"expected an object: {line[:200].decode(errors='replace')!r}",
                                  path=where)
        return value

    @staticmethod
    def _rows_table(where: str, rows: list[dict[str, Any]], wanted: list[str] | None) -> pa.Table:
        table = block.rows_to_table(rows, what=f"JSON file {where}")
        if wanted is not None:
            table = table.select([c for c in wanted if c in table.column_names])
        return table

    def _line_error(self, fs: Any, split: FileSplit, arrow_message: str) -> DataSourceError:
        """Find the malformed line with Python's parser (slow path, on error only)."""
        where = unstrip(fs, split.path)
        with self.open_input(fs, split) as f:
            for number, raw in enumerate(f, start=1):
                line = raw.strip()
                if line:
                    try:
                        self._parse_line(where, number, line)
                    except DataSourceError as exc:
                        return exc
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
                 min_rows_per_file: int | None = None,
                 max_rows_per_file: int | None = None, **dumps_options: Any) -> None:
        super().__init__(path, filesystem=filesystem, mode=mode, max_rows_per_file=max_rows_per_file,
                         min_rows_per_file=min_rows_per_file)
        try:
            pyjson.dumps({}, **dumps_options)
        except TypeError as exc:
            raise PlanError(f"invalid JSON option: {exc}") from exc
        self._dumps_options = dumps_options

    def open_writer(self, f: Any, schema: pa.Schema) -> FileWriter:
        return _JSONLinesWriter(f, schema, self._dumps_options)
