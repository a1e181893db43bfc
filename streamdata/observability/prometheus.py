"""The driver's Prometheus endpoint: runtime, data and custom metrics under Ray's names.

Served with ``prometheus_client`` (the ``serve`` extra) on 127.0.0.1 when asked
(``sd.init(_metrics_export_port=8080)``, or :func:`start_metrics_server`). Each
scrape reads the runtime's state then (nothing is sampled in between):

* ``ray_tasks{State, Name}``, ``ray_actors{State, Name}``, ``ray_placement_groups{State}``;
* ``ray_object_store_memory{Location}``, ``ray_object_store_available_memory``,
  ``ray_object_store_num_local_objects``, ``ray_resources{Name, State}``;
* per dataset and operator (``dataset``, ``operator`` labels):
  ``ray_data_output_rows``, ``ray_data_output_bytes``, ``ray_data_num_tasks_submitted``,
  ``ray_data_cpu_time_s``, ``ray_data_task_submission_backpressure_time``,
  ``ray_data_peak_object_store_bytes``, and ``ray_data_object_store_budget_bytes`` per dataset;
* every custom metric of :mod:`streamdata.util.metrics` as ``ray_<name>`` (a counter as
  ``ray_<name>_total``), with its tags as labels.

:func:`families` is the pure part (state in, metric families out), tested without processes.
"""

from __future__ import annotations

from typing import Any, Iterable

#: what runtime metrics are built from (a snapshot, so tests can build one by hand)
Snapshot = dict


def _need_prometheus() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:  # pragma: no cover - the serve extra is missing
        raise ImportError("the metrics endpoint needs prometheus_client: pip install 'streamdata[serve]' "
                          "(or pip install prometheus_client)") from exc
    return prometheus_client


def take_snapshot(timeout: float = 10.0) -> Snapshot:
    """Everything a scrape shows, read from the runtime now (the driver process)."""
    from streamdata.core import context
    from streamdata.exec import live
    from streamdata.util.metrics import collect
    client = context.current_client()
    return {"task_counts": client.call("state", "task_counts", timeout=timeout),
            "actors": client.call("state", "actors", timeout=timeout),
            "placement_groups": client.call("state", "placement_groups", timeout=timeout),
            "store": client.call("store_stats", timeout=timeout),
            "total": client.call("cluster_resources", timeout=timeout),
            "available": client.call("available_resources", timeout=timeout),
            "datasets": live.datasets(), "custom": collect(timeout)}


def _count(rows: list[dict], *keys: str) -> dict[tuple, int]:
    out: dict[tuple, int] = {}
    for row in rows:
        key = tuple(row.get(k) or "" for k in keys)
        out[key] = out.get(key, 0) + 1
    return out


