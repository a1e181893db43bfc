"""read_sql / write_sql against real databases: SQLite (stdlib), DuckDB, and PostgreSQL when installed."""

from __future__ import annotations

import functools
import sqlite3

import pytest

import streamdata as sd
from streamdata.context import DataContext
from streamdata.errors import DataSinkError, DataSourceError, PlanError
from streamdata.io.sql import SQLDatasource
from tests.io.formats_util import postgres_unavailable, start_postgres
from tests.io.io_testutil import read_table, run_tasks


@pytest.fixture(scope="module", autouse=True)
def runtime():
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    yield
    sd.shutdown()


def _sqlite_db(path, n=100):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, price REAL)")
    conn.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, f"n{i}", i * 0.5) for i in range(n)])
    conn.commit()
    conn.close()
    return functools.partial(sqlite3.connect, str(path))


def test_sqlite_read_whole_and_sharded(tmp_path):
    connect = _sqlite_db(tmp_path / "a.db")
    ds = sd.read_sql("SELECT * FROM items", connect)
    rows = ds.take_all()
    assert sorted(r["id"] for r in rows) == list(range(100))
    assert ds.schema().names == ["id", "name", "price"]
    # shard_keys: every row read exactly once, by several tasks
    src = SQLDatasource("SELECT * FROM items", connect, shard_keys=["id"])
    tasks = src.get_read_tasks(4)
    assert len(tasks) == 4
    per_task = [sum(b.num_rows for b in t()) for t in tasks]
    assert sum(per_task) == 100 and sum(1 for c in per_task if c) >= 2
    ds = sd.read_sql("SELECT id, name FROM items WHERE id < 50", connect, shard_keys=["id", "name"],
                     override_num_blocks=3)
    assert sorted(r["id"] for r in ds.take_all()) == list(range(50))
    assert sd.read_sql("SELECT * FROM items WHERE id >= ?", connect, sql_params=(90,)).count() == 10


def test_sqlite_streams_in_blocks(tmp_path):
    connect = _sqlite_db(tmp_path / "a.db", n=5000)
    ctx = DataContext.get_current()
    old = ctx.target_max_block_size
    ctx.target_max_block_size = 16 * 1024
    try:
        blocks, _ = run_tasks(SQLDatasource("SELECT * FROM items", connect), 1)
    finally:
        ctx.target_max_block_size = old
    assert sum(b.num_rows for b in blocks) == 5000
    assert len(blocks) > 3
    assert max(b.nbytes for b in blocks[1:]) <= 2 * 16 * 1024


def test_sqlite_write_roundtrip(tmp_path):
    connect = _sqlite_db(tmp_path / "a.db", n=0)
    ds = sd.from_items([{"id": i, "name": f"x{i}", "price": float(i)} for i in range(30)], override_num_blocks=3)
    ds.write_sql("INSERT INTO items VALUES (?, ?, ?)", connect)
    out = read_table(SQLDatasource("SELECT * FROM items ORDER BY id", connect), 1)
    assert out.column("id").to_pylist() == list(range(30))
    assert out.column("name").to_pylist()[:2] == ["x0", "x1"]


