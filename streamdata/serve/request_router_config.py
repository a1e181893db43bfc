"""``RequestRouterConfig`` (Ray Serve's ``ray.serve.config.RequestRouterConfig``): which
:class:`~streamdata.serve.request_router.RequestRouter` routes a deployment's requests,
its ``initialize_state`` keyword arguments, and how often replicas report their
``record_routing_stats()`` to it.

The class may be given as a class or as an import path (``"pkg.mod:Cls"`` or
``"pkg.mod.Cls"``); it is kept as that path plus the class pickled by value, so the
callers' processes (the proxy, other replicas) need not import the module.

Example:
    >>> RequestRouterConfig(request_routing_stats_period_s=5).is_default_request_router()
    True
    >>> RequestRouterConfig(request_router_class=int)
    Traceback (most recent call last):
    ...
    TypeError: RequestRouterConfig(request_router_class=...) must be a subclass of RequestRouter (streamdata.serve.request_router), got builtins.int
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from streamdata.serve.request_router import RequestRouter

#: the built-in router (power of two choices); Ray's path of its own default is taken for it too
DEFAULT_REQUEST_ROUTER_PATH = "streamdata.serve.router:PowerOfTwoChoicesRequestRouter"
_DEFAULT_PATHS = (DEFAULT_REQUEST_ROUTER_PATH, "ray.serve._private.request_router:PowerOfTwoChoicesRequestRouter",
                  "streamdata.serve._private.request_router:PowerOfTwoChoicesRequestRouter")


def _import_path(path: str) -> Any:
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"RequestRouterConfig(request_router_class={path!r}) is not an import path "
                         "('module:Class' or 'module.Class')")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"RequestRouterConfig(request_router_class={path!r}) cannot be imported: {exc}") from exc


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise ValueError(f"RequestRouterConfig({name}=...) must be a number > 0, got {value!r}")
    return float(value)


@dataclass(eq=False)
class RequestRouterConfig:
    """How a deployment's requests are routed.

    Args:
        request_router_class: a ``RequestRouter`` subclass or its import path (default:
            the built-in power-of-two-choices router).
        request_router_kwargs: JSON-serializable keyword arguments of the router's
            ``initialize_state``.
        request_routing_stats_period_s: how often each replica's ``record_routing_stats()``
            is called for the router (default 10).
        request_routing_stats_timeout_s: how long one call may take before it counts as
            failed (the replica's stats stay as they were; default 30).
        initial_backoff_s, backoff_multiplier, max_backoff_s: the wait before asking the
            router again when none of the replicas it chose has a free slot.
    """

    request_router_class: Any = DEFAULT_REQUEST_ROUTER_PATH
    request_router_kwargs: dict[str, Any] = field(default_factory=dict)
    request_routing_stats_period_s: float = 10.0
    request_routing_stats_timeout_s: float = 30.0
    initial_backoff_s: float = 0.025
    backoff_multiplier: float = 2.0
    max_backoff_s: float = 0.5
    _serialized_request_router_cls: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        for name in ("request_routing_stats_period_s", "request_routing_stats_timeout_s", "initial_backoff_s",
                     "backoff_multiplier", "max_backoff_s"):
            setattr(self, name, _positive(name, getattr(self, name)))
        kwargs = self.request_router_kwargs
        if kwargs is None:
            kwargs = self.request_router_kwargs = {}
        if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
            raise TypeError(f"RequestRouterConfig(request_router_kwargs=...) must be a dict with str keys, "
                            f"got {kwargs!r}")
        try:
            json.dumps(kwargs)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"RequestRouterConfig(request_router_kwargs=...) is not JSON-serializable: {exc}") from exc
        cls = self.request_router_class
        if isinstance(cls, str):
            if cls in _DEFAULT_PATHS:
                self.request_router_class = DEFAULT_REQUEST_ROUTER_PATH
                return
            path, cls = cls, _import_path(cls)
        elif inspect.isclass(cls):
            path = f"{cls.__module__}.{cls.__qualname__}"
        else:
            raise TypeError(f"RequestRouterConfig(request_router_class=...) must be a RequestRouter subclass or "
                            f"its import path, got {cls!r}")
        if not inspect.isclass(cls) or not issubclass(cls, RequestRouter):
            shown = f"{cls.__module__}.{cls.__qualname__}" if inspect.isclass(cls) else repr(cls)
            raise TypeError(f"RequestRouterConfig(request_router_class=...) must be a subclass of RequestRouter "
                            f"(streamdata.serve.request_router), got {shown}")
        if inspect.isabstract(cls):
            raise TypeError(f"RequestRouterConfig(request_router_class=...): {path} does not implement "
                            f"{sorted(cls.__abstractmethods__)}")
        try:
            inspect.signature(cls.initialize_state).bind(None, **kwargs)
        except TypeError as exc:
            raise TypeError(f"RequestRouterConfig(request_router_kwargs=...) does not fit "
                            f"{path}.initialize_state: {exc}") from exc
        self.request_router_class = path
        if not self._serialized_request_router_cls:
            self._serialized_request_router_cls = _pickle_class(cls)

    @classmethod
    def from_value(cls, value: Any) -> RequestRouterConfig:
        """A config from itself or a dict of its fields (unknown keys raise)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, dict):
            names = {f.name for f in dataclasses.fields(cls) if not f.name.startswith("_")}
            unknown = sorted(set(value) - names)
            if unknown:
                raise ValueError(f"request_router_config has unknown field(s) {unknown}; valid: {sorted(names)}")
            return cls(**value)
        raise TypeError(f"request_router_config must be a RequestRouterConfig or a dict, got {type(value).__name__}")

    def is_default_request_router(self) -> bool:
        return self.request_router_class == DEFAULT_REQUEST_ROUTER_PATH

    def get_request_router_class(self) -> type[RequestRouter]:
        """The router class (unpickled; in the process that made the config, the class itself)."""
        import cloudpickle

        return cloudpickle.loads(self._serialized_request_router_cls)

    def _public(self) -> tuple:
        return tuple((f.name, json.dumps(getattr(self, f.name), sort_keys=True, default=str))
                     for f in dataclasses.fields(self) if not f.name.startswith("_"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RequestRouterConfig) and self._public() == other._public()

    def __hash__(self) -> int:
        return hash(self._public())


def _pickle_class(cls: type) -> bytes:
    """``cls`` pickled with its module's code (by value), so any process can load it."""
    import cloudpickle

    module = sys.modules.get(cls.__module__)
    by_value = module is not None and cls.__module__ != "__main__" and not _library_module(cls.__module__)
    if by_value:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(cls, protocol=5)
    finally:
        if by_value:
            cloudpickle.unregister_pickle_by_value(module)


def _library_module(name: str) -> bool:
    return name.split(".")[0] in ("streamdata", "ray")


__all__ = ["DEFAULT_REQUEST_ROUTER_PATH", "RequestRouterConfig"]