def families(snap: Snapshot) -> list[Any]:
    """The metric families of one snapshot (``prometheus_client`` core objects)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
    out: list[Any] = []

    def gauge(name: str, doc: str, labels: list[str], samples: Iterable[tuple[tuple, float]]) -> None:
        fam = GaugeMetricFamily(name, doc, labels=labels)
        for values, value in samples:
            fam.add_metric([str(v) for v in values], float(value))
        out.append(fam)

    tasks: dict[tuple, int] = {}
    for name, _kind, state, n in snap["task_counts"]:
        tasks[(state, name)] = tasks.get((state, name), 0) + n
    gauge("ray_tasks", "Tasks by state and name (finished ones: the last the runtime keeps).",
          ["State", "Name"], tasks.items())
    gauge("ray_actors", "Actors by state and class.", ["State", "Name"],
          _count(snap["actors"], "state", "class_name").items())
    gauge("ray_placement_groups", "Placement groups by state.", ["State"],
          _count(snap["placement_groups"], "state").items())
    store = snap["store"]
    gauge("ray_object_store_memory", "Object store memory in use, in bytes.", ["Location"],
          [(("MMAP_SHM",), store["used_bytes"]), (("SPILLED",), store["spilled_bytes"])])
    gauge("ray_object_store_available_memory", "Object store memory free, in bytes.", [],
          [((), max(0, store["capacity_bytes"] - store["used_bytes"]))])
    gauge("ray_object_store_num_local_objects", "Objects in the object store.", [], [((), store["num_objects"])])
    resources = []
    for name, total in snap["total"].items():
        available = snap["available"].get(name, 0.0)
        resources += [((name, "USED"), total - available), ((name, "AVAILABLE"), available)]
    gauge("ray_resources", "Logical resources by state.", ["Name", "State"], resources)
    _data_families(snap["datasets"], gauge)
    out += _custom_families(snap["custom"], CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily)
    return out


_DATA_OPERATOR_METRICS = (
    ("ray_data_output_rows", "rows_out", "Rows an operator produced."),
    ("ray_data_output_bytes", "bytes_out", "Bytes an operator produced."),
    ("ray_data_num_tasks_submitted", "tasks", "Tasks an operator submitted."),
    ("ray_data_cpu_time_s", "cpu_s", "CPU seconds of an operator's tasks."),
    ("ray_data_task_submission_backpressure_time", "backpressure_s",
     "Seconds an operator had inputs held back (backpressure or no resources)."),
    ("ray_data_peak_object_store_bytes", "peak_bytes", "Peak bytes an operator had in the object store."),
)


def _data_families(datasets: list[dict], gauge: Any) -> None:
    for metric, key, doc in _DATA_OPERATOR_METRICS:
        samples = []
        for ds in datasets:
            label = f"{ds['name']}_{ds['id']}"
            samples += [((label, op["name"]), op[key]) for op in ds["operators"]]
        gauge(metric, doc, ["dataset", "operator"], samples)
    gauge("ray_data_object_store_budget_bytes", "The object store budget of a dataset's execution.",
          ["dataset", "state"], [((f"{ds['name']}_{ds['id']}", ds["state"]), ds["budget_bytes"])
                                 for ds in datasets])


def _custom_families(custom: dict, counter_cls: Any, gauge_cls: Any, hist_cls: Any) -> list[Any]:
    by_name: dict[str, Any] = {}
    for name, (kind, doc, tag_keys, boundaries) in custom["defs"].items():
        full = "ray_" + name
        cls = {"counter": counter_cls, "gauge": gauge_cls, "histogram": hist_cls}[kind]
        by_name[name] = cls(full, doc or name, labels=list(tag_keys))
    for (name, tags), value in custom["values"].items():
        fam = by_name.get(name)
        if fam is None:
            continue
        tag_map = dict(tags)
        labels = [tag_map.get(k, "") for k in custom["defs"][name][2]]
        kind, _, _, boundaries = custom["defs"][name]
        if kind == "histogram":
            counts, total, _count = value
            buckets, running = [], 0
            for bound, n in zip(list(boundaries or ()) + [float("inf")], counts):
                running += n
                buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
            fam.add_metric(labels, buckets, total)
        else:
            fam.add_metric(labels, float(value))
    return list(by_name.values())


class RuntimeCollector:
    """A ``prometheus_client`` collector that reads the runtime at each scrape."""

    def __init__(self, snapshot: Any = take_snapshot) -> None:
        self._snapshot = snapshot

    def describe(self) -> list:
        return []  # unknown until a scrape: never collect at registration

    def collect(self) -> Iterable[Any]:
        return families(self._snapshot())


def render(snapshot: Snapshot | None = None) -> str:
    """The Prometheus text exposition of one snapshot (default: the runtime's, now)."""
    prometheus_client = _need_prometheus()
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(RuntimeCollector((lambda: snapshot) if snapshot is not None else take_snapshot))
    return prometheus_client.generate_latest(registry).decode()


def start_metrics_server(port: int = 0, host: str = "127.0.0.1") -> tuple[Any, int]:
    """Serve ``/metrics`` on ``host:port`` (0: a free port) in a daemon thread; returns (server, port)."""
    prometheus_client = _need_prometheus()
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ValueError(f"_metrics_export_port must be an int port in 0..65535, got {port!r}")
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(RuntimeCollector())
    server, _thread = prometheus_client.start_http_server(port, addr=host, registry=registry)
    return server, server.server_address[1]
