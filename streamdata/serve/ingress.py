"""``@serve.ingress(app)``: a deployment class that serves an ASGI app (a FastAPI
app, typically) whose routes are the class's methods (Ray Serve's).

A route declared on a method (``@app.get("/items/{item_id}")`` over
``def get(self, item_id: int)``, or ``@app.websocket("/ws")`` over
``async def ws(self, websocket: WebSocket)``) is rebuilt so that ``self`` is the
replica's instance (a FastAPI dependency) and the other parameters are FastAPI's
as usual: path and query parameters, pydantic request bodies, ``Depends``.

Example:
    >>> from fastapi import FastAPI
    >>> app = FastAPI()
    >>> @ingress(app)
    ... class Api:
    ...     @app.get("/hello/{name}")
    ...     def hello(self, name: str, excited: bool = False):
    ...         return {"hello": name + ("!" if excited else "")}
    >>> getattr(Api, "__serve_asgi_app__") is app
    True
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from streamdata.serve.asgi import ASGI_APP_ATTR, ASGI_BUILDER_ATTR


def _current_instance() -> Any:
    from streamdata.serve.context import get_replica_context

    return get_replica_context().servable_object


def _bind_class_routes(cls: type, app: Any) -> None:
    """Rebuild ``app``'s routes whose endpoints are methods of ``cls``."""
    from fastapi import Depends
    from fastapi.routing import APIRoute, APIWebSocketRoute

    methods = {id(member) for _, member in inspect.getmembers(cls, inspect.isfunction)}
    route_params = {kind: [p for p in inspect.signature(kind.__init__).parameters
                           if p not in ("self", "path", "endpoint")] for kind in (APIRoute, APIWebSocketRoute)}
    routes = []
    for route in app.router.routes:
        kind = APIRoute if isinstance(route, APIRoute) else (
            APIWebSocketRoute if isinstance(route, APIWebSocketRoute) else None)
        if kind is None or id(route.endpoint) not in methods:
            routes.append(route)
            continue
        endpoint = route.endpoint
        signature = inspect.signature(endpoint)
        params = list(signature.parameters.values())
        if not params:
            raise TypeError(f"route {route.path!r}: method {endpoint.__qualname__} must take self")
        first = params[0].replace(default=Depends(_current_instance))
        rest = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) if p.kind in (
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) else p
            for p in params[1:]]
        endpoint.__signature__ = signature.replace(parameters=[first] + rest)
        kwargs = {name: getattr(route, name) for name in route_params[kind] if hasattr(route, name)}
        if "dependency_overrides_provider" in route_params[kind]:  # a websocket route does not keep it
            kwargs.setdefault("dependency_overrides_provider", getattr(app.router, "dependency_overrides_provider",
                                                                       None))
        routes.append(kind(route.path, endpoint, **kwargs))
    app.router.routes = routes
    # FastAPI caches the OpenAPI schema; the rebuilt routes need a fresh one
    if hasattr(app, "openapi_schema"):
        app.openapi_schema = None


def _reduce_state(state: Any) -> tuple:
    return (type(state), (dict(state._state),))


def _make_app_picklable() -> None:
    """Starlette's ``State`` (``app.state``) cannot be unpickled as it is (its
    ``__getattr__`` recurses); the app travels to the replicas pickled by value."""
    import copyreg

    try:
        from starlette.datastructures import State
    except ImportError:  # pragma: no cover - starlette is part of the serve extra
        return
    copyreg.pickle(State, _reduce_state)


def ingress(app: Any) -> Callable[..., type]:
    """Serve the ASGI ``app`` from the decorated deployment class.

    Args:
        app: a FastAPI app (routes may be the class's methods), any ASGI callable, or a
            function of no arguments that builds the app (called once on each replica,
            for apps that do not pickle).

    Returns:
        A class decorator; called with no class (``serve.ingress(app)()``) it makes a
        deployment class that only serves the app, as Ray's.
    """
    if app is None or not callable(app):
        raise TypeError(f"serve.ingress takes an ASGI app (a FastAPI app, say), got {type(app).__name__}")

    def decorate(cls: type | None = None) -> type:
        if cls is None:
            cls = type("ASGIIngressDeployment", (), {"__init__": lambda self, *args, **kwargs: None})
        if not inspect.isclass(cls):
            raise TypeError(f"@serve.ingress decorates a class, got {type(cls).__name__}")
        if inspect.isfunction(app):  # a builder (as Ray tells them): its app is made on the replica
            setattr(cls, ASGI_BUILDER_ATTR, app)
            return cls
        if hasattr(app, "router") and type(app).__module__.startswith("fastapi"):
            _bind_class_routes(cls, app)
        _make_app_picklable()
        setattr(cls, ASGI_APP_ATTR, app)
        return cls

    return decorate


__all__ = ["ingress"]
