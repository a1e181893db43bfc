"""``download(uri_column)``: the bytes behind each URI of a column, fetched concurrently.

URIs are read over fsspec (local paths, ``file://``, ``s3://`` with ``AWS_ENDPOINT_URL``
honoured, ``http(s)://``, ``memory://``...) or over the ``filesystem`` given (fsspec or
``pyarrow.fs``), by a pool of threads, each URI retried on transient errors with
exponential backoff. A null URI gives a null value; a missing file raises
``FileNotFoundError`` naming the URI; any other failure after the retries
:class:`~streamdata.errors.DataSourceError` naming it.

Example:
    >>> import os, tempfile, pyarrow as pa
    >>> path = os.path.join(tempfile.mkdtemp(), "a.txt")
    >>> _ = open(path, "wb").write(b"hello")
    >>> download("uri").evaluate(pa.table({"uri": [path, None]})).to_pylist()
    [b'hello', None]
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from streamdata.context import env_str
from streamdata.errors import DataSourceError
from streamdata.expressions.core import ArrowValue, ColumnExpr, EvalContext, Expr

#: threads fetching the URIs of one block
MAX_CONCURRENCY = 16
#: tries per URI (transient errors only)
MAX_ATTEMPTS = 3
_BACKOFF_S = 0.2


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class DownloadExpr(Expr):
    """The bytes at the URIs of column ``uri_column_name`` (large_binary)."""

    uri_column_name: str
    filesystem: Any = None

    _arrow = False

    def __post_init__(self) -> None:
        if not isinstance(self.uri_column_name, str) or not self.uri_column_name:
            raise TypeError(f"download() takes the name of a URI column, got {self.uri_column_name!r}")

    def children(self) -> tuple[Expr, ...]:
        return (ColumnExpr(name=self.uri_column_name),)

    def with_children(self, children: tuple[Expr, ...]) -> Expr:
        child = children[0]
        if not isinstance(child, ColumnExpr):
            raise TypeError(f"download() reads a column by name, not {child.compact()}")
        return DownloadExpr(uri_column_name=child.name, filesystem=self.filesystem)

    def key(self) -> tuple:
        return ("download", self.uri_column_name, id(self.filesystem) if self.filesystem is not None else None)

    def get_type(self, input_schema: pa.Schema) -> pa.DataType:
        return pa.large_binary()

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        uris = ColumnExpr(name=self.uri_column_name)._eval(table, ctx).to_pylist()
        return pa.array(fetch_all(uris, self.filesystem), type=pa.large_binary())

    def compact(self) -> str:
        return f"download({self.uri_column_name!r})"

    def _tree(self) -> tuple[str, tuple]:
        return f"DOWNLOAD({self.uri_column_name!r})", ()


def fetch_all(uris: list[str | None], filesystem: Any = None) -> list[bytes | None]:
    """The bytes of each URI (None for None), fetched by up to :data:`MAX_CONCURRENCY` threads."""
    for u in uris:
        if u is not None and not isinstance(u, str):
            raise TypeError(f"download() needs string URIs, got {type(u).__name__}: {u!r}")
    todo = [i for i, u in enumerate(uris) if u is not None]
    out: list[bytes | None] = [None] * len(uris)
    if not todo:
        return out
    resolver = _Resolver(filesystem)
    if len(todo) == 1:
        out[todo[0]] = _fetch(uris[todo[0]], resolver)  # type: ignore[arg-type]
        return out
    from concurrent.futures import ThreadPoolExecutor  # only when there is something to fetch

    with ThreadPoolExecutor(max_workers=min(MAX_CONCURRENCY, len(todo)),
                            thread_name_prefix="sd-download") as pool:
        for i, data in zip(todo, pool.map(lambda i: _fetch(uris[i], resolver), todo)):  # type: ignore[arg-type]
            out[i] = data
    return out


class _Resolver:
    """The filesystem of each URI's scheme, made once per block."""

    def __init__(self, filesystem: Any) -> None:
        self.filesystem = filesystem
        self._by_scheme: dict[str, Any] = {}
        self._lock = threading.Lock()

    def open(self, uri: str) -> tuple[Any, str]:
        if self.filesystem is not None:
            return self.filesystem, _strip_scheme(uri) if _is_pyarrow(self.filesystem) else uri
        import fsspec

        scheme = uri.split("://", 1)[0] if "://" in uri else "file"
        with self._lock:
            fs = self._by_scheme.get(scheme)
            if fs is None:
                options: dict[str, Any] = {}
                if scheme in ("s3", "s3a"):
                    endpoint = env_str("AWS_ENDPOINT_URL_S3") or env_str("AWS_ENDPOINT_URL")
                    if endpoint:
                        options["endpoint_url"] = endpoint
                fs = self._by_scheme[scheme] = fsspec.filesystem(scheme, **options)
        return fs, uri


def _is_pyarrow(fs: Any) -> bool:
    return type(fs).__module__.startswith("pyarrow")


def _strip_scheme(uri: str) -> str:
    return uri.split("://", 1)[1] if "://" in uri and not uri.startswith("file://") else uri.removeprefix("file://")


def _read(fs: Any, path: str) -> bytes:
    if _is_pyarrow(fs):
        with fs.open_input_stream(path) as f:
            return f.read()
    return fs.cat_file(path)


def _fetch(uri: str, resolver: _Resolver) -> bytes:
    delay = _BACKOFF_S
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            fs, path = resolver.open(uri)
            return _read(fs, path)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"download(): no such file {uri!r} ({exc})") from exc
        except (IsADirectoryError, PermissionError, ValueError, TypeError) as exc:
            raise DataSourceError(f"download() cannot read {uri!r}: {exc}", path=uri) from exc
        except Exception as exc:  # noqa: BLE001 - network errors differ per filesystem
            if attempt == MAX_ATTEMPTS:
                raise DataSourceError(f"download() failed for {uri!r} after {attempt} attempts: "
                                      f"{type(exc).__name__}: {exc}", path=uri) from exc
            time.sleep(delay)  # backoff before retrying a transient failure
            delay *= 2
    raise AssertionError("unreachable")


def download(uri_column_name: str, *, filesystem: Any = None) -> DownloadExpr:
    """The bytes behind each URI in column ``uri_column_name`` (see the module).

    Args:
        uri_column_name: the column holding the URIs.
        filesystem: an fsspec or ``pyarrow.fs`` filesystem to read with (default: by each
            URI's scheme).

    Example:
        >>> print(download("uri"))
        DOWNLOAD('uri')
    """
    return DownloadExpr(uri_column_name=uri_column_name, filesystem=filesystem)


__all__ = ["DownloadExpr", "MAX_ATTEMPTS", "MAX_CONCURRENCY", "download", "fetch_all"]
