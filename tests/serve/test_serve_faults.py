"""Fault tolerance under a bounded loopback load: SIGKILL a replica, the proxy and
the controller while clients keep sending HTTP requests, and check that serve
recovers (a new replica, a restarted proxy, a controller that took its
applications back from its checkpoint) and what the clients saw meanwhile."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from typing import Any, Iterator

import httpx
import pytest
from _serve_util import wait_until
from starlette.requests import Request

import streamdata as sd
from streamdata import serve

N_CLIENTS = 4


@pytest.fixture(scope="module", autouse=True)
def runtime() -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=4)
    serve.start(http_options={"port": 0, "request_timeout_s": 3.0})
    yield
    serve.shutdown()
    sd.shutdown()


@serve.deployment(ray_actor_options={"num_cpus": 0}, num_replicas=2, max_ongoing_requests=8)
class Pid:
    def __call__(self, request: Request | None = None) -> int:
        return os.getpid()


class Load:
    """``N_CLIENTS`` threads sending GETs one after another (keep-alive), until stopped."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.results: list[tuple[float, int, str]] = []  # (time, status or -1, body or error)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(N_CLIENTS)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)

    def _run(self) -> None:
        client = httpx.Client(timeout=30)
        while not self._stop.is_set():
            try:
                r = client.get(self.url)
                item = (time.monotonic(), r.status_code, r.text)
            except httpx.HTTPError as exc:
                item = (time.monotonic(), -1, type(exc).__name__)
                client.close()
                client = httpx.Client(timeout=30)
            with self._lock:
                self.results.append(item)
        client.close()

    def ok_since(self, t0: float) -> list[int]:
        with self._lock:
            return [int(body) for t, status, body in self.results if t >= t0 and status == 200]

    def failures(self) -> list[tuple[float, int, str]]:
        with self._lock:
            return [r for r in self.results if r[1] != 200]


def _proxy_pid() -> int:
    return sd.get(sd.get_actor("SERVE_PROXY_ACTOR").ready.remote(), timeout=30)["pid"]


def _controller_pid() -> int:
    return sd.get(sd.get_actor("SERVE_CONTROLLER_ACTOR").ping.remote(), timeout=30)


def _running(app: str) -> int:
    return serve.status().applications[app].deployments["Pid"].replica_states.get("RUNNING", 0)


def test_replica_kill_under_load() -> None:
    handle = serve.run(Pid.bind(), name="pids", route_prefix="/pid")
    url = serve.http_address() + "/pid"
    with Load(url) as load:
        start = time.monotonic()
        wait_until(lambda: len(set(load.ok_since(start))) == 2, what="both replicas to answer")
        victim = load.ok_since(start)[0]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(lambda: len(set(load.ok_since(killed_at)) - {victim}) == 2, what="a replacement replica")
        wait_until(lambda: len(load.ok_since(killed_at)) >= 200, what="200 answers after the kill")
    failures = load.failures()
    total = len(load.results)
    # requests in flight on the dead replica fail with a clear error; new ones go elsewhere
    assert len(failures) <= 8 * N_CLIENTS, failures
    for _, status, body in failures:
        assert status == 500 and "ActorDiedError" in body and "died" in body, body
    assert len(load.ok_since(killed_at)) >= 200 and total > len(failures)
    assert _running("pids") == 2
    assert victim not in {handle.remote().result() for _ in range(10)}


def test_proxy_kill_under_load() -> None:
    serve.run(Pid.bind(), name="pids", route_prefix="/pid")
    url = serve.http_address() + "/pid"
    old = _proxy_pid()
    with Load(url) as load:
        start = time.monotonic()
        wait_until(lambda: len(load.ok_since(start)) >= 20, what="answers before the kill")
        os.kill(old, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(lambda: len(load.ok_since(killed_at + 0.001)) >= 100, timeout=90,
                   what="answers from the restarted proxy")
    assert _proxy_pid() != old
    for _, status, body in load.failures():  # only connections cut by the kill, no wrong answers
        assert status == -1, body
    assert httpx.get(serve.http_address() + "/-/healthz", timeout=30).status_code == 200


def test_controller_kill_recovers_from_its_checkpoint() -> None:
    serve.run(Pid.bind(), name="pids", route_prefix="/pid")
    url = serve.http_address() + "/pid"
    before = {serve.get_app_handle("pids").remote().result() for _ in range(20)}
    old = _controller_pid()
    with Load(url) as load:
        start = time.monotonic()
        wait_until(lambda: len(load.ok_since(start)) >= 20, what="answers before the kill")
        os.kill(old, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_until(lambda: _controller_pid() != old, timeout=90, what="the controller to restart")
        wait_until(lambda: len(load.ok_since(killed_at)) >= 100, what="answers while the controller restarts")
    # the data plane does not go through the controller: no request failed
    assert load.failures() == []
    # the new controller took the running replicas back (the same processes) ...
    assert _running("pids") == 2
    assert {serve.get_app_handle("pids").remote().result() for _ in range(20)} == before
    # ... and manages them: a replica killed now is replaced
    victim = next(iter(before))
    os.kill(victim, signal.SIGKILL)
    handle = serve.get_app_handle("pids")
    wait_until(lambda: _running("pids") == 2 and victim not in {handle.remote().result() for _ in range(10)},
               what="the recovered controller to replace a replica")
    serve.run(Pid.options(num_replicas=1).bind(), name="more", route_prefix="/more")
    assert httpx.get(serve.http_address() + "/more", timeout=30).status_code == 200


@serve.deployment(ray_actor_options={"num_cpus": 0})
class Sleepy:
    async def __call__(self, request: Any) -> str:
        await asyncio.sleep(float(request.query_params["s"]))
        return "awake"


def test_http_request_timeout_gives_408() -> None:
    serve.run(Sleepy.bind(), name="sleepy", route_prefix="/sleepy")
    url = serve.http_address() + "/sleepy"
    assert httpx.get(url, params={"s": 0}, timeout=30).text == "awake"
    r = httpx.get(url, params={"s": 10}, timeout=30)
    assert r.status_code == 408 and r.json()["error"] == "RequestTimeout"
