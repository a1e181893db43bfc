"""Path resolution and listing on local, memory, pyarrow and S3 (moto) filesystems."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from fsspec.implementations.local import LocalFileSystem

from streamdata.errors import DataSourceError, PlanError
from streamdata.io.filesystem import expand_paths, resolve_filesystem, to_arrow_filesystem, to_fsspec
from streamdata.io.partitioning import Partitioning, add_partition_columns, normalize_partitioning, partition_values


def touch(path: Path, data: bytes = b"x\n1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def listed(paths, filesystem=None, **kw) -> list[str]:
    fs, resolved = resolve_filesystem(paths, filesystem)
    return [f.path for f in expand_paths(fs, resolved, **kw)]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for rel in ["b.csv", "a.csv", "sub/c.csv", "sub/deeper/d.json", "_SUCCESS", ".hidden.csv",
                "_tmp/e.csv", ".staging-123/f.csv", "sub/_meta/g.csv"]:
        touch(tmp_path / "data" / rel)
    return tmp_path / "data"


def test_directory_is_recursive_sorted_and_skips_hidden(tree: Path):
    assert listed(str(tree)) == [str(tree / p) for p in ["a.csv", "b.csv", "sub/c.csv", "sub/deeper/d.json"]]


def test_file_urls_relative_paths_and_pathlike(tree: Path, monkeypatch):
    assert listed(f"file://{tree}/a.csv") == [str(tree / "a.csv")]
    monkeypatch.chdir(tree)
    assert listed("sub/c.csv") == [str(tree / "sub/c.csv")]
    assert listed(tree / "a.csv") == [str(tree / "a.csv")]


def test_glob_and_extension_filter(tree: Path):
    assert listed(str(tree / "*.csv")) == [str(tree / "a.csv"), str(tree / "b.csv")]
    assert listed(str(tree / "**" / "*.json")) == [str(tree / "sub/deeper/d.json")]
    assert listed(str(tree), file_extensions=["json"]) == [str(tree / "sub/deeper/d.json")]


def test_list_keeps_order_and_explicit_hidden_files(tree: Path):
    out = listed([str(tree / "sub"), str(tree / "_tmp/e.csv"), str(tree / "a.csv")])
    assert out == [str(tree / "sub/c.csv"), str(tree / "sub/deeper/d.json"), str(tree / "_tmp/e.csv"),
                   str(tree / "a.csv")]


def test_missing_path_names_it(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nope"):
        listed(str(tmp_path / "nope"))
    touch(tmp_path / "real.csv")
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        listed([str(tmp_path / "real.csv"), str(tmp_path / "missing.csv")])


def test_empty_directory_is_a_clear_error(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataSourceError, match="no files to read"):
        listed(str(tmp_path / "empty"))
    touch(tmp_path / "only_hidden" / "_SUCCESS")
    with pytest.raises(DataSourceError, match="ignored"):
        listed(str(tmp_path / "only_hidden"))


def test_bad_path_arguments():
    with pytest.raises(PlanError):
        resolve_filesystem([])


@pytest.mark.parametrize("paths", ["", "  ", ["data.csv", ""]])
def test_an_empty_path_is_refused_not_read_as_the_working_directory(paths):
    with pytest.raises(PlanError, match="must not be empty"):
        resolve_filesystem(paths)
    with pytest.raises(PlanError, match="one filesystem"):
        resolve_filesystem(["s3://b/k", "memory://x"])
    with pytest.raises(PlanError):
        resolve_filesystem([1])


def test_memory_filesystem(memfs):
    for name in ["x/1.csv", "x/2.csv", "x/_skip.csv"]:
        memfs.pipe(f"/{name}", b"a\n1\n")
    assert listed("memory://x") == ["/x/1.csv", "/x/2.csv"]
    with pytest.raises(FileNotFoundError, match="memory://"):
        listed("memory://nothing-here")


def test_pyarrow_filesystems(tree: Path):
    assert listed(str(tree / "sub"), filesystem=pafs.LocalFileSystem()) == [
        str(tree / "sub/c.csv"), str(tree / "sub/deeper/d.json")]
    sub = pafs.SubTreeFileSystem(str(tree), pafs.LocalFileSystem())
    assert listed("sub", filesystem=sub) == ["sub/c.csv", "sub/deeper/d.json"]
    fs = to_fsspec(sub)
    assert isinstance(to_arrow_filesystem(fs), pafs.SubTreeFileSystem)
    wrapped = pafs.PyFileSystem(pafs.FSSpecHandler(fsspec.filesystem("file")))
    assert isinstance(to_fsspec(wrapped), LocalFileSystem)
    with pytest.raises(PlanError):
        to_fsspec(object())


class CountingLocalFileSystem(LocalFileSystem):
    """The real local filesystem, counting the listing and metadata calls made of it
    (calls it makes of itself, as ``ls`` calling ``info`` per entry, are not counted)."""

    cachable = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: dict[str, int] = {}
        self._depth = 0

    def _counted(self, name: str, fn, *args, **kwargs):
        if self._depth == 0:
            self.calls[name] = self.calls.get(name, 0) + 1
        self._depth += 1
        try:
            return fn(*args, **kwargs)
        finally:
            self._depth -= 1

    def ls(self, *args, **kwargs):
        return self._counted("ls", super().ls, *args, **kwargs)

    def info(self, *args, **kwargs):
        return self._counted("info", super().info, *args, **kwargs)

    def find(self, *args, **kwargs):
        return self._counted("find", super().find, *args, **kwargs)


def test_explicit_file_lists_are_listed_in_one_call_per_directory(tmp_path: Path):
    files = [str(touch(tmp_path / f"f{i:03d}.csv")) for i in range(200)]
    fs = CountingLocalFileSystem()
    found = expand_paths(fs, files)
    assert [f.path for f in found] == files
    assert all(f.size == 4 for f in found)
    assert fs.calls == {"ls": 1}


def test_hive_partition_values_are_strings_unless_field_types_type_them():
    paths = ["/d/year=2023/city=paris/a", "/d/year=2024/city=new%20york/b",
             "/d/year=2024/city=__HIVE_DEFAULT_PARTITION__/c"]
    schema, values = partition_values(Partitioning(), paths)  # as Ray: no inference
    assert schema == pa.schema([("year", pa.string()), ("city", pa.string())])
    assert values == [{"year": "2023", "city": "paris"}, {"year": "2024", "city": "new york"},
                      {"year": "2024", "city": None}]
    schema, values = partition_values(Partitioning(field_types={"year": int}), paths[:1])
    assert schema.field("year").type == pa.int64() and values[0]["year"] == 2023
    schema, values = partition_values(Partitioning(field_types={"v": float}), ["/x/v=1.5/a", "/x/v=2/b"])
    assert schema.field("v").type == pa.float64() and [v["v"] for v in values] == [1.5, 2.0]
    assert partition_values(None, ["/x/v=1/a"]) == (pa.schema([]), [{}])
    with pytest.raises(PlanError):
        normalize_partitioning("directory")
    table = add_partition_columns(pa.table({"x": [1, 2]}), schema, {"v": 1.5})
    assert table.to_pydict() == {"x": [1, 2], "v": [1.5, 1.5]}


# ---------------------------------------------------------------------------- S3 (moto server)


def test_s3_listing_and_errors(s3_server):
    s3_server.bucket("fs-list")
    fs = fsspec.filesystem("s3", endpoint_url=s3_server.endpoint)
    fs.pipe({f"fs-list/data/p{i}.csv": b"a\n1\n" for i in range(3)} | {"fs-list/data/_SUCCESS": b""})
    assert listed("s3://fs-list/data") == [f"fs-list/data/p{i}.csv" for i in range(3)]
    assert listed("s3://fs-list/data/p1.csv") == ["fs-list/data/p1.csv"]
    assert listed("s3://fs-list/data/p[02].csv") == ["fs-list/data/p0.csv", "fs-list/data/p2.csv"]
    assert listed(["s3://fs-list/data/p2.csv", "s3://fs-list/data/p0.csv"]) == [
        "fs-list/data/p2.csv", "fs-list/data/p0.csv"]
    with pytest.raises(FileNotFoundError, match="s3://no-such-bucket/x"):
        listed("s3://no-such-bucket/x")
    with pytest.raises(FileNotFoundError, match="s3://fs-list/missing"):
        listed("s3://fs-list/missing")


def test_s3_anonymous_access(s3_server):
    s3_server.bucket("fs-public", public=True)
    s3_server.bucket("fs-private")
    for bucket in ("fs-public", "fs-private"):
        s3_server.client.put_object(Bucket=bucket, Key="k/obj.csv", Body=b"a\n1\n")
    fs, paths = resolve_filesystem("s3://anonymous@fs-public/k")
    assert fs.anon and paths == ["fs-public/k"]
    assert [f.path for f in expand_paths(fs, paths)] == ["fs-public/k/obj.csv"]
    assert fs.cat("fs-public/k/obj.csv") == b"a\n1\n"
    # unsigned reads of a private object are refused by the server
    with pytest.raises(PermissionError):
        fs.cat("fs-private/k/obj.csv")


def test_s3_thousands_of_files_are_listed_without_per_file_requests(s3_many_csvs):
    rfs, paths = resolve_filesystem(s3_many_csvs)
    rfs.connect()
    calls: list[str] = []

    def count(event_name: str, **kwargs) -> None:
        calls.append(event_name.rsplit(".", 1)[-1])

    rfs.s3.meta.events.register("before-call.s3", count)
    try:
        found = expand_paths(rfs, paths)
    finally:
        rfs.s3.meta.events.unregister("before-call.s3", count)
    assert len(found) == 2000 and all(f.size > 0 for f in found)
    # one paginated listing: ListObjectsV2 pages of 1000 keys, no per-file HEAD
    assert set(calls) == {"ListObjectsV2"} and len(calls) <= 3
