"""Serve benchmark: streamdata's serve vs Ray Serve, the same handlers, the same
machine, a bounded load from loopback HTTP clients.

Scenarios (each system in its own fresh subprocess; the load generator in another):

    trivial     ``__call__(request) -> "ok"``, one replica
    sequential  the same handler, one connection, one request after another (latency alone; a
                ~40 ms p50 here is the Nagle + delayed-ACK stall of a response written in pieces)
    batch       ``@serve.batch(max_batch_size=16, batch_wait_timeout_s=0.005)`` behind ``__call__``
    fastapi     ``@serve.ingress(FastAPI())`` route ``GET /hello/{name}``
    kill        two replicas of the trivial handler (it answers its pid) under a steady load;
                one is SIGKILLed; how many requests fail and for how long

The load generator is a small asyncio HTTP/1.1 client (keep-alive connections, one
request in flight per connection): ``--concurrency`` connections send ``--requests``
requests in all (after a warm-up) and record each latency. Figures: throughput
(req/s), p50 and p99 latency (ms), errors; for ``kill``: requests failed, the window
from the kill to the last failed request, and the time until the killed replica's
replacement answered.

The streamdata side and the Ray side run the same code: ``serve`` is ``ray.serve``
or ``streamdata.serve``.

Usage::

    python benchmarks/serve_bench.py                      # both systems, all scenarios
    python benchmarks/serve_bench.py --requests 3000 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ---------------------------------------------------------------- the load generator

async def _one_connection(host: str, port: int, path: str, n: int, out: list, start_evt: float) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            chunked = False
            for line in head.split(b"\r\n"):
                low = line.lower()
                if low.startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
                elif low.startswith(b"transfer-encoding:") and b"chunked" in low:
                    chunked = True
            if chunked:
                body = b""
                while True:
                    size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                    body += await reader.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                body = await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            out.append((time.perf_counter(), time.perf_counter() - t0, -1, type(exc).__name__))
            writer.close()
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(0.01)
            continue
        out.append((time.perf_counter(), time.perf_counter() - t0, status, body[:64].decode(errors="replace")))


async def _load(host: str, port: int, path: str, total: int, concurrency: int) -> list:
    out: list = []
    per = [total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)]
    await asyncio.gather(*(_one_connection(host, port, path, n, out, 0.0) for n in per))
    return out


def load_main(args: argparse.Namespace) -> None:
    """``--load``: run the load and print the raw results as JSON."""
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_load("127.0.0.1", args.port, args.path, args.warmup, args.concurrency))
    t0 = time.perf_counter()
    results = asyncio.run(_load("127.0.0.1", args.port, args.path, args.requests, args.concurrency))
    elapsed = time.perf_counter() - t0
    json.dump({"elapsed": elapsed, "t0": t0, "results": results}, sys.stdout)


def run_load(port: int, path: str, requests: int, concurrency: int, warmup: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--load", "--port", str(port), "--path", path,
                           "--requests", str(requests), "--concurrency", str(concurrency), "--warmup", str(warmup)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout)


def summarize(raw: dict) -> dict:
    results = raw["results"]
    lat = sorted(r[1] for r in results if r[2] == 200)
    errors = sum(1 for r in results if r[2] != 200)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    return {"requests": len(results), "errors": errors, "throughput_rps": round(len(lat) / raw["elapsed"], 1),
            "p50_ms": round(pct(0.50), 2), "p99_ms": round(pct(0.99), 2)}


# ---------------------------------------------------------------- the deployments (same code for both)

def build_apps(serve: Any) -> dict:
    from fastapi import FastAPI

    @serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=100)
    class Trivial:
        def __call__(self, request: Any) -> str:
            return "ok"

    @serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=100)
    class Batched:
        @serve.batch(max_batch_size=16, batch_wait_timeout_s=0.005)
        async def handle(self, items: list) -> list:
            return [f"ok{len(items)}" for _ in items]

        async def __call__(self, request: Any) -> str:
            return await self.handle(request.url.path)

    app = FastAPI()

    @serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=100)
    @serve.ingress(app)
    class Api:
        @app.get("/hello/{name}")
        def hello(self, name: str) -> dict:
            return {"hello": name}

    @serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=100, num_replicas=2)
    class Pid:
        def __call__(self, request: Any) -> str:
            return str(os.getpid())

    return {"trivial": (Trivial, "/trivial", "/trivial"), "sequential": (Trivial, "/seq", "/seq"), "batch": (Batched, "/batch", "/batch"),
            "fastapi": (Api, "/api", "/api/hello/bench"), "kill": (Pid, "/pid", "/pid")}


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def system_main(args: argparse.Namespace) -> None:
    """``--system NAME``: start the system, run every scenario, write the figures."""
    port = _free_port()
    t0 = time.perf_counter()
    if args.system == "ray":
        import ray
        from ray import serve
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    else:
        sys.path.insert(0, ROOT)
        import streamdata as sd
        from streamdata import serve
        sd.init(num_cpus=2)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    apps = build_apps(serve)
    figures: dict = {"startup_s": round(time.perf_counter() - t0, 2)}
    for scenario in args.scenarios.split(","):
        deployment, prefix, path = apps[scenario]
        serve.run(deployment.bind(), name=scenario, route_prefix=prefix)
        if scenario == "kill":
            figures[scenario] = kill_scenario(port, path, args)
        elif scenario == "sequential":
            figures[scenario] = summarize(run_load(port, path, args.sequential_requests, 1, 50))
        else:
            figures[scenario] = summarize(run_load(port, path, args.requests, args.concurrency, args.warmup))
        serve.delete(scenario)
        print(args.system, scenario, figures[scenario], file=sys.stderr, flush=True)
    serve.shutdown()
    with open(args.out, "w") as f:
        json.dump(figures, f)


def kill_scenario(port: int, path: str, args: argparse.Namespace) -> dict:
    """Steady load on two replicas; SIGKILL one after ~1/3 of the requests."""
    import threading

    total = args.kill_requests
    raw: dict = {}
    thread = threading.Thread(target=lambda: raw.update(run_load(port, path, total, args.kill_concurrency, 100)))
    thread.start()
    import urllib.request
    pids = set()
    deadline = time.monotonic() + 60
    while len(pids) < 2 and time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
            pids.add(int(r.read()))
    time.sleep(args.kill_after_s)  # let the steady load run before the kill
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    killed = time.perf_counter()
    thread.join()
    results = raw["results"]
    after = [r for r in results if r[0] >= killed]
    failed = [r for r in after if r[2] != 200]
    new_pids = [r for r in after if r[2] == 200 and r[3].isdigit() and int(r[3]) not in pids]
    s = summarize(raw)
    return {**s, "failed_after_kill": len(failed), "answered_after_kill": len(after) - len(failed),
            "disturbance_s": round(max((r[0] for r in failed), default=killed) - killed, 3),
            "replacement_answered_after_s": round(new_pids[0][0] - killed, 2) if new_pids else None,
            "load_ran_after_kill_s": round(max((r[0] for r in after), default=killed) - killed, 2)}


# ---------------------------------------------------------------- the driver

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--kill-requests", type=int, default=8000)
    parser.add_argument("--kill-concurrency", type=int, default=8)
    parser.add_argument("--kill-after-s", type=float, default=1.0)
    parser.add_argument("--sequential-requests", type=int, default=500)
    parser.add_argument("--scenarios", default="trivial,sequential,batch,fastapi,kill")
    parser.add_argument("--systems", default="streamdata,ray")
    parser.add_argument("--system")
    parser.add_argument("--out")
    parser.add_argument("--load", action="store_true")
    parser.add_argument("--port", type=int)
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.load:
        return load_main(args)
    if args.system:
        return system_main(args)
    figures = {}
    for system in args.systems.split(","):
        out = tempfile.mktemp(suffix=".json")
        cmd = [sys.executable, __file__, "--system", system, "--out", out, "--requests", str(args.requests),
               "--concurrency", str(args.concurrency), "--warmup", str(args.warmup),
               "--kill-requests", str(args.kill_requests), "--kill-concurrency", str(args.kill_concurrency),
               "--kill-after-s", str(args.kill_after_s), "--scenarios", args.scenarios,
               "--sequential-requests", str(args.sequential_requests)]
        env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
        subprocess.run(cmd, check=True, timeout=1800, env=env)
        with open(out) as f:
            figures[system] = json.load(f)
    write_report(figures, args)


def write_report(figures: dict, args: argparse.Namespace) -> None:
    stamp = time.strftime("%Y-%m-%d-%H%M%S")
    command = "python benchmarks/serve_bench.py " + " ".join(sys.argv[1:])
    load = os.getloadavg()
    lines = [f"# serve_bench — {stamp}", "", f"Command: `{command}`", "",
             f"Machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}, "
             f"load average at the end {[round(x, 2) for x in load]} (shared with other jobs).", "",
             f"Load: {args.concurrency} keep-alive loopback connections, {args.requests} requests per scenario "
             f"after {args.warmup} warm-up; kill: {args.kill_concurrency} connections, {args.kill_requests} "
             "requests, one of two replicas SIGKILLed.", "",
             "| scenario | figure | streamdata | ray | streamdata vs ray |", "| --- | --- | --- | --- | --- |"]
    sd, ray = figures.get("streamdata", {}), figures.get("ray", {})
    for scenario in args.scenarios.split(","):
        a, b = sd.get(scenario, {}), ray.get(scenario, {})
        for key in ("throughput_rps", "p50_ms", "p99_ms", "errors", "failed_after_kill", "disturbance_s",
                    "replacement_answered_after_s", "load_ran_after_kill_s"):
            if key not in a and key not in b:
                continue
            va, vb = a.get(key), b.get(key)
            ratio = ""
            comparable = key in ("throughput_rps", "p50_ms", "p99_ms", "failed_after_kill")
            if comparable and isinstance(va, (int, float)) and isinstance(vb, (int, float)) and va and vb:
                ratio = f"{va / vb:.2f}x" if key == "throughput_rps" else f"{vb / va:.2f}x lower"
            lines.append(f"| {scenario} | {key} | {va} | {vb} | {ratio} |")
    lines.append(f"| startup | startup_s | {sd.get('startup_s')} | {ray.get('startup_s')} | |")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    base = os.path.join(HERE, "results", f"serve_bench-{stamp}")
    with open(base + ".json", "w") as f:
        json.dump({"command": command, "figures": figures}, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
