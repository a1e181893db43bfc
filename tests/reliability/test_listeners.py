"""Listener scan: while a pipeline, a trainer and a serve app run, every listening socket of the
process tree binds loopback (127.0.0.1 / ::1) only."""

from __future__ import annotations

import os
import socket
import threading
import time
import urllib.request

import psutil
import pytest

import streamdata as sd
from streamdata import train

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.reliability

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


class Scanner(threading.Thread):
    """Collects (pid, ip, port) of every TCP/UDP listener of this process tree until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="listener-scan")
        self.seen: set[tuple[int, str, int]] = set()
        self.scans = 0
        self._halt = threading.Event()

    def scan(self) -> None:
        me = psutil.Process()
        tree = {me.pid} | {p.pid for p in me.children(recursive=True)}
        for c in psutil.net_connections(kind="inet"):
            if c.pid in tree and c.laddr and (c.status == psutil.CONN_LISTEN or c.type == socket.SOCK_DGRAM):
                self.seen.add((c.pid, c.laddr.ip, c.laddr.port))
        self.scans += 1

    def run(self) -> None:
        while not self._halt.wait(0.05):
            self.scan()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)
        self.scan()


def _train_loop(config: dict) -> None:
    import torch.distributed as dist
    for step in range(3):
        t = torch.ones(1)
        dist.all_reduce(t)
        train.report({"step": step, "sum": float(t)})


def test_every_listener_binds_loopback(figures):
    from streamdata import serve
    from streamdata.train.torch import TorchTrainer

    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    scanner = Scanner()
    scanner.start()
    try:
        serve.start(http_options={"port": 0})

        @serve.deployment(ray_actor_options={"num_cpus": 0})
        class Echo:
            def __call__(self, request) -> str:
                return "ok"

        serve.run(Echo.bind(), name="echo", route_prefix="/echo")
        address = serve.http_address()
        port = int(address.rsplit(":", 1)[1])
        assert urllib.request.urlopen(address + "/echo", timeout=30).read() == b"ok"
        rows = sd.range(2000, override_num_blocks=8).map_batches(lambda b: b).count()
        assert rows == 2000
        result = TorchTrainer(_train_loop, scaling_config=train.ScalingConfig(
            num_workers=2, resources_per_worker={"CPU": 0.5})).fit()
        assert result.metrics["sum"] == 2.0
    finally:
        scanner.stop()
        try:
            serve.shutdown()
        finally:
            sd.shutdown()
    exposed = sorted(s for s in scanner.seen if s[1] not in LOOPBACK)
    assert any(s[2] == port for s in scanner.seen), "the scan missed the serve HTTP listener: it sees nothing"
    assert exposed == [], f"listeners on non-loopback addresses (pid, ip, port): {exposed}"
    figures.record("listener scan (pipeline + TorchTrainer + serve)", runs=scanner.scans,
                   inputs_tried=len(scanner.seen),
                   notes=f"{len(scanner.seen)} listeners seen, all loopback")
