"""Serve's metrics in Prometheus' text format (prometheus_client), as the proxy
exposes them at ``/metrics``: HTTP and gRPC request counts and latencies (by
application, route, method and status), requests in flight at the proxy,
per-deployment request counts, errors and latencies, requests queued in the
routers, replica counts, and the batch sizes ``@serve.batch`` functions ran.

Example:
    >>> m = ProxyMetrics()
    >>> m.observe_http("app", "/", "GET", 200, 0.002)
    >>> 'serve_num_http_requests_total{application="app",method="GET",route="/",status_code="200"} 1.0' in m.render()
    True
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from streamdata.serve.user_metrics import Counter, Gauge, Histogram  # serve.metrics.Counter, ... (Ray's names)

LATENCY_BUCKETS_MS = (0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ProxyMetrics:
    """The proxy's registry; ``snapshot`` supplies the gauges read at scrape time."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]] | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.http_requests = Counter("serve_num_http_requests", "HTTP requests the proxy answered.",
                                     ["application", "route", "method", "status_code"], registry=reg)
        self.http_errors = Counter("serve_num_http_error_requests", "HTTP requests answered with a 4xx/5xx.",
                                   ["application", "route", "method", "status_code"], registry=reg)
        self.http_latency = Histogram("serve_http_request_latency_ms", "Time to answer an HTTP request (ms).",
                                      ["application", "route"], buckets=LATENCY_BUCKETS_MS, registry=reg)
        self.grpc_requests = Counter("serve_num_grpc_requests", "gRPC requests the proxy answered.",
                                     ["application", "method", "status_code"], registry=reg)
        self.ongoing_http = Gauge("serve_num_ongoing_http_requests", "HTTP requests in flight at the proxy.",
                                  registry=reg)
        self.deployment_requests = Counter("serve_deployment_request_counter",
                                           "Requests routed to a deployment (answered).",
                                           ["application", "deployment"], registry=reg)
        self.deployment_errors = Counter("serve_deployment_error_counter", "Requests a deployment failed.",
                                         ["application", "deployment"], registry=reg)
        self.deployment_latency = Histogram("serve_deployment_processing_latency_ms",
                                            "Time from routing a request to its answer (ms).",
                                            ["application", "deployment"], buckets=LATENCY_BUCKETS_MS,
                                            registry=reg)
        self._snapshot = snapshot
        if snapshot is not None:
            reg.register(_SnapshotCollector(snapshot))

    def observe_http(self, app: str, route: str, method: str, status: int, seconds: float,
                     error: bool | None = None) -> None:
        """One answered request; ``error`` (default: a 4xx/5xx ``status``) counts it as an error
        (a WebSocket's ``status`` is its close code)."""
        labels = (app, route, method, str(status))
        self.http_requests.labels(*labels).inc()
        if status >= 400 if error is None else error:
            self.http_errors.labels(*labels).inc()
        self.http_latency.labels(app, route).observe(seconds * 1000.0)

    def observe_deployment(self, app: str, deployment: str, seconds: float, ok: bool) -> None:
        self.deployment_requests.labels(app, deployment).inc()
        if not ok:
            self.deployment_errors.labels(app, deployment).inc()
        self.deployment_latency.labels(app, deployment).observe(seconds * 1000.0)

    def render(self) -> str:
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()


class _SnapshotCollector:
    """Gauges and the batch-size histogram, read when scraped."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self._snapshot = snapshot

    def describe(self) -> Iterable[Any]:
        return []

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

        snap = self._snapshot()
        replicas = GaugeMetricFamily("serve_deployment_replicas", "Replicas serving a deployment.",
                                     labels=["application", "deployment"])
        queued = GaugeMetricFamily("serve_deployment_queued_queries",
                                   "Requests waiting in the proxy's router for a free replica.",
                                   labels=["application", "deployment"])
        ongoing = GaugeMetricFamily("serve_replica_processing_queries", "Requests in flight in a replica.",
                                    labels=["application", "deployment", "replica"])
        for (app, dep), n in snap.get("replicas", {}).items():
            replicas.add_metric([app, dep], n)
        for (app, dep), n in snap.get("queued", {}).items():
            queued.add_metric([app, dep], n)
        batches = HistogramMetricFamily("serve_batch_size", "Sizes of the batches @serve.batch functions ran.",
                                        labels=["application", "deployment", "function"])
        sizes: dict[tuple[str, str, str], dict[int, int]] = {}
        for stats in snap.get("replica_stats", []):
            ongoing.add_metric([stats["application"], stats["deployment"], stats["replica"]], stats["ongoing"])
            for fn, counts in stats.get("batches", {}).items():
                merged = sizes.setdefault((stats["application"], stats["deployment"], fn), {})
                for size, n in counts.items():
                    merged[size] = merged.get(size, 0) + n
        for labels, counts in sizes.items():
            buckets, running = [], 0
            for bound in BATCH_SIZE_BUCKETS:
                running = sum(n for size, n in counts.items() if size <= bound)
                buckets.append((str(float(bound)), running))
            total = sum(counts.values())
            buckets.append(("+Inf", total))
            batches.add_metric(list(labels), buckets, sum(size * n for size, n in counts.items()))
        yield from (replicas, queued, ongoing, batches)


__all__ = ["BATCH_SIZE_BUCKETS", "Counter", "Gauge", "Histogram", "LATENCY_BUCKETS_MS", "ProxyMetrics"]
