"""The dashboard's page, rendered on the server from one snapshot of metadata (pure functions).

:func:`page` is the whole HTML document: the sections of :func:`sections` plus a
few lines of JS that fetch ``/fragment`` every second and swap the sections in,
so the page updates live with no client-side rendering. Every value is escaped;
a snapshot holds metadata only (names, states, counts, sizes, times), never data.

Example:
    >>> snap = {"session": "s", "time": 0.0, "resources": {"total": {"CPU": 2.0}, "available": {"CPU": 1.0}},
    ...         "store": {"used_bytes": 0, "capacity_bytes": 1024, "spilled_bytes": 0, "num_objects": 0},
    ...         "datasets": [], "task_summary": {}, "task_states": {}, "tasks": [], "actors": [], "placement_groups": [],
    ...         "workers": [], "serve": None, "train": [], "logs": []}
    >>> "<h2>Datasets</h2>" in page(snap)
    True
    >>> "<script>" in sections(snap)
    False
"""

from __future__ import annotations

import time
from html import escape
from typing import Any, Iterable
from urllib.parse import quote

from streamdata.exec.stats import format_bytes


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def table(columns: list[str], rows: Iterable[Iterable[Any]], css: str = "", row_ids: list[str] | None = None) -> str:
    """An HTML table; cells are escaped (a cell given as ``("html", markup)`` is inserted as is)."""
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for cell in row:
            if isinstance(cell, tuple) and len(cell) == 2 and cell[0] == "html":
                cells.append(f"<td>{cell[1]}</td>")
            else:
                cells.append(f"<td>{_e(cell)}</td>")
        rid = f' data-key="{_e(row_ids[i])}"' if row_ids is not None else ""
        body.append(f"<tr{rid}>{''.join(cells)}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(columns)}" class="empty">none</td></tr>')
    cls = f' class="{_e(css)}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _bar(used: float, total: float) -> tuple[str, str]:
    frac = 0.0 if total <= 0 else max(0.0, min(1.0, used / total))
    return ("html", f'<span class="bar"><span style="width:{frac * 100:.0f}%"></span></span> '
                    f"{_e(format_bytes(used))} / {_e(format_bytes(total))}")


def datasets_section(datasets: list[dict]) -> str:
    """Each dataset (newest first) with its operators: rows, bytes, tasks, memory, backpressure."""
    parts = []
    for ds in reversed(datasets):
        key = f"{ds['name']}_{ds['id']}"
        ops = ds["operators"]
        rows = [(op["name"], f"{op['rows_out']:,}", format_bytes(op["bytes_out"]), op["blocks_out"], op["tasks"],
                 f"{op['cpu_s']:.2f}", format_bytes(op["peak_bytes"]), f"{op['backpressure_s']:.2f}")
                for op in ops]
        parts.append(
            f'<div class="dataset" data-dataset="{_e(key)}"><h3>{_e(ds["name"])} '
            f'<span class="state {_e(ds["state"]).lower()}">{_e(ds["state"])}</span> '
            f'<small>#{_e(ds["id"])}, {ds["wall_s"]:.2f} s</small></h3>'
            f"<p>object store: peak {_bar(ds['peak_object_store_bytes'], ds['budget_bytes'])[1]} budget</p>"
            + table(["operator", "rows", "bytes", "blocks", "tasks", "CPU s", "peak memory", "backpressure s"],
                    rows, css="operators", row_ids=[op["name"] for op in ops]) + "</div>")
    return "".join(parts) or '<p class="empty">no dataset has run yet</p>'


def _state_counts(rows: list[dict], key: str = "state") -> str:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row[key]] = counts.get(row[key], 0) + 1
    return table(["state", "count"], sorted(counts.items()), css="counts")


def tasks_section(snap: dict) -> str:
    summary = snap["task_summary"]
    rows = [(name, s["type"], ", ".join(f"{k}: {v}" for k, v in sorted(s["state_counts"].items())))
            for name, s in sorted(summary.items())]
    recent = [(t["task_id"], t["name"], t["state"], t["worker_pid"]) for t in snap["tasks"][-20:]][::-1]
    return (table(["state", "count"], sorted(snap["task_states"].items()), css="counts") + table(["function / method", "type", "states"], rows, css="task-summary")
            + "<h3>Latest tasks</h3>" + table(["task id", "name", "state", "worker pid"], recent, css="tasks"))


def actors_section(snap: dict) -> str:
    rows = [(a["actor_id"], a["class_name"], a["name"], a["state"], a["pid"], a["num_restarts"])
            for a in snap["actors"][-100:]]
    return _state_counts(snap["actors"]) + table(["actor id", "class", "name", "state", "pid", "restarts"], rows,
                                                 css="actors")


