"""SQL databases over any DB-API 2 connection (``read_sql`` / ``write_sql``, Ray's semantics).

Reading: ``connection_factory`` is called in each read task (connections never cross
processes). With ``shard_keys`` and more than one task, task ``i`` of ``n`` runs
``SELECT * FROM (<sql>) AS T WHERE MOD(ABS(<shard_hash_fn>(<keys>)), n) = i``; a
database that cannot run that expression (probed once on the driver) is read by one
task. Rows stream out with ``cursor.fetchmany`` in blocks sized to the DataContext's
target block size, so a large result never sits in memory whole. SQLite connections
get ``MD5`` (an integer digest) and ``MOD`` registered, so they shard too.

Writing: each write task runs ``cursor.executemany(sql, rows)`` over its blocks in one
transaction, committed at the end of the task and rolled back if any row fails.

Errors name the query: a failing ``connection_factory`` or a failing statement raises
:class:`~streamdata.errors.DataSourceError` (reads) / :class:`~streamdata.errors.DataSinkError`
(writes).

Example:
    >>> import sqlite3, tempfile, os
    >>> db = os.path.join(tempfile.mkdtemp(), "t.db")
    >>> c = sqlite3.connect(db); _ = c.execute("CREATE TABLE t (x INTEGER)")
    >>> _ = c.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)]); c.commit(); c.close()
    >>> src = SQLDatasource("SELECT x FROM t ORDER BY x", lambda: sqlite3.connect(db))
    >>> [b.to_pydict() for t in src.get_read_tasks(1) for b in t()]
    [{'x': [1, 2]}]
"""

from __future__ import annotations

import hashlib
import logging
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

import pyarrow as pa

from streamdata.block_metadata import BlockMetadata
from streamdata.errors import DataSinkError, DataSourceError, PlanError
from streamdata.io.datasink import Datasink
from streamdata.io.datasource import Datasource
from streamdata.io.sizing import target_block_sizes
from streamdata.read_task import ReadTask
from streamdata.write_context import WriteContext

logger = logging.getLogger("streamdata.io")

_FIRST_FETCH = 1024


def _short(sql: str) -> str:
    one = " ".join(sql.split())
    return one if len(one) <= 200 else one[:197] + "..."


def _md5_int(value: Any) -> int:
    data = value if isinstance(value, bytes) else str(value).encode()
    return int.from_bytes(hashlib.md5(data).digest()[:7], "big")


def _prepare_connection(conn: Any) -> None:
    """SQLite lacks MD5 (and MOD before 3.35, CONCAT before 3.44): register them so sharding works."""
    import sqlite3

    if isinstance(conn, sqlite3.Connection):
        conn.create_function("MD5", 1, _md5_int, deterministic=True)
        conn.create_function("MOD", 2, lambda a, b: None if a is None or b is None else a % b,
                             deterministic=True)
        conn.create_function("CONCAT", -1, lambda *a: "".join("" if v is None else str(v) for v in a),
                             deterministic=True)


@contextmanager
def _connect(factory: Callable[[], Any], what: str, error: type[Exception]) -> Iterator[Any]:
    try:
        conn = factory()
    except Exception as exc:  # noqa: BLE001 - named and re-raised
        raise error(f"connection_factory failed for {what}: {type(exc).__name__}: {exc}") from exc
    for attr in ("cursor", "commit", "close"):
        if not callable(getattr(conn, attr, None)):
            conn_close = getattr(conn, "close", None)
            if callable(conn_close):
                conn_close()
            raise error(f"connection_factory returned {type(conn).__name__}, not a DB-API 2 connection "
                        f"(no {attr}()) for {what}")
    try:
        _prepare_connection(conn)
        yield conn
    finally:
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass


def _execute(cursor: Any, sql: str, params: Any) -> None:
    if params is None:
        cursor.execute(sql)
    else:
        cursor.execute(sql, params)


