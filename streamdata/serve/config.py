"""``HTTPOptions`` and ``gRPCOptions`` (Ray Serve's names and defaults; the proxy
binds 127.0.0.1 unless told otherwise).

Example:
    >>> HTTPOptions.from_value({"port": 0}).host
    '127.0.0.1'
    >>> gRPCOptions(port=0, grpc_servicer_functions=["pkg.add_FooServicer_to_server"]).port
    0
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPOptions:
    """Where the HTTP proxy listens."""

    host: str = "127.0.0.1"
    port: int = 8000
    keep_alive_timeout_s: float = 90
    request_timeout_s: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise ValueError(f"http_options host must be a non-empty string, got {self.host!r}")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"http_options port must be an int in [0, 65535] (0: any free port), got {self.port!r}")

    @classmethod
    def from_value(cls, value: HTTPOptions | dict[str, Any] | None) -> HTTPOptions:
        if value is None:
            return cls()
        if isinstance(value, HTTPOptions):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"http_options must be a dict or HTTPOptions, got {type(value).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown http_options key(s) {unknown}; valid keys: {sorted(known)}")
        return cls(**value)


@dataclass(frozen=True, slots=True, kw_only=True)
class gRPCOptions:  # noqa: N801 - Ray's name
    """Where the gRPC proxy listens and which servicers it serves: import paths of
    generated ``add_<Service>Servicer_to_server`` functions."""

    port: int = 9000
    grpc_servicer_functions: list[str] = field(default_factory=list)
    request_timeout_s: float | None = None
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"grpc_options port must be an int in [0, 65535], got {self.port!r}")
        if not isinstance(self.grpc_servicer_functions, (list, tuple)) or not all(
                isinstance(f, str) and "." in f for f in self.grpc_servicer_functions):
            raise ValueError("grpc_servicer_functions must be a list of import paths like "
                             f"'my_pb2_grpc.add_MyServicer_to_server', got {self.grpc_servicer_functions!r}")

    @classmethod
    def from_value(cls, value: gRPCOptions | dict[str, Any] | None) -> gRPCOptions | None:
        if value is None or isinstance(value, gRPCOptions):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"grpc_options must be a dict or gRPCOptions, got {type(value).__name__}")
        return cls(**value)


__all__ = ["HTTPOptions", "gRPCOptions"]