def resources_section(snap: dict) -> str:
    total, available = snap["resources"]["total"], snap["resources"]["available"]
    rows = []
    for name, amount in sorted(total.items()):
        used = amount - available.get(name, 0.0)
        if name in ("memory", "object_store_memory"):
            rows.append((name, ("html", _bar(used, amount)[1])))
        else:
            rows.append((name, f"{used:g} of {amount:g} in use"))
    store = snap["store"]
    rows.append(("object store", _bar(store["used_bytes"], store["capacity_bytes"])))
    rows.append(("objects / spilled", f"{store['num_objects']} objects, {format_bytes(store['spilled_bytes'])} spilled"))
    pgs = [(p["placement_group_id"], p["name"], p["state"], p.get("strategy", ""),
            "; ".join(str(b["unit_resources"]) for b in p.get("bundles") or []))
           for p in snap["placement_groups"]]
    return (table(["resource", "use"], rows, css="resources") + "<h3>Placement groups</h3>"
            + table(["id", "name", "state", "strategy", "bundles"], pgs, css="placement-groups"))


def serve_section(serve: Any) -> str:
    if not serve:
        return '<p class="empty">serve is not running</p>'
    if "error" in serve:
        return f'<p class="error">{_e(serve["error"])}</p>'
    rows = []
    for app_name, app in (serve.get("applications") or {}).items():
        for dep_name, dep in (app.get("deployments") or {}).items():
            replicas = ", ".join(f"{k}: {v}" for k, v in sorted((dep.get("replica_states") or {}).items()))
            rows.append((app_name, app.get("status"), dep_name, dep.get("status"), replicas,
                         dep.get("status_trigger", ""), dep.get("message", "")))
    proxies = ", ".join(f"{k}: {v}" for k, v in sorted((serve.get("proxies") or {}).items()))
    return (f"<p>proxies: {_e(proxies or 'none')}</p>"
            + table(["application", "app status", "deployment", "status", "replicas", "last change (autoscaling, "
                     "health checks)", "message"], rows, css="serve"))


def train_section(runs: list[dict]) -> str:
    parts = []
    for run in reversed(runs):
        metrics = run["metrics"][-10:]
        keys = sorted({k for m in metrics for k in m})[:12]
        parts.append(f'<div class="train-run"><h3>{_e(run["name"])} <span class="state">{_e(run["state"])}</span>'
                     f' <small>{run["num_reports"]} reports, {run["failures"]} failures</small></h3>'
                     + (f'<p class="error">{_e(run["error"])}</p>' if run["error"] else "")
                     + table(keys, [[m.get(k, "") for k in keys] for m in metrics], css="train-metrics") + "</div>")
    return "".join(parts) or '<p class="empty">no training run yet</p>'


def logs_section(logs: list[dict]) -> str:
    rows = [(("html", f'<a href="/logs/{quote(entry["file"])}">{_e(entry["file"])}</a>'), entry.get("owner", ""),
             format_bytes(entry["size"])) for entry in logs]
    return table(["log file", "process", "size"], rows, css="logs")


def sections(snap: dict) -> str:
    """The page's live part (what ``/fragment`` returns)."""
    store = snap["store"]
    return (f'<p class="meta">session {_e(snap["session"])} · updated {_e(time.strftime("%H:%M:%S", time.localtime(snap["time"])))}'
            f' · object store {_e(format_bytes(store["used_bytes"]))} of {_e(format_bytes(store["capacity_bytes"]))}</p>'
            f'<section id="datasets"><h2>Datasets</h2>{datasets_section(snap["datasets"])}</section>'
            f'<section id="tasks"><h2>Tasks</h2>{tasks_section(snap)}</section>'
            f'<section id="actors"><h2>Actors</h2>{actors_section(snap)}</section>'
            f'<section id="resources"><h2>Resources</h2>{resources_section(snap)}</section>'
            f'<section id="serve"><h2>Serve</h2>{serve_section(snap["serve"])}</section>'
            f'<section id="train"><h2>Training runs</h2>{train_section(snap["train"])}</section>'
            f'<section id="logs"><h2>Logs</h2>{logs_section(snap["logs"])}</section>')


_STYLE = """body{font-family:system-ui,sans-serif;margin:1em 2em;color:#222}
table{border-collapse:collapse;margin:.4em 0 1em}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
th{background:#f1f1f1}.empty{color:#888}.error{color:#b00}.meta{color:#555}
.bar{display:inline-block;width:120px;height:9px;border:1px solid #888;vertical-align:middle}
.bar span{display:block;height:100%;background:#4a8}.state{font-size:.8em;padding:0 4px;background:#eee}
.running{background:#cfe}.failed{background:#fcc}"""

_SCRIPT = """<script>
(function(){var busy=false;setInterval(function(){if(busy)return;busy=true;
fetch('/fragment').then(function(r){return r.ok?r.text():null}).then(function(t){
if(t!==null){document.getElementById('live').innerHTML=t;}}).catch(function(){}).finally(function(){busy=false;});
},1000);})();
</script>"""


def page(snap: dict) -> str:
    """The whole dashboard document."""
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>streamdata dashboard</title>'
            f"<style>{_STYLE}</style></head><body><h1>streamdata</h1>"
            f'<p><a href="/api/snapshot">JSON</a> · <a href="/api/v0/tasks">tasks</a> · '
            f'<a href="/api/v0/actors">actors</a> · <a href="/metrics">metrics</a></p>'
            f'<div id="live">{sections(snap)}</div>{_SCRIPT}</body></html>')
