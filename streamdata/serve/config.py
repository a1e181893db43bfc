"""``HTTPOptions``, ``gRPCOptions`` and ``BackpressureConfig`` (Ray Serve's names and
defaults; the proxy binds 127.0.0.1 unless told otherwise).

Example:
    >>> HTTPOptions.from_value({"port": 0}).host
    '127.0.0.1'
    >>> gRPCOptions(port=0, grpc_servicer_functions=["pkg.add_FooServicer_to_server"]).port
    0
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

# Ray's ``ray.serve.config`` holds the autoscaling names and the deployment actors' config too
from streamdata.serve.autoscaling import (
    AggregationFunction,
    AutoscalingConfig,
    AutoscalingContext,
    AutoscalingPolicy,
    DeploymentID,
)
from streamdata.serve.deployment_actors import DeploymentActorConfig
from streamdata.serve.gang import GangPlacementStrategy, GangRuntimeFailurePolicy, GangSchedulingConfig
from streamdata.serve.request_router_config import RequestRouterConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class BackpressureConfig:
    """The HTTP answer to a request refused because the deployment's queue is full
    (``max_queued_requests``), as Ray Serve's ``BackpressureConfig``.

    Args:
        status_code: 503 (the default) or 429.
        retry_after_s: when set, the answer has a ``Retry-After`` header of this many
            seconds, rounded up.

    Example:
        >>> BackpressureConfig(status_code=429, retry_after_s=4.2).headers()
        [(b'retry-after', b'5')]
    """

    status_code: int = 503
    retry_after_s: float | None = None

    def __post_init__(self) -> None:
        if self.status_code not in (503, 429) or isinstance(self.status_code, bool):
            raise ValueError(f"BackpressureConfig(status_code=...) must be 503 or 429, got {self.status_code!r}")
        after = self.retry_after_s
        if after is not None and (isinstance(after, bool) or not isinstance(after, (int, float))
                                  or not 0 <= after < float("inf")):
            raise ValueError(f"BackpressureConfig(retry_after_s=...) must be None or a number >= 0, got {after!r}")

    @classmethod
    def from_value(cls, value: Any) -> BackpressureConfig:
        """A config from itself or a dict of its fields (unknown keys raise, as Ray's)."""
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"backpressure_config must be a BackpressureConfig or a dict, got {value!r}")
        unknown = sorted(set(value) - {"status_code", "retry_after_s"})
        if unknown:
            raise ValueError(f"unknown BackpressureConfig field(s) {unknown}; valid: ['retry_after_s', 'status_code']")
        return cls(**value)

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The extra headers of a refusal."""
        if self.retry_after_s is None:
            return []
        return [(b"retry-after", str(math.ceil(self.retry_after_s)).encode())]


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPOptions:
    """Where and how the HTTP proxy listens (Ray Serve's ``HTTPOptions``).

    Args:
        host, port: the address (127.0.0.1:8000; port 0: any free port).
        keep_alive_timeout_s, request_timeout_s: connection keep-alive and per-request limits.
        location: ``"HeadOnly"``/``"EveryNode"`` (one node: one proxy) or
            ``"NoServer"``/``"Disabled"`` (no proxy; handles only).
        root_path: the path prefix the app is mounted under behind a reverse proxy
            (the ASGI ``root_path``).
        root_url: the public URL of the proxy (informational).
        ssl_keyfile, ssl_certfile, ssl_keyfile_password, ssl_ca_certs: serve HTTPS
            with this key and certificate.
        middlewares: Starlette ``Middleware`` objects wrapped around the proxy's app.
        num_cpus: accepted as in Ray (deprecated there); the proxy reserves no CPU here.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    keep_alive_timeout_s: float = 90
    request_timeout_s: float | None = None
    location: str | None = "HeadOnly"
    root_path: str = ""
    root_url: str = ""
    ssl_keyfile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile_password: str | None = None
    ssl_ca_certs: str | None = None
    middlewares: list[Any] = field(default_factory=list)
    num_cpus: float = 0

    def __post_init__(self) -> None:
        import os

        if not isinstance(self.host, str) or not self.host:
            raise ValueError(f"http_options host must be a non-empty string, got {self.host!r}")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"http_options port must be an int in [0, 65535] (0: any free port), got {self.port!r}")
        location = getattr(self.location, "value", self.location)
        if location not in (None, "HeadOnly", "EveryNode", "NoServer", "Disabled"):
            raise ValueError(f"http_options location must be 'HeadOnly', 'EveryNode', 'NoServer' or 'Disabled', "
                             f"got {self.location!r}")
        if not isinstance(self.root_path, str) or (self.root_path and not self.root_path.startswith("/")):
            raise ValueError(f"http_options root_path must be '' or a path starting with '/', got {self.root_path!r}")
        if (self.ssl_keyfile is None) != (self.ssl_certfile is None):
            raise ValueError("http_options ssl_keyfile and ssl_certfile must be given together")
        for name in ("ssl_keyfile", "ssl_certfile", "ssl_ca_certs"):
            path = getattr(self, name)
            if path is not None and not os.path.isfile(path):
                raise FileNotFoundError(f"http_options {name}: no file {path!r}")
        if not isinstance(self.middlewares, (list, tuple)) or not all(
                hasattr(m, "cls") and hasattr(m, "kwargs") for m in self.middlewares):
            raise TypeError("http_options middlewares must be a list of starlette.middleware.Middleware, got "
                            f"{self.middlewares!r}")
        if isinstance(self.num_cpus, bool) or not isinstance(self.num_cpus, (int, float)) or self.num_cpus < 0:
            raise ValueError(f"http_options num_cpus must be a number >= 0, got {self.num_cpus!r}")

    @property
    def proxy_enabled(self) -> bool:
        """Whether ``location`` asks for a proxy."""
        return getattr(self.location, "value", self.location) not in ("NoServer", "Disabled")

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
    generated ``add_<Service>Servicer_to_server`` functions. A call running longer
    than ``request_timeout_s`` (None, or as in Ray a value <= 0: no limit) ends with
    ``DEADLINE_EXCEEDED``; ``enable_reflection`` serves gRPC server reflection."""

    port: int = 9000
    grpc_servicer_functions: list[str] = field(default_factory=list)
    request_timeout_s: float | None = None
    enable_reflection: bool = True
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ValueError(f"grpc_options port must be an int in [0, 65535], got {self.port!r}")
        if not isinstance(self.grpc_servicer_functions, (list, tuple)) or not all(
                isinstance(f, str) and "." in f for f in self.grpc_servicer_functions):
            raise ValueError("grpc_servicer_functions must be a list of import paths like "
                             f"'my_pb2_grpc.add_MyServicer_to_server', got {self.grpc_servicer_functions!r}")
        timeout = self.request_timeout_s
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))):
            raise ValueError(f"grpc_options request_timeout_s must be a number of seconds or None, got {timeout!r}")
        if not isinstance(self.enable_reflection, bool):
            raise ValueError(f"grpc_options enable_reflection must be a bool, got {self.enable_reflection!r}")

    @classmethod
    def from_value(cls, value: gRPCOptions | dict[str, Any] | None) -> gRPCOptions | None:
        if value is None or isinstance(value, gRPCOptions):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"grpc_options must be a dict or gRPCOptions, got {type(value).__name__}")
        return cls(**value)


__all__ = ["AggregationFunction", "AutoscalingConfig", "AutoscalingContext", "AutoscalingPolicy", "BackpressureConfig",
           "DeploymentActorConfig", "DeploymentID", "GangPlacementStrategy", "GangRuntimeFailurePolicy",
           "GangSchedulingConfig", "HTTPOptions", "RequestRouterConfig", "gRPCOptions"]
