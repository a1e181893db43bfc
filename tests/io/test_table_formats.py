"""Lance, Iceberg and Delta Lake tables, read and written through the engine against the real libraries."""

from __future__ import annotations

import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.errors import ColumnNotFoundError, DataSourceError, DestinationExistsError, SchemaError
from tests.io.io_testutil import read_table


@pytest.fixture(scope="module", autouse=True)
def runtime():
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    yield
    sd.shutdown()


def _rows(n, start=0):
    return [{"id": i, "name": f"n{i}", "group": i % 3} for i in range(start, start + n)]


# ---------------------------------------------------------------------------- Lance


def test_lance_roundtrip_pushdown_and_modes(tmp_path):
    lance = pytest.importorskip("lance")
    from streamdata.io.lance import LanceDatasource

    uri = str(tmp_path / "t.lance")
    sd.from_items(_rows(300), override_num_blocks=3).write_lance(uri)
    assert lance.dataset(uri).count_rows() == 300
    assert len(lance.dataset(uri).get_fragments()) >= 3  # one commit, a fragment per block
    assert lance.dataset(uri).version == 1
    ds = sd.read_lance(uri)
    assert ds.count() == 300 and sorted(ds.schema().names) == ["group", "id", "name"]
    src = LanceDatasource(uri)
    assert len(src.get_read_tasks(3)) == 3 and src.num_rows() == 300
    # columns + Lance SQL filter, and engine filters/projections pushed into the scan
    got = sd.read_lance(uri, columns=["id"], filter="id < 10").take_all()
    assert sorted(r["id"] for r in got) == list(range(10)) and set(got[0]) == {"id"}
    ds = sd.read_lance(uri).filter(expr=sd.col("group") == 1).select_columns(["id"])
    assert sorted(r["id"] for r in ds.take_all()) == [i for i in range(300) if i % 3 == 1]
    # modes: create refuses an existing dataset; append adds a version; overwrite replaces
    with pytest.raises(DestinationExistsError, match="t.lance already exists"):
        sd.from_items(_rows(1)).write_lance(uri)
    sd.from_items(_rows(10, 300)).write_lance(uri, mode="append")
    assert lance.dataset(uri).count_rows() == 310
    sd.from_items(_rows(5)).write_lance(uri, mode="overwrite")
    assert lance.dataset(uri).count_rows() == 5
    assert sd.read_lance(uri, version=2).count() == 310  # older versions stay readable


def test_lance_errors(tmp_path):
    pytest.importorskip("lance")
    with pytest.raises(DataSourceError, match="cannot open Lance dataset .*nothing.lance"):
        sd.read_lance(str(tmp_path / "nothing.lance"))
    uri = str(tmp_path / "t.lance")
    sd.from_items(_rows(5)).write_lance(uri)
    with pytest.raises(ColumnNotFoundError, match="nope"):
        sd.read_lance(uri, columns=["nope"])
    # a failing write task commits nothing: the dataset keeps its version and rows
    import lance

    def boom(row):
        if row["id"] == 7:
            raise ValueError("bad row 7")
        return row

    with pytest.raises(ValueError, match="bad row 7"):
        sd.from_items(_rows(10), override_num_blocks=2).map(boom).write_lance(uri, mode="append")
    assert lance.dataset(uri).version == 1 and lance.dataset(uri).count_rows() == 5


# ---------------------------------------------------------------------------- Iceberg


@pytest.fixture
def iceberg_catalog(tmp_path):
    pytest.importorskip("pyiceberg")
    from pyiceberg.catalog import load_catalog

    kwargs = {"name": "local", "type": "sql", "uri": f"sqlite:///{tmp_path}/catalog.db",
              "warehouse": f"file://{tmp_path}/warehouse"}
    catalog = load_catalog(**kwargs)
    catalog.create_namespace("db")
    schema = pa.schema([("id", pa.int64()), ("name", pa.string()), ("group", pa.int64())])
    catalog.create_table("db.items", schema=schema)
    return kwargs


