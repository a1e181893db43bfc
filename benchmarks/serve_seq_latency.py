"""Serve's per-request cost without a load generator: one caller, one request after another.

Starts a one-replica deployment, then times 5 × 1,500 sequential ``handle.f.remote(1).result()``
calls and 5 × 1,000 sequential ``GET /`` over one keep-alive HTTP connection, and prints the median
microseconds per request of each. One caller at a time leaves nothing to queue, so a change in the
request path shows here without the throughput runs' noise. Compare two checkouts by alternating:

    for co in /tmp/base .; do PYTHONPATH=$co python benchmarks/serve_seq_latency.py; done
"""

from __future__ import annotations

import http.client
import statistics
import time

import streamdata as sd
from streamdata import serve


@serve.deployment
class Echo:
    def __call__(self, request: object = None) -> str:
        return "ok"

    def f(self, x: int) -> int:
        return x


def per_request_us(call: object, n: int, reps: int = 5) -> float:
    """Median over ``reps`` of the microseconds per call of ``n`` calls in a row."""
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(n):
            call()  # type: ignore[operator]
        times.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(times)


def main() -> None:
    sd.init(num_cpus=2)
    handle = serve.run(Echo.bind(), route_prefix="/")
    for _ in range(200):  # warm: connections, the replica's first calls
        handle.f.remote(1).result()
    conn = http.client.HTTPConnection("127.0.0.1", 8000)

    def get() -> None:
        conn.request("GET", "/")
        conn.getresponse().read()

    handle_us = per_request_us(lambda: handle.f.remote(1).result(), 1500)
    http_us = per_request_us(get, 1000)
    print(f"handle_us={handle_us:.1f} http_us={http_us:.1f}")
    serve.shutdown()
    sd.shutdown()


if __name__ == "__main__":
    main()