def test_duckdb_read_sharded_and_write(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    path = str(tmp_path / "d.duckdb")
    con = duckdb.connect(path)
    con.execute("CREATE TABLE t AS SELECT range AS id, 'v' || range::VARCHAR AS v FROM range(1000)")
    con.close()
    def connect():  # duckdb.connect itself does not pickle: a function that calls it does
        return duckdb.connect(path, read_only=True)

    # DuckDB's md5 returns text, so MD5 cannot shard: one task reads it all (Ray's fallback)
    assert len(SQLDatasource("SELECT * FROM t", connect, shard_keys=["id"]).get_read_tasks(4)) == 1
    src = SQLDatasource("SELECT * FROM t", connect, shard_keys=["id"], shard_hash_fn="hash")
    assert len(src.get_read_tasks(4)) == 4
    assert sorted(read_table(src, 4).column("id").to_pylist()) == list(range(1000))
    assert sd.read_sql("SELECT * FROM t", connect, shard_keys=["id"], shard_hash_fn="hash").sum("id") == 499500
    # write (one task: DuckDB allows one writing process per file)
    wpath = str(tmp_path / "w.duckdb")
    w = duckdb.connect(wpath)
    w.execute("CREATE TABLE t (id BIGINT, v VARCHAR)")
    w.close()
    sd.from_items([{"id": i, "v": str(i)} for i in range(20)], override_num_blocks=1).write_sql(
        "INSERT INTO t VALUES (?, ?)", lambda: duckdb.connect(wpath))
    assert duckdb.connect(wpath, read_only=True).execute("SELECT sum(id) FROM t").fetchone()[0] == 190


def _broken_factory():
    raise ConnectionRefusedError("no database here")


def test_errors_name_the_query(tmp_path):
    connect = _sqlite_db(tmp_path / "a.db", n=3)
    with pytest.raises(DataSourceError, match=r"connection_factory failed.*SELECT \* FROM items.*no database"):
        sd.read_sql("SELECT * FROM items", _broken_factory).take_all()
    with pytest.raises(DataSourceError, match=r"query 'SELECT \* FROM missing' failed.*no such table"):
        sd.read_sql("SELECT * FROM missing", connect).take_all()
    with pytest.raises(DataSourceError, match="not a DB-API 2 connection"):
        sd.read_sql("SELECT 1", lambda: object()).take_all()
    with pytest.raises(PlanError, match="connection_factory must be a callable"):
        sd.read_sql("SELECT 1", "sqlite:///x.db")
    with pytest.raises(DataSinkError, match="connection_factory failed"):
        sd.range(3).write_sql("INSERT INTO items VALUES (?, ?, ?)", _broken_factory)


def test_failed_write_leaves_nothing(tmp_path):
    connect = _sqlite_db(tmp_path / "a.db", n=0)
    # the third row breaks the primary key: the task's transaction is rolled back
    rows = [{"id": 1, "name": "a", "price": 1.0}, {"id": 2, "name": "b", "price": 2.0},
            {"id": 1, "name": "dup", "price": 3.0}]
    with pytest.raises(DataSinkError, match=r"statement 'INSERT INTO items VALUES \(\?, \?, \?\)' failed.*UNIQUE"):
        sd.from_items(rows, override_num_blocks=1).write_sql("INSERT INTO items VALUES (?, ?, ?)", connect)
    assert read_table(SQLDatasource("SELECT * FROM items", connect), 1).num_rows == 0
    # wrong number of columns for the statement
    with pytest.raises(DataSinkError, match="statement 'INSERT INTO items VALUES"):
        sd.from_items([{"id": 1}], override_num_blocks=1).write_sql("INSERT INTO items VALUES (?, ?, ?)", connect)
    assert read_table(SQLDatasource("SELECT * FROM items", connect), 1).num_rows == 0


@pytest.fixture(scope="module")
def postgres():
    reason = postgres_unavailable()
    if reason:
        pytest.skip(f"no PostgreSQL server for this test: {reason}")
    yield from start_postgres()


def test_postgres_read_write(postgres):
    conn = postgres.connect()
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS people")
    cur.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, score DOUBLE PRECISION)")
    conn.close()
    ds = sd.from_items([{"id": i, "name": f"p{i}", "score": i / 4} for i in range(200)], override_num_blocks=4)
    ds.write_sql("INSERT INTO people VALUES (%s, %s, %s)", postgres.connect)
    src = SQLDatasource("SELECT * FROM people", postgres.connect, shard_keys=["name"], shard_hash_fn="hashtext")
    assert len(src.get_read_tasks(3)) == 3
    out = read_table(src, 3)
    assert sorted(out.column("id").to_pylist()) == list(range(200))
    assert sd.read_sql("SELECT * FROM people", postgres.connect, shard_keys=["name"],
                       shard_hash_fn="hashtext").sum("score") == sum(i / 4 for i in range(200))
    with pytest.raises(DataSourceError, match="query 'SELECT nope FROM people' failed"):
        sd.read_sql("SELECT nope FROM people", postgres.connect).take_all()
    with pytest.raises(DataSinkError, match="duplicate key"):
        sd.from_items([{"id": 500, "name": "x", "score": 0.0}, {"id": 500, "name": "y", "score": 0.0}],
                      override_num_blocks=1).write_sql("INSERT INTO people VALUES (%s, %s, %s)", postgres.connect)
    assert read_table(SQLDatasource("SELECT count(*) AS n FROM people", postgres.connect), 1).to_pylist() == [
        {"n": 200}]