def _rows_to_table(names: list[str], rows: list[tuple]) -> pa.Table:
    columns = list(zip(*rows)) if rows else [() for _ in names]
    arrays = {}
    for name, values in zip(names, columns):
        try:
            arrays[name] = pa.array(list(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: keep them as text
            arrays[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(arrays) if names else pa.table({})


class _SQLReadFn:
    """Runs one (sharded) query in the worker and streams its rows out in blocks."""

    def __init__(self, factory: Callable[[], Any], sql: str, params: Any, shown: str) -> None:
        self.factory, self.sql, self.params, self.shown = factory, sql, params, shown

    def __call__(self) -> Iterator[pa.Table]:
        _, max_bytes = target_block_sizes()
        with _connect(self.factory, f"query {self.shown!r}", DataSourceError) as conn:
            cursor = conn.cursor()
            try:
                try:
                    _execute(cursor, self.sql, self.params)
                except Exception as exc:  # noqa: BLE001
                    raise DataSourceError(f"query {self.shown!r} failed: {type(exc).__name__}: {exc}") from exc
                names = [d[0] for d in (cursor.description or ())]
                batch = _FIRST_FETCH
                produced = False
                while True:
                    try:
                        rows = cursor.fetchmany(batch)
                    except Exception as exc:  # noqa: BLE001
                        raise DataSourceError(f"fetching rows of query {self.shown!r} failed: "
                                              f"{type(exc).__name__}: {exc}") from exc
                    if not rows:
                        break
                    table = _rows_to_table(names, [tuple(r) for r in rows])
                    produced = True
                    yield table
                    per_row = max(1, table.nbytes // max(1, table.num_rows))
                    batch = max(1, min(1_000_000, max_bytes // per_row))
                if not produced:
                    yield _rows_to_table(names, [])
            finally:
                try:
                    cursor.close()
                except Exception:  # noqa: BLE001
                    pass


class SQLDatasource(Datasource):
    """The rows of a SQL query (see the module docstring).

    Args:
        sql: the query.
        connection_factory: a zero-argument callable returning a DB-API 2 connection.
        sql_params: parameters of the query (the driver's paramstyle).
        shard_keys: columns hashed to split the query into read tasks.
        shard_hash_fn: the database's hash function used for sharding (``"MD5"``).
    """

    name = "ReadSQL"

    def __init__(self, sql: str, connection_factory: Callable[[], Any], *, sql_params: Any = None,
                 shard_keys: list[str] | None = None, shard_hash_fn: str = "MD5") -> None:
        if not isinstance(sql, str) or not sql.strip():
            raise PlanError(f"read_sql: sql must be a non-empty string, got {sql!r}")
        if not callable(connection_factory):
            raise PlanError(f"read_sql: connection_factory must be a callable returning a DB-API 2 connection, "
                            f"got {type(connection_factory).__name__}")
        if shard_keys is not None and (isinstance(shard_keys, str) or not shard_keys
                                       or not all(isinstance(k, str) for k in shard_keys)):
            raise PlanError(f"read_sql: shard_keys must be a non-empty list of column names, got {shard_keys!r}")
        self._sql = sql.strip().rstrip(";")
        self._factory = connection_factory
        self._params = sql_params
        self._shard_keys = list(shard_keys) if shard_keys else None
        self._hash_fn = shard_hash_fn

    def _key_expr(self) -> str:
        keys = self._shard_keys or []
        return keys[0] if len(keys) == 1 else f"CONCAT({', '.join(keys)})"

    def _shard_sql(self, index: int, n: int) -> str:
        return (f"SELECT * FROM ({self._sql}) AS T "
                f"WHERE MOD(ABS({self._hash_fn}({self._key_expr()})), {n}) = {index}")

    def _supports_sharding(self, n: int) -> bool:
        if n <= 1 or not self._shard_keys:
            return False
        probe = self._shard_sql(0, n) + " LIMIT 1"
        with _connect(self._factory, f"query {_short(self._sql)!r}", DataSourceError) as conn:
            cursor = conn.cursor()
            try:
                _execute(cursor, probe, self._params)
                cursor.fetchall()
                return True
            except Exception as exc:  # noqa: BLE001 - not shardable: one task reads it all
                logger.info("read_sql: the database cannot shard %r with %s (%s); reading with one task",
                            _short(self._sql), self._hash_fn, exc)
                try:
                    conn.rollback()
                except Exception:  # noqa: BLE001
                    pass
                return False
            finally:
                try:
                    cursor.close()
                except Exception:  # noqa: BLE001
                    pass

    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        shown = _short(self._sql)
        n = max(1, int(parallelism))
        if n > 1 and not self._shard_keys:
            logger.info("read_sql without shard_keys reads with one task (pass shard_keys to split it)")
        if not self._supports_sharding(n):
            return [ReadTask(_SQLReadFn(self._factory, self._sql, self._params, shown), BlockMetadata())]
        return [ReadTask(_SQLReadFn(self._factory, self._shard_sql(i, n), self._params, shown), BlockMetadata())
                for i in range(n)]

    def __repr__(self) -> str:
        return f"ReadSQL({_short(self._sql)!r})"


def _block_rows(table: pa.Table) -> Iterable[tuple]:
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(zip(*cols))


class SQLDatasink(Datasink):
    """Runs ``sql`` (an INSERT with one placeholder per column) over every row.

    Args:
        sql: the statement, in the driver's paramstyle, e.g. ``"INSERT INTO t VALUES (?, ?)"``.
        connection_factory: a zero-argument callable returning a DB-API 2 connection.
    """

    name = "WriteSQL"

    def __init__(self, sql: str, connection_factory: Callable[[], Any]) -> None:
        if not isinstance(sql, str) or not sql.strip():
            raise PlanError(f"write_sql: sql must be a non-empty string, got {sql!r}")
        if not callable(connection_factory):
            raise PlanError(f"write_sql: connection_factory must be a callable returning a DB-API 2 connection, "
                            f"got {type(connection_factory).__name__}")
        self._sql = sql
        self._factory = connection_factory

    def on_write_start(self) -> None:
        """Fail early (on the driver) when the connection cannot be made."""
        with _connect(self._factory, f"statement {_short(self._sql)!r}", DataSinkError):
            pass

    def write(self, blocks: Iterable[pa.Table], ctx: WriteContext) -> dict[str, Any]:
        shown = _short(self._sql)
        total = 0
        with _connect(self._factory, f"statement {shown!r}", DataSinkError) as conn:
            cursor = conn.cursor()
            try:
                for table in blocks:
                    if table.num_rows == 0:
                        continue
                    rows = _block_rows(table)
                    try:
                        cursor.executemany(self._sql, rows)
                    except Exception as exc:  # noqa: BLE001
                        raise DataSinkError(
                            f"statement {shown!r} failed on a block of {table.num_rows} rows with columns "
                            f"{table.column_names} (first row {rows[0]!r}): {type(exc).__name__}: {exc}") from exc
                    total += table.num_rows
                conn.commit()
            except BaseException:
                try:
                    conn.rollback()
                except Exception:  # noqa: BLE001
                    pass
                raise
            finally:
                try:
                    cursor.close()
                except Exception:  # noqa: BLE001
                    pass
        return {"num_rows": total}

    def __repr__(self) -> str:
        return f"WriteSQL({_short(self._sql)!r})"
