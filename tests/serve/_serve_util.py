"""Helpers shared by the serve integration tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any, Callable


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0, what: Any = "condition") -> None:
    """Wait for ``predicate`` (checked every 20 ms) at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - e.g. a controller that restarts: ask again
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")
        time.sleep(0.02)


async def async_wait_until(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait on the running loop for ``predicate`` (checked every 5 ms) at most ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


def grpc_stubs(directory: Any, name: str, proto: str) -> Iterator[tuple[Any, Any]]:
    """Compile ``proto`` as ``<name>.proto`` in ``directory`` (grpc_tools.protoc) and yield its
    ``<name>_pb2`` and ``<name>_pb2_grpc`` modules, importable by the runtime's workers
    (they get the driver's ``sys.path``) until the generator ends."""
    import importlib
    import sys

    from grpc_tools import protoc

    (directory / f"{name}.proto").write_text(proto)
    rc = protoc.main(["protoc", f"-I{directory}", f"--python_out={directory}", f"--grpc_python_out={directory}",
                      str(directory / f"{name}.proto")])
    assert rc == 0, f"protoc failed on {name}.proto"
    sys.path.insert(0, str(directory))
    try:
        yield importlib.import_module(f"{name}_pb2"), importlib.import_module(f"{name}_pb2_grpc")
    finally:
        sys.path.remove(str(directory))
