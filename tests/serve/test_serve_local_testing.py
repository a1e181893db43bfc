"""``serve.run(app, _local_testing_mode=True)``: the application built in this process
(no controller, replicas or proxy), called through local handles."""

from __future__ import annotations

import asyncio
import os

import pytest

from streamdata import serve


@serve.deployment(user_config={"factor": 3})
class Scaler:
    def __init__(self) -> None:
        self.factor = 1

    def reconfigure(self, config: dict) -> None:
        self.factor = config["factor"]

    def __call__(self, x: int) -> int:
        return x * self.factor

    def where(self) -> int:
        return os.getpid()

    async def count_to(self, n: int):  # noqa: ANN201 - a streaming method
        for i in range(1, n + 1):
            yield i

    def fail(self) -> None:
        raise KeyError("not here")

    def request_id(self) -> str:
        return serve.context.get_request_context().request_id


@serve.deployment
def add_one(x: int) -> int:
    return x + 1


@serve.deployment
class Pipeline:
    def __init__(self, scaler, adder) -> None:  # noqa: ANN001 - handles
        self.scaler, self.adder = scaler, adder

    async def __call__(self, x: int) -> int:
        return await self.adder.remote(self.scaler.remote(x))  # a response passed on, resolved first


def test_calls_methods_streams_and_errors_run_in_this_process() -> None:
    handle = serve.run(Scaler.bind(), _local_testing_mode=True)
    assert handle.remote(2).result() == 6  # reconfigure ran with the user_config
    assert handle.where.remote().result() == os.getpid()
    assert list(handle.options(stream=True).count_to.remote(3)) == [1, 2, 3]
    with pytest.raises(KeyError, match="not here"):
        handle.fail.remote().result()
    first, second = handle.request_id.remote().result(), handle.request_id.remote().result()
    assert first and second and first != second
    with pytest.raises(AttributeError, match="no method 'nope'"):
        handle.nope.remote()


def test_composition_and_await() -> None:
    handle = serve.run(Pipeline.bind(Scaler.bind(), add_one.bind()), _local_testing_mode=True)
    assert handle.remote(5).result() == 16

    async def main() -> int:
        return await handle.remote(1)

    assert asyncio.run(main()) == 4
