"""A FileBasedDatasource written for Ray (``_read_stream(f, path)``) reads through streamdata."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.datasource import FileBasedDatasource


pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module


class LineLengths(FileBasedDatasource):
    """One row per line: the file's name, the line, and its length (mixed block kinds)."""

    def __init__(self, paths: Any, *, upper: bool) -> None:
        super().__init__(paths, file_extensions=["txt"])
        self.upper = upper

    def _read_stream(self, f: pa.NativeFile, path: str) -> Iterator[Any]:
        lines = f.readall().decode().splitlines()
        if self.upper:
            lines = [line.upper() for line in lines]
        name = path.rsplit("/", 1)[-1]
        yield pa.table({"file": [name] * len(lines[:1]), "line": lines[:1]})
        yield pd.DataFrame({"file": [name] * len(lines[1:]), "line": lines[1:]})


def test_read_stream_subclass_reads_each_file(tmp_path) -> None:
    (tmp_path / "a.txt").write_text("x\nyy\nzzz\n")
    (tmp_path / "b.txt").write_text("q\n")
    (tmp_path / "skip.csv").write_text("not,read\n")
    rows = sd.read_datasource(LineLengths(str(tmp_path), upper=True)).take_all()
    assert sorted((r["file"], r["line"]) for r in rows) == [
        ("a.txt", "X"), ("a.txt", "YY"), ("a.txt", "ZZZ"), ("b.txt", "Q")]


def test_read_stream_bad_block_names_the_file(tmp_path) -> None:
    class Bad(FileBasedDatasource):
        def _read_stream(self, f: pa.NativeFile, path: str) -> Iterator[Any]:
            yield 42

    (tmp_path / "c.txt").write_text("c\n")
    with pytest.raises(Exception, match=r"Bad._read_stream on .*c.txt returned int"):
        sd.read_datasource(Bad(str(tmp_path / "c.txt"))).take_all()


def test_subclass_without_a_reader_says_what_to_implement(tmp_path) -> None:
    class Empty(FileBasedDatasource):
        pass

    (tmp_path / "d.txt").write_text("d\n")
    with pytest.raises(Exception, match=r"Empty must implement read_split\(\) \(or Ray's _read_stream"):
        sd.read_datasource(Empty(str(tmp_path / "d.txt"))).take_all()
