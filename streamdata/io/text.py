"""Text files: one row per line, in column ``text``.

Lines are split on ``\\n`` (a trailing ``\\r`` is dropped); empty lines are dropped
unless ``drop_empty_lines=False`` (as in Ray). Compressed files are decompressed by
extension.

Example:
    >>> import fsspec
    >>> fsspec.filesystem("memory").pipe("/doc/text/a.txt", b"hello\\r\\n\\nworld\\n")
    >>> src = TextDatasource("memory://doc/text/a.txt")
    >>> [b.to_pydict() for t in src.get_read_tasks(1) for b in t()]
    [{'text': ['hello', 'world']}]
"""

from __future__ import annotations

from typing import Any, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from streamdata.errors import DataSourceError
from streamdata.io.file_datasource import FileBasedDatasource, FileSplit
from streamdata.io.filesystem import unstrip


class TextDatasource(FileBasedDatasource):
    """Lines of text files (see the module docstring)."""

    name = "ReadText"
    encoding_ratio = 1.3

    def __init__(self, paths: Any, *, encoding: str = "utf-8", drop_empty_lines: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(paths, **kwargs)
        self._encoding = encoding
        self._drop_empty_lines = drop_empty_lines

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        with self.open_input(fs, split) as f:
            data = f.read()
        try:
            text = data.decode(self._encoding)
        except UnicodeDecodeError as exc:
            where = unstrip(fs, split.path)
            line = data[: exc.start].count(b"\n") + 1
            raise DataSourceError(f"{where}: line {line} is not valid {self._encoding} ({exc.reason})",
                                  path=where) from exc
        del data
        if not text:
            return
        lines = pc.split_pattern(pa.array([text], type=pa.large_string()), "\n").flatten()
        del text
        lines = pc.utf8_rtrim(lines, characters="\r")
        if self._drop_empty_lines:
            lines = lines.filter(pc.not_equal(pc.utf8_length(lines), 0))
        elif len(lines) and lines[len(lines) - 1].as_py() == "":
            lines = lines.slice(0, len(lines) - 1)  # the newline ending the last line ends no new line
        lines = lines.cast(pa.string()) if lines.nbytes < 2**31 - 1 else lines
        table = pa.table({"text": lines})
        if self.physical_columns() == []:
            table = table.select([])
        yield table