def test_iceberg_roundtrip_and_scan_options(iceberg_catalog):
    from pyiceberg.catalog import load_catalog

    from streamdata.io.iceberg import IcebergDatasource

    for start in (0, 100, 200):  # three snapshots, three data files at least
        sd.from_items(_rows(100, start), override_num_blocks=2).write_iceberg("db.items",
                                                                            catalog_kwargs=iceberg_catalog)
    table = load_catalog(**iceberg_catalog).load_table("db.items")
    assert len(table.snapshots()) == 3 and table.scan().to_arrow().num_rows == 300
    ds = sd.read_iceberg(table_identifier="db.items", catalog_kwargs=iceberg_catalog)
    assert ds.count() == 300
    src = IcebergDatasource("db.items", catalog_kwargs=iceberg_catalog)
    assert len(src.get_read_tasks(4)) == 4
    got = sd.read_iceberg(table_identifier="db.items", catalog_kwargs=iceberg_catalog, row_filter="id >= 250",
                          selected_fields=("id",)).take_all()
    assert sorted(r["id"] for r in got) == list(range(250, 300)) and set(got[0]) == {"id"}
    first = table.snapshots()[0].snapshot_id
    assert sd.read_iceberg(table_identifier="db.items", catalog_kwargs=iceberg_catalog,
                           snapshot_id=first).count() == 100
    ds = sd.read_iceberg(table_identifier="db.items", catalog_kwargs=iceberg_catalog).select_columns(["name"])
    assert len(ds.take_all()) == 300 and set(ds.take(1)[0]) == {"name"}
    assert read_table(src.apply_projection(["name"]), 2).column_names == ["name"]
    # engine filters: the convertible part prunes data files, the whole predicate is exact
    all_files = {f for t in src.get_read_tasks(8) for f in t.metadata.input_files}
    pushed = src.apply_predicate((sd.col("id") >= 250) & ((sd.col("id") % 2) == 0))
    kept = {f for t in pushed.get_read_tasks(8) for f in t.metadata.input_files}
    assert 0 < len(kept) < len(all_files)
    assert sorted(read_table(pushed, 2).column("id").to_pylist()) == list(range(250, 300, 2))
    ds = sd.read_iceberg(table_identifier="db.items", catalog_kwargs=iceberg_catalog, selected_fields=("name",),
                         row_filter="group = 1")
    with pytest.raises(ColumnNotFoundError, match="id"):  # 'id' is not among the selected fields
        ds.filter(expr=(sd.col("id") < 10))  # known from the schema: fails when the plan is built
    got = sd.read_iceberg(table_identifier="db.items", catalog_kwargs=iceberg_catalog, row_filter="group = 1") \
        .filter(expr=sd.col("id") < 10).select_columns(["name"]).take_all()
    assert sorted(r["name"] for r in got) == ["n1", "n4", "n7"]
    # overwrite replaces everything, in one more snapshot
    sd.from_items(_rows(7)).write_iceberg("db.items", catalog_kwargs=iceberg_catalog, mode="overwrite")
    assert sd.read_iceberg(table_identifier="db.items", catalog_kwargs=iceberg_catalog).count() == 7


def test_iceberg_errors(iceberg_catalog):
    from pyiceberg.catalog import load_catalog

    with pytest.raises(DataSourceError, match="cannot load Iceberg table db.missing"):
        sd.read_iceberg(table_identifier="db.missing", catalog_kwargs=iceberg_catalog)
    with pytest.raises(SchemaError, match="does not fit Iceberg table db.items"):
        sd.from_items([{"other": 1.5}]).write_iceberg("db.items", catalog_kwargs=iceberg_catalog)
    with pytest.raises(NotImplementedError, match="upsert"):
        sd.from_items(_rows(1)).write_iceberg("db.items", catalog_kwargs=iceberg_catalog, mode="upsert")

    def boom(row):
        if row["id"] == 3:
            raise ValueError("bad row 3")
        return row

    with pytest.raises(ValueError, match="bad row 3"):
        sd.from_items(_rows(10), override_num_blocks=2).map(boom).write_iceberg("db.items",
                                                                                catalog_kwargs=iceberg_catalog)
    assert load_catalog(**iceberg_catalog).load_table("db.items").snapshots() == []


# ---------------------------------------------------------------------------- Delta


