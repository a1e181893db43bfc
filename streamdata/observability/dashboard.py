"""The dashboard server: an HTML page and a JSON state API on 127.0.0.1 (``sd.init(include_dashboard=True)``).

A small threaded ``http.server`` in the driver (no extra dependency, starts in
milliseconds). Routes:

* ``/`` — the page (:mod:`streamdata.observability.render`), which refreshes
  its sections from ``/fragment`` every second;
* ``/api/snapshot`` — everything the page shows, as JSON;
* ``/api/v0/{tasks,actors,objects,placement_groups,workers}`` — the state API's rows
  (``?limit=``, ``?detail=true``, ``?filter_keys=state&filter_predicates=%3D&filter_values=RUNNING``),
  shaped as Ray's dashboard answers (``{"result": true, "data": {"result": {"result": [...]}}}``);
* ``/logs/<file>`` — the tail of one log file of the session;
* ``/metrics`` — the Prometheus text (when ``prometheus_client`` is installed).

It shows metadata only (names, states, counts, sizes, times): never data values.
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from streamdata.observability import render, sources

STATE_RESOURCES = ("tasks", "actors", "objects", "placement_groups", "workers")


def snapshot(runtime: Any, timeout: float = 10.0) -> dict[str, Any]:
    """What the page shows, read now from the runtime, the executions, serve and train."""
    from streamdata.core import session_logs
    from streamdata.exec import live
    call = runtime.call
    counts = call("state", "task_counts", timeout=timeout)
    summary: dict[str, dict] = {}
    states: dict[str, int] = {}
    for name, kind, state, n in counts:
        entry = summary.setdefault(name, {"func_or_class_name": name, "type": kind, "state_counts": {}})
        entry["state_counts"][state] = entry["state_counts"].get(state, 0) + n
        states[state] = states.get(state, 0) + n
    actors = call("state", "actors", timeout=timeout)
    workers = call("state", "workers", timeout=timeout)
    owners = _log_owners(workers, actors)
    logs = session_logs.log_files(runtime.session_dir)
    for entry in logs:
        entry["owner"] = owners.get(entry["file"].rsplit(".", 1)[0].rsplit("-", 1)[-1], "")
    return {"session": os.path.basename(runtime.session_dir), "time": time.time(),
            "resources": {"total": call("cluster_resources", timeout=timeout),
                          "available": call("available_resources", timeout=timeout)},
            "store": call("store_stats", timeout=timeout), "datasets": live.datasets(),
            "task_summary": summary, "task_states": states, "tasks": call("state", "tasks", 20, timeout=timeout),
            "actors": actors, "placement_groups": call("state", "placement_groups", timeout=timeout),
            "workers": workers, "serve": sources.status("serve"), "train": sources.train_runs(), "logs": logs}


def _log_owners(workers: list[dict], actors: list[dict]) -> dict[str, str]:
    """pid (as str) -> what the process is: the actor class it hosts, or "task worker"."""
    classes = {a["actor_id"]: a["class_name"] for a in actors}
    out = {}
    for w in workers:
        if w["pid"] is not None:
            actor = w.get("actor_id")
            out[str(w["pid"])] = f"actor {classes.get(actor, actor)}" if actor else "task worker"
    out[str(os.getpid())] = "driver"
    return out


def state_rows(runtime: Any, resource: str, query: dict[str, list[str]]) -> list[dict]:
    """``/api/v0/<resource>``: the state API's rows with its query parameters."""
    from streamdata.util import state
    schema = {"tasks": state.TaskState, "actors": state.ActorState, "objects": state.ObjectState,
              "placement_groups": state.PlacementGroupState, "workers": state.WorkerState}[resource]
    keys, preds, values = (query.get(k, []) for k in ("filter_keys", "filter_predicates", "filter_values"))
    filters = list(zip(keys, preds, values))
    limit = int(query.get("limit", [str(state.DEFAULT_LIMIT)])[0])
    detail = query.get("detail", ["false"])[0].lower() == "true"
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = state.build(runtime.call("state", resource, timeout=10), schema, filters, limit, detail, resource)
    return [r.asdict() for r in rows]


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: no access log on stderr
        pass

    def _send(self, code: int, body: str, content_type: str) -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        url = urlparse(self.path)
        path = url.path
        runtime = self.server.runtime
        try:
            if path in ("/", "/index.html"):
                self._send(200, render.page(snapshot(runtime)), "text/html; charset=utf-8")
            elif path == "/fragment":
                self._send(200, render.sections(snapshot(runtime)), "text/html; charset=utf-8")
            elif path == "/api/snapshot":
                self._send(200, json.dumps(snapshot(runtime), default=str), "application/json")
            elif path.startswith("/api/v0/") and path[len("/api/v0/"):] in STATE_RESOURCES:
                rows = state_rows(runtime, path[len("/api/v0/"):], parse_qs(url.query))
                body = {"result": True, "msg": "", "data": {"result": {"total": len(rows), "result": rows}}}
                self._send(200, json.dumps(body, default=str), "application/json")
            elif path.startswith("/logs/"):
                from streamdata.core import session_logs
                text = session_logs.tail(runtime.session_dir, unquote(path[len("/logs/"):]))
                self._send(200, text, "text/plain; charset=utf-8")
            elif path == "/metrics":
                from streamdata.observability import prometheus
                self._send(200, prometheus.render(), "text/plain; version=0.0.4; charset=utf-8")
            else:
                self._send(404, json.dumps({"error": f"no route {path}"}), "application/json")
        except FileNotFoundError as exc:
            self._send(404, json.dumps({"error": str(exc)}), "application/json")
        except (ValueError, TypeError) as exc:
            self._send(400, json.dumps({"error": f"{type(exc).__name__}: {exc}"}), "application/json")
        except Exception as exc:  # noqa: BLE001 - the runtime may be shutting down
            self._send(500, json.dumps({"error": f"{type(exc).__name__}: {exc}"}), "application/json")


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, runtime: Any, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self.runtime = runtime
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="streamdata-dashboard", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=2)
