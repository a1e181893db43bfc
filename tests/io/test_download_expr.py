"""``download()`` expressions against real servers on loopback: an HTTP server started here
and the moto S3 server; local files; retries of transient failures; errors naming the URI."""

from __future__ import annotations

import http.server
import threading
from typing import Iterator

import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.errors import DataSourceError
from streamdata.expressions import col, download
from streamdata.expressions.download import MAX_ATTEMPTS

PAYLOADS = {f"/file{i}.bin": bytes([i]) * (i * 100 + 1) for i in range(12)}


class _Handler(http.server.BaseHTTPRequestHandler):
    flaky_hits: dict[str, int] = {}
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        path = self.path.split("?")[0]
        if path.startswith("/flaky"):
            with self.lock:
                hits = self.flaky_hits[path] = self.flaky_hits.get(path, 0) + 1
            if hits < MAX_ATTEMPTS:  # fails until the last attempt
                self.send_response(503)
                self.end_headers()
                return
            body = b"finally"
        elif path in PAYLOADS:
            body = PAYLOADS[path]
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        self.send_response(200 if path in PAYLOADS else 404)
        self.send_header("Content-Length", str(len(PAYLOADS.get(path, b""))))
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def http_base() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def runtime(s3_server, data_runtime) -> None:
    """The module's runtime (tests/conftest.py), started after the S3 environment is set."""


def test_http_concurrent_with_nulls(http_base: str) -> None:
    uris = [f"{http_base}{p}" for p in PAYLOADS] + [None]
    got = download("uri").evaluate(pa.table({"uri": uris}))
    assert got.type == pa.large_binary()
    assert got.to_pylist() == list(PAYLOADS.values()) + [None]


def test_http_retries_transient_failures(http_base: str) -> None:
    got = download("u").evaluate(pa.table({"u": [f"{http_base}/flaky-a", f"{http_base}/file1.bin"]}))
    assert got.to_pylist() == [b"finally", PAYLOADS["/file1.bin"]]
    assert _Handler.flaky_hits["/flaky-a"] == MAX_ATTEMPTS


def test_missing_and_bad_uris_name_the_uri(http_base: str, tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        download("u").evaluate(pa.table({"u": [f"{http_base}/nothing-here"]}))
    with pytest.raises(FileNotFoundError, match="absent.bin"):
        download("u").evaluate(pa.table({"u": [str(tmp_path / "absent.bin")]}))
    with pytest.raises(DataSourceError, match="nosuchproto://x"):
        download("u").evaluate(pa.table({"u": ["nosuchproto://x"]}))
    with pytest.raises(TypeError, match="string URIs"):
        download("u").evaluate(pa.table({"u": [1, 2]}))


def test_local_files_and_given_filesystem(tmp_path) -> None:
    import pyarrow.fs as pafs

    (tmp_path / "a.txt").write_bytes(b"A")
    (tmp_path / "b.txt").write_bytes(b"BB")
    uris = [str(tmp_path / "a.txt"), f"file://{tmp_path / 'b.txt'}"]
    assert download("u").evaluate(pa.table({"u": uris})).to_pylist() == [b"A", b"BB"]
    got = download("u", filesystem=pafs.LocalFileSystem()).evaluate(pa.table({"u": uris}))
    assert got.to_pylist() == [b"A", b"BB"]


def test_s3_through_with_column(s3_server, runtime, http_base: str) -> None:
    bucket = s3_server.bucket("downloads")
    for i in range(6):
        s3_server.client.put_object(Bucket=bucket, Key=f"img/{i}.bin", Body=bytes([i]) * (i + 3))
    rows = [{"id": i, "uri": f"s3://{bucket}/img/{i}.bin"} for i in range(6)]
    rows.append({"id": 6, "uri": f"{http_base}/file2.bin"})
    ds = sd.from_items(rows, override_num_blocks=3).with_column("bytes", download("uri"))
    out = sorted(ds.take_all(), key=lambda r: r["id"])
    assert [r["bytes"] for r in out] == [bytes([i]) * (i + 3) for i in range(6)] + [PAYLOADS["/file2.bin"]]
    lengths = ds.with_column("n", col("bytes").cast(pa.large_string()).str.byte_len()) \
        .filter(expr=col("n") > 5).count()
    assert lengths == 4  # 6, 7, 8 bytes and the 201-byte HTTP file
