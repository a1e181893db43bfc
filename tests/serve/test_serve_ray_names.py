"""Ray Serve names beyond the basics: ``Deployment.options`` (incl. ``func_or_class``),
``max_replicas_per_node`` on one node, ``run_many``/``RunTarget``, handle and response
attributes, ``shutdown_async``, ``get_trace_context``."""

from __future__ import annotations

import asyncio

import pytest

import streamdata as sd
from streamdata import serve

NO_CPU = {"num_cpus": 0}


@serve.deployment(ray_actor_options=NO_CPU)
class Adder:
    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, x: int) -> int:
        return x + self.n


class Multiplier:
    def __init__(self, n: int) -> None:
        self.n = n

    def __call__(self, x: int) -> int:
        return x * self.n


def test_options_change_settings_and_target() -> None:
    two = Adder.options(num_replicas=2, name="adder2", version="v2", max_queued_requests=4)
    assert (two.name, two.num_replicas, two.version, two.max_queued_requests) == ("adder2", 2, "v2", 4)
    times = Adder.options(func_or_class=Multiplier)
    assert times.func_or_class is Multiplier and times.name == "Adder"
    assert Adder.options(max_replicas_per_node=2, num_replicas=2).config.max_replicas_per_node == 2
    with pytest.raises(ValueError, match="more than one node"):
        Adder.options(max_replicas_per_node=1, num_replicas=3)
    with pytest.raises(ValueError, match="more than one node"):
        serve.deployment(max_replicas_per_node=2, autoscaling_config={"min_replicas": 1, "max_replicas": 4})(
            Multiplier)
    with pytest.raises(ValueError, match="max_replicas_per_node"):
        Adder.options(max_replicas_per_node=0)
    with pytest.raises(NotImplementedError, match="max_surge_percent"):
        Adder.options(max_surge_percent=50)
    with pytest.raises(TypeError, match="unexpected argument"):
        Adder.options(num_replica=2)
    with pytest.raises(TypeError, match="func_or_class"):
        Adder.options(func_or_class=3)
    with pytest.raises(NotImplementedError, match="external_scaler_enabled"):
        serve.RunTarget(Adder.bind(1), external_scaler_enabled=True)
    assert serve.get_trace_context() is None


def test_run_many_and_handle_attributes(serve_no_proxy: None) -> None:
    plus, times = serve.run_many([
        serve.RunTarget(Adder.bind(10), name="plus", route_prefix="/plus"),
        serve.RunTarget(Adder.options(func_or_class=Multiplier, name="Times").bind(3), name="times",
                        route_prefix=None),
    ])
    assert plus.remote(1).result(timeout_s=60) == 11
    assert times.remote(2).result(timeout_s=60) == 6
    assert (plus.deployment_name, plus.app_name) == ("Adder", "plus")
    assert (times.deployment_name, times.app_name) == ("Times", "times")
    response = plus.remote(5)
    assert response.result(timeout_s=60) == 15 and not response.cancelled()
    with pytest.raises(ValueError, match="distinct"):
        serve.run_many([serve.RunTarget(Adder.bind(1), name="a", route_prefix="/x"),
                        serve.RunTarget(Adder.bind(2), name="b", route_prefix="/x")])
    with pytest.raises(TypeError, match="RunTarget"):
        serve.run_many([Adder.bind(1)])
    serve.delete("plus")
    serve.delete("times")


def test_shutdown_async(serve_no_proxy: None) -> None:
    serve.run(Adder.bind(1), name="last", route_prefix=None)
    assert "last" in serve.status().applications
    asyncio.run(serve.shutdown_async())
    assert serve.status().applications == {}
    with pytest.raises(KeyError, match="no application named 'last'"):
        serve.get_app_handle("last")
    serve.start(proxy_location="Disabled")  # the fixture's teardown shuts it down again


@sd.remote(num_cpus=0)
class _Gate:
    """Opened by the test, awaited by the deployment (a gate outside Serve's request slots)."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()

    async def open(self) -> None:
        self.opened.set()

    async def wait(self) -> None:
        await self.opened.wait()


@serve.deployment(ray_actor_options=NO_CPU, max_ongoing_requests=1)
class Gated:
    """Answers once the gate opens: the one request it holds keeps the next ones waiting."""

    def __init__(self, gate: object) -> None:
        self.gate = gate

    async def __call__(self, x: int) -> int:
        await self.gate.wait.remote()
        return x


def test_a_cancelled_request_raises_rays_request_cancelled_error(serve_no_proxy: None) -> None:
    from streamdata.serve.exceptions import RayServeException, RequestCancelledError

    gate = _Gate.remote()
    handle = serve.run(Gated.bind(gate), name="gate", route_prefix=None)
    held = handle.remote(1)
    waiting = handle.remote(2)
    assert waiting.cancel() is True and waiting.cancelled()
    with pytest.raises(RequestCancelledError, match="cancelled") as caught:
        waiting.result(timeout_s=60)
    assert isinstance(caught.value, RayServeException) and isinstance(caught.value, sd.exceptions.TaskCancelledError)
    sd.get(gate.open.remote())
    assert held.result(timeout_s=60) == 1
    serve.delete("gate")
