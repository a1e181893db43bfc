"""Module-scoped serve instances shared by the serve integration tests."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

import streamdata as sd
from streamdata import serve


def _start(**serve_options: object) -> None:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    serve.start(**serve_options)


def _stop() -> None:
    serve.shutdown()
    gc.collect()
    sd.shutdown()


@pytest.fixture(scope="module")
def serve_http() -> Iterator[str]:
    """A runtime with serve's HTTP proxy on a free port; yields the proxy's address."""
    _start(http_options={"port": 0})
    address = serve.http_address()
    assert address is not None
    yield address
    _stop()


@pytest.fixture(scope="module")
def serve_no_proxy() -> Iterator[None]:
    """A runtime with serve and no HTTP proxy (handles only)."""
    _start(proxy_location="Disabled")
    yield
    _stop()
