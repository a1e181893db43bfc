"""Fixtures of the I/O tests: a real S3 protocol server (moto) on loopback."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Iterator

import pytest

from streamdata.context import DataContext

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """A running moto S3 server and helpers to create buckets."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self.endpoint = endpoint
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")

    def bucket(self, name: str, *, public: bool = False) -> str:
        """Create (or reuse) a bucket; ``public`` adds a policy allowing anonymous reads."""
        try:
            self.client.create_bucket(Bucket=name)
        except self.client.exceptions.BucketAlreadyOwnedByYou:
            pass
        if public:
            policy = {"Version": "2012-10-17", "Statement": [{
                "Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
                # moto names HEAD requests s3:HeadObject (AWS folds them into s3:GetObject)
                "Action": ["s3:GetObject", "s3:HeadObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]}]}
            self.client.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server on 127.0.0.1 (a real HTTP S3 endpoint), with the AWS environment set."""
    pytest.importorskip("s3fs")
    pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    port = _free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in [*S3_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(S3_ENV)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    deadline = time.monotonic() + 30
    while True:  # wait for the server to accept connections
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline:
                raise
    try:
        yield S3Server(endpoint)
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


MANY_FILES = 2000


@pytest.fixture(scope="session")
def s3_many_csvs(s3_server: S3Server) -> str:
    """``s3://many-csv/d/``: 2000 tiny CSV files (``a,b`` / ``i,2i``), written once per session."""
    import fsspec

    s3_server.bucket("many-csv")
    fs = fsspec.filesystem("s3", endpoint_url=s3_server.endpoint, skip_instance_cache=True)
    fs.pipe({f"many-csv/d/f{i:05d}.csv": f"a,b\n{i},{2 * i}\n".encode() for i in range(MANY_FILES)})
    return "s3://many-csv/d"


@pytest.fixture
def data_context() -> Iterator[DataContext]:
    """The current DataContext, restored after the test."""
    ctx = DataContext.get_current()
    saved = ctx.copy()
    yield ctx
    DataContext._set_current(saved)


@pytest.fixture
def memfs():
    """A clean fsspec memory filesystem."""
    import fsspec

    fs = fsspec.filesystem("memory")
    yield fs
    for path in list(fs.store):
        fs.store.pop(path, None)
    fs.pseudo_dirs[:] = [""]
