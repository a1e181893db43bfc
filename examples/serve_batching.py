"""Serving a model with request batching: concurrent requests reach the model in batches.

A deployment with ``@serve.batch`` runs on two replica actors; requests come
through the Python handle and through the HTTP ingress on 127.0.0.1, and the
Prometheus metrics show the batch sizes.

Run: python examples/serve_batching.py
"""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from starlette.requests import Request

import streamdata as sd
from streamdata import serve


@serve.deployment(num_replicas=2, max_ongoing_requests=16, ray_actor_options={"num_cpus": 0.5})
class LinearModel:
    def __init__(self, weights: list[float]) -> None:
        self.weights = np.asarray(weights)

    async def __call__(self, request: Request) -> dict:
        """HTTP: the body is one feature vector (JSON)."""
        return await self.predict(await request.json())

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.05)
    async def predict(self, features: list[list[float]]) -> list[dict]:
        # one matrix product for the whole batch instead of one per request
        scores = np.asarray(features) @ self.weights
        return [{"score": float(s), "batch_size": len(features)} for s in scores]


def main() -> None:
    sd.init(num_cpus=2)
    serve.start(http_options={"port": 0})  # any free port on 127.0.0.1
    handle = serve.run(LinearModel.bind([0.5, -1.0, 2.0]), name="linear")

    # 32 requests at once through the handle: they are answered in batches
    responses = [handle.predict.remote([i, 1.0, 0.5]) for i in range(32)]
    results = [r.result(timeout_s=60) for r in responses]
    print("handle: first results", results[:3])
    print("handle: batch sizes seen", sorted({r["batch_size"] for r in results}))

    # the same model over HTTP, from 8 client threads
    url = serve.http_address() + "/"

    def post(i: int) -> dict:
        req = urllib.request.Request(url, data=json.dumps([i, 0.0, 1.0]).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())

    with ThreadPoolExecutor(8) as pool:
        http_results = list(pool.map(post, range(16)))
    print("http: scores", [r["score"] for r in http_results[:4]], "...")

    with urllib.request.urlopen(serve.http_address() + "/metrics", timeout=60) as resp:
        metrics = resp.read().decode()
    print("metrics:")
    for line in metrics.splitlines():
        if line.startswith(("serve_batch_size_count", "serve_deployment_request_counter_total",
                            "serve_num_http_requests_total")):
            print("  " + line)
    assert all(r["score"] == 0.5 * i - 1.0 + 1.0 for i, r in enumerate(results))
    assert max(r["batch_size"] for r in results) > 1
    serve.shutdown()


if __name__ == "__main__":
    main()