def test_delta_roundtrip_partitions_versions(tmp_path):
    deltalake = pytest.importorskip("deltalake")
    path = str(tmp_path / "delta")
    sd.from_items(_rows(90), override_num_blocks=3).write_delta(path, partition_by=["group"])
    dt = deltalake.DeltaTable(path)
    assert dt.version() == 0 and dt.to_pyarrow_table().num_rows == 90
    assert sorted(dt.metadata().partition_columns) == ["group"]
    ds = sd.read_delta(path)
    rows = ds.take_all()
    assert len(rows) == 90 and sorted(r["id"] for r in rows) == list(range(90))
    assert all(r["group"] == r["id"] % 3 for r in rows)
    assert sorted(r["id"] for r in sd.read_delta(path).filter(expr=sd.col("id") > 85).take_all()) == [86, 87, 88, 89]
    assert sd.read_delta(path, columns=["id"]).schema().names == ["id"]
    sd.from_items(_rows(10, 90)).write_delta(path, partition_by=["group"])
    assert deltalake.DeltaTable(path).to_pyarrow_table().num_rows == 100
    assert sd.read_delta(path).count() == 100 and sd.read_delta(path, version=0).count() == 90
    sd.from_items(_rows(4)).write_delta(path, mode="overwrite", partition_by=["group"])
    assert deltalake.DeltaTable(path).to_pyarrow_table().num_rows == 4
    with pytest.raises(DestinationExistsError, match="already exists"):
        sd.from_items(_rows(1)).write_delta(path, mode="error")
    # a table written by deltalake itself reads the same
    other = str(tmp_path / "other")
    deltalake.write_deltalake(other, pa.table({"a": list(range(50))}))
    assert sd.read_delta(other).sum("a") == sum(range(50))


def test_delta_errors_leave_nothing(tmp_path):
    pytest.importorskip("deltalake")
    with pytest.raises(DataSourceError, match="cannot open Delta table .*missing"):
        sd.read_delta(str(tmp_path / "missing"))
    path = tmp_path / "d"

    def boom(row):
        if row["id"] == 5:
            raise ValueError("bad row 5")
        return row

    with pytest.raises(ValueError, match="bad row 5"):
        sd.from_items(_rows(20), override_num_blocks=2).map(boom).write_delta(str(path))
    assert not path.exists() or not any(p.suffix == ".parquet" for p in path.rglob("*"))
    assert not (path / "_delta_log").exists()
    with pytest.raises(SchemaError, match="partition column 'nope'"):
        sd.from_items(_rows(3)).write_delta(str(path), partition_by=["nope"])
    assert not (path / "_delta_log").exists()


def test_delta_schema_checks(tmp_path):
    deltalake = pytest.importorskip("deltalake")
    path = str(tmp_path / "d")
    sd.from_items([{"id": 1, "name": "a"}]).write_delta(path)
    with pytest.raises(SchemaError, match="column 'id' holds string, the table has int64"):
        sd.from_items([{"id": "x", "name": "b"}]).write_delta(path)
    with pytest.raises(SchemaError, match=r"columns \['zzz'\] are not in the table"):
        sd.from_items([{"id": 3, "zzz": 1}]).write_delta(path, schema_mode="error")
    assert deltalake.DeltaTable(path).version() == 0  # the refused writes committed nothing
    assert len(list((tmp_path / "d").glob("*.parquet"))) == 1  # their files were removed
    sd.from_items([{"id": 2, "name": "b", "extra": 1.5}]).write_delta(path)  # merge adds the column
    got = sorted(deltalake.DeltaTable(path).to_pyarrow_table().to_pylist(), key=lambda r: r["id"])
    assert got == [{"id": 1, "name": "a", "extra": None}, {"id": 2, "name": "b", "extra": 1.5}]
    assert sorted(sd.read_delta(path).take_all(), key=lambda r: r["id"]) == got


def _truncate_one(files):
    victim = sorted(files)[0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    return victim


def test_corrupt_data_files_are_named(tmp_path, iceberg_catalog):
    pytest.importorskip("lance")
    pytest.importorskip("deltalake")
    uri = tmp_path / "t.lance"
    sd.from_items(_rows(50), override_num_blocks=2).write_lance(str(uri))
    _truncate_one((uri / "data").glob("*.lance"))
    with pytest.raises(DataSourceError, match="t.lance"):
        sd.read_lance(str(uri)).take_all()
    delta = tmp_path / "delta"
    sd.from_items(_rows(50), override_num_blocks=2).write_delta(str(delta))
    victim = _truncate_one(delta.glob("*.parquet"))
    with pytest.raises(DataSourceError, match=victim.name):
        sd.read_delta(str(delta)).take_all()
    sd.from_items(_rows(50), override_num_blocks=2).write_iceberg("db.items", catalog_kwargs=iceberg_catalog)
    victim = _truncate_one(tmp_path.glob("warehouse/**/*.parquet"))
    with pytest.raises(DataSourceError, match="Iceberg table db.items"):
        sd.read_iceberg(table_identifier="db.items", catalog_kwargs=iceberg_catalog).take_all()
