"""The HTTP ingress: a threaded stdlib HTTP server on 127.0.0.1 in the driver.

* ``POST <route_prefix>`` with a JSON body calls the application's ingress
  deployment with the decoded value and answers its return value as JSON
  (200); a raised exception → 500 ``{"error": type, "message": text}``; every
  replica at ``max_ongoing_requests`` → 503; a body that is not JSON → 400.
* ``GET /-/healthz`` → 200 ``success``; ``GET /-/routes`` → the routes as JSON;
  ``GET /metrics`` → Prometheus text.

Example:
    >>> import json, urllib.request
    >>> from streamdata import serve
    >>> @serve.deployment(num_cpus=0)
    ... def add_one(x):
    ...     return x + 1
    >>> _ = serve.run(add_one.bind(), name="http_doc", route_prefix="/add", http_port=0)
    >>> req = urllib.request.Request(serve.http_address() + "/add", data=b"41", method="POST")
    >>> json.loads(urllib.request.urlopen(req).read())
    42
    >>> serve.shutdown()
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from streamdata.errors import BackPressureError, TaskError
from streamdata.serve.handle import DeploymentHandle
from streamdata.serve.metrics import LATENCY_BUCKETS_S

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.serve.controller import ServeController

#: the largest request body accepted (bytes)
MAX_BODY_BYTES = 64 * 1024 * 1024


def error_payload(exc: BaseException) -> dict[str, str]:
    """``{"error": type name, "message": text}`` of a deployment's exception (the
    user's exception, not the TaskError that carried it).

    Example:
        >>> error_payload(ValueError("bad input"))
        {'error': 'ValueError', 'message': 'bad input'}
    """
    cause = exc.cause if isinstance(exc, TaskError) and exc.cause is not None else exc
    return {"error": type(cause).__name__, "message": str(cause)}


class HTTPProxy:
    """Serves the controller's applications over HTTP, in a daemon thread."""

    def __init__(self, controller: ServeController, host: str, port: int) -> None:
        self.controller = controller
        metrics = controller.metrics
        self.requests = metrics.counter("streamdata_serve_http_requests_total",
                                        "HTTP requests, by route, method and status code.")
        self.errors = metrics.counter("streamdata_serve_http_errors_total",
                                      "HTTP requests answered with a 4xx or 5xx status.")
        self.latency = metrics.histogram("streamdata_serve_http_request_latency_seconds",
                                         "Time to answer an HTTP request.", LATENCY_BUCKETS_S)
        handler = type("ServeRequestHandler", (_Handler,), {"proxy": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="streamdata-serve-http")
        self._thread.start()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


class _Handler(BaseHTTPRequestHandler):
    proxy: HTTPProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet by default
        pass

    # ---- answers
    def _send(self, status: int, body: bytes, content_type: str, route: str, start: float) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status == 405:
            self.send_header("Allow", "POST")
        self.end_headers()
        self.wfile.write(body)
        labels = {"route": route, "method": self.command, "code": str(status)}
        self.proxy.requests.inc(labels)
        if status >= 400:
            self.proxy.errors.inc(labels)
        self.proxy.latency.observe(time.monotonic() - start, {"route": route})

    def _json(self, status: int, value: Any, route: str, start: float) -> None:
        self._send(status, json.dumps(value).encode(), "application/json", route, start)

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    # ---- methods
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        start = time.monotonic()
        path = self._path()
        controller = self.proxy.controller
        if path == "/-/healthz":
            self._send(200, b"success", "text/plain; charset=utf-8", path, start)
        elif path == "/-/routes":
            routes = {a.route_prefix: a.name for a in list(controller.apps.values()) if a.route_prefix}
            self._json(200, routes, path, start)
        elif path == "/metrics":
            body = controller.render_metrics().encode()
            self._send(200, body, "text/plain; version=0.0.4; charset=utf-8", path, start)
        else:
            app = controller.route(path)
            if app is None:
                self._json(404, {"error": "NotFound", "message": f"no route for {path!r}"}, "unmatched", start)
            else:
                self._json(405, {"error": "MethodNotAllowed", "message": "POST a JSON body to call the "
                                 "deployment"}, app.route_prefix or path, start)

    def do_POST(self) -> None:  # noqa: N802
        start = time.monotonic()
        path = self._path()
        app = self.proxy.controller.route(path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._json(413, {"error": "PayloadTooLarge", "message": f"body over {MAX_BODY_BYTES} bytes"},
                       path, start)
            return
        body = self.rfile.read(length) if length else b""
        if app is None:
            self._json(404, {"error": "NotFound", "message": f"no route for {path!r}"}, "unmatched", start)
            return
        route = app.route_prefix or path
        try:
            value = json.loads(body) if body.strip() else None
        except ValueError as exc:
            self._json(400, {"error": "BadRequest", "message": f"the body is not JSON: {exc}"}, route, start)
            return
        handle = DeploymentHandle(app.ingress.router)
        try:
            future = handle._router.submit("__call__", (value,), {}, reject_when_full=True)
        except BackPressureError as exc:
            self._json(503, {"error": "BackPressureError", "message": str(exc)}, route, start)
            return
        except RuntimeError as exc:  # the application was deleted meanwhile
            self._json(503, {"error": type(exc).__name__, "message": str(exc)}, route, start)
            return
        try:
            result = future.result()
        except BaseException as exc:  # noqa: BLE001 - the deployment's error, as JSON
            self._json(500, error_payload(exc), route, start)
            return
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as exc:
            self._json(500, {"error": type(exc).__name__,
                             "message": f"the deployment returned a value JSON cannot encode: {exc}"}, route, start)
            return
        self._send(200, payload, "application/json", route, start)


__all__ = ["HTTPProxy", "error_payload"]
