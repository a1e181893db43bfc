"""The serve gRPC proxy's client-streaming and bidirectional-streaming RPCs (Ray
Serve's ``gRPCInputStream``), ``gRPCOptions.request_timeout_s`` and the client's own
deadline, and gRPC server reflection (``gRPCOptions.enable_reflection``): on the real
runtime with a real grpc client."""

from __future__ import annotations

import asyncio
import queue
import textwrap
from typing import Any, AsyncIterator, Iterator

import grpc
import pytest
from _serve_util import async_wait_until, grpc_stubs, wait_until

import streamdata as sd
from streamdata import serve
from streamdata.serve.grpc_util import RayServegRPCContext, gRPCInputStream

NO_CPU = {"num_cpus": 0}
#: the proxy's request_timeout_s in this module: every other call ends well before it
TIMEOUT_S = 3.0

PROTO = textwrap.dedent("""
    syntax = "proto3";
    package sdgrpcstream;
    message Num { int64 value = 1; }
    message Total { int64 sum = 1; int64 count = 2; string note = 3; }
    service Numbers {
      rpc Sum (stream Num) returns (Total);
      rpc Running (stream Num) returns (stream Total);
      rpc Watch (stream Num) returns (Total);
      rpc Status (Num) returns (Total);
      rpc Slow (Num) returns (Total);
      rpc SlowStream (Num) returns (stream Total);
      rpc Release (Num) returns (Total);
    }
""")


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    yield from grpc_stubs(tmp_path_factory.mktemp("grpc_stream_stubs"), "sdgrpcstream", PROTO)


@pytest.fixture(scope="module", autouse=True)
def runtime(stubs: tuple[Any, Any]) -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    serve.start(http_options={"port": 0}, grpc_options=serve.gRPCOptions(
        port=0, grpc_servicer_functions=["sdgrpcstream_pb2_grpc.add_NumbersServicer_to_server"],
        request_timeout_s=TIMEOUT_S))
    yield
    serve.shutdown()
    sd.shutdown()


@pytest.fixture(scope="module")
def channel() -> Iterator[grpc.Channel]:
    port = sd.get(sd.get_actor("SERVE_PROXY_ACTOR").ready.remote())["grpc_port"]
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch


@pytest.fixture()
def numbers(stubs: tuple[Any, Any], channel: grpc.Channel) -> Iterator[tuple[Any, Any]]:
    """(pb2, stub) with the ``Numbers`` application running."""
    pb2, pb2_grpc = stubs
    serve.run(_numbers(pb2).bind(), name="numbers", route_prefix=None)
    stub = pb2_grpc.NumbersStub(channel)
    yield pb2, stub
    stub.Release(pb2.Num(), timeout=30)  # a call still held (timed out at the client) ends
    serve.delete("numbers")


def _numbers(pb2: Any) -> Any:
    @serve.deployment(ray_actor_options=NO_CPU)
    class Numbers:
        def __init__(self) -> None:
            self.seen: list[int] = []
            self.cancelled: bool | None = None
            self.gate = asyncio.Event()

        async def Sum(self, request_stream: gRPCInputStream,  # noqa: N802 - the RPC's name
                      grpc_context: RayServegRPCContext) -> Any:
            assert isinstance(request_stream, gRPCInputStream)
            values = [num.value async for num in request_stream]
            if -1 in values:
                raise ValueError(f"negative after {values.index(-1)} numbers")
            grpc_context.set_trailing_metadata([("count", str(len(values)))])
            return pb2.Total(sum=sum(values), count=len(values), note=f"{request_stream.is_exhausted} {request_stream.is_cancelled()}")

        async def Running(self, request_stream: gRPCInputStream) -> AsyncIterator[Any]:  # noqa: N802
            total = 0
            async for num in request_stream:
                total += num.value
                yield pb2.Total(sum=total)

        async def Watch(self, request_stream: gRPCInputStream) -> Any:  # noqa: N802
            async for num in request_stream:
                self.seen.append(num.value)
            self.cancelled = request_stream.is_cancelled()
            return pb2.Total(count=len(self.seen))

        def Status(self, num: Any) -> Any:  # noqa: N802
            return pb2.Total(count=len(self.seen), note=str(self.cancelled))

        async def Slow(self, num: Any) -> Any:  # noqa: N802
            await asyncio.wait_for(self.gate.wait(), 60)
            return pb2.Total(sum=num.value)

        async def SlowStream(self, num: Any) -> AsyncIterator[Any]:  # noqa: N802
            for i in range(num.value):
                yield pb2.Total(sum=i)
            await asyncio.wait_for(self.gate.wait(), 60)
            yield pb2.Total(sum=-1)

        def Release(self, num: Any) -> Any:  # noqa: N802
            self.gate.set()
            return pb2.Total()

    return Numbers


class _Feed:
    """A client's request stream fed by the test, one message at a time."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()

    def send(self, message: Any) -> None:
        self._queue.put(message)

    def close(self) -> None:
        self._queue.put(None)

    def __iter__(self) -> Iterator[Any]:
        while (message := self._queue.get()) is not None:
            yield message


def test_client_streaming(numbers: tuple[Any, Any]) -> None:
    pb2, stub = numbers
    reply, call = stub.Sum.with_call((pb2.Num(value=v) for v in range(1, 6)), metadata=(("request_id", "cs-1"),),
                                     timeout=30)
    assert (reply.sum, reply.count, reply.note) == (15, 5, "True False")
    assert dict(call.trailing_metadata()) == {"request_id": "cs-1", "count": "5"}
    assert stub.Sum(iter(()), timeout=30).count == 0  # an empty stream

    with pytest.raises(grpc.RpcError) as err:  # the method raises: INTERNAL with its error
        stub.Sum(iter([pb2.Num(value=1), pb2.Num(value=-1)]), timeout=30)
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert err.value.details() == "ValueError: negative after 1 numbers"
    assert dict(err.value.trailing_metadata())["request_id"]


def test_bidirectional_streaming_answers_while_the_client_still_sends(numbers: tuple[Any, Any]) -> None:
    pb2, stub = numbers
    feed = _Feed()
    responses = stub.Running(iter(feed), timeout=30)
    for value, running in ((1, 1), (2, 3), (10, 13)):
        feed.send(pb2.Num(value=value))
        assert next(responses).sum == running  # answered before the next message is sent
    feed.close()
    assert list(responses) == []
    assert responses.code() == grpc.StatusCode.OK
    assert dict(responses.trailing_metadata())["request_id"]


def test_a_cancelled_client_stream_ends_the_methods_iteration(numbers: tuple[Any, Any]) -> None:
    pb2, stub = numbers
    feed = _Feed()
    future = stub.Watch.future(iter(feed), timeout=30)
    feed.send(pb2.Num(value=7))
    wait_until(lambda: stub.Status(pb2.Num(), timeout=30).count == 1, what="the replica reading the stream")
    future.cancel()  # gRPC tells the proxy as the end of the messages first: the method's loop ends
    wait_until(lambda: stub.Status(pb2.Num(), timeout=30).note != "None", what="the method's loop ending")
    feed.close()
    with pytest.raises(grpc.FutureCancelledError):
        future.result()


def test_request_timeout_s_cancels_a_request_stream_the_method_still_reads(numbers: tuple[Any, Any]) -> None:
    pb2, stub = numbers
    feed = _Feed()
    future = stub.Watch.future(iter(feed), timeout=60)
    feed.send(pb2.Num(value=1))
    with pytest.raises(grpc.RpcError) as err:
        future.result()
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert err.value.details() == f"Request timed out after {TIMEOUT_S}s."
    wait_until(lambda: stub.Status(pb2.Num(), timeout=30).note == "True", what="the method seeing the cancel")
    feed.close()


def test_request_timeout_s_ends_a_call_with_deadline_exceeded(numbers: tuple[Any, Any]) -> None:
    pb2, stub = numbers
    with pytest.raises(grpc.RpcError) as err:
        stub.Slow(pb2.Num(value=1), metadata=(("request_id", "slow-1"),), timeout=60)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert err.value.details() == f"Request timed out after {TIMEOUT_S}s."  # Ray's words
    assert dict(err.value.trailing_metadata())["request_id"] == "slow-1"

    responses = stub.SlowStream(pb2.Num(value=2), timeout=60)
    got = []
    with pytest.raises(grpc.RpcError) as err:  # the items sent before the limit arrive, then the status
        for item in responses:
            got.append(item.sum)
    assert got == [0, 1]
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    stub.Release(pb2.Num(), timeout=30)
    assert stub.Slow(pb2.Num(value=4), timeout=30).sum == 4  # within the limit: answered


def test_the_clients_own_deadline(numbers: tuple[Any, Any]) -> None:
    pb2, stub = numbers
    with pytest.raises(grpc.RpcError) as err:  # shorter than request_timeout_s: gRPC ends the call
        stub.Slow(pb2.Num(value=1), timeout=0.5)
    assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    stub.Release(pb2.Num(), timeout=30)
    assert stub.Slow(pb2.Num(value=2), timeout=30).sum == 2  # the proxy serves on


def test_server_reflection_lists_the_users_services(numbers: tuple[Any, Any], channel: grpc.Channel) -> None:
    from google.protobuf.descriptor_pool import DescriptorPool
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    database = ProtoReflectionDescriptorDatabase(channel)
    assert sorted(database.get_services()) == ["grpc.reflection.v1alpha.ServerReflection", "sdgrpcstream.Numbers"]
    service = DescriptorPool(database).FindServiceByName("sdgrpcstream.Numbers")
    methods = {m.name: (m.client_streaming, m.server_streaming) for m in service.methods}
    assert methods["Sum"] == (True, False) and methods["Running"] == (True, True)


# ---------------------------------------------------------------- units

def test_grpc_options_validate_the_new_fields() -> None:
    assert serve.gRPCOptions().enable_reflection is True  # Ray's default
    with pytest.raises(ValueError, match="request_timeout_s"):
        serve.gRPCOptions(request_timeout_s="5")
    with pytest.raises(ValueError, match="enable_reflection"):
        serve.gRPCOptions(enable_reflection="yes")


def test_reflection_is_off_when_disabled(stubs: tuple[Any, Any]) -> None:
    """The proxy's server started alone (no call is routed, so no runtime is needed)."""
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    from streamdata.serve import grpc_proxy

    async def reflection_code(enable: bool) -> grpc.StatusCode:
        server, port = await grpc_proxy._serve(None, {
            "port": 0, "enable_reflection": enable,
            "grpc_servicer_functions": ["sdgrpcstream_pb2_grpc.add_NumbersServicer_to_server"]}, None)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                replies = reflection_pb2_grpc.ServerReflectionStub(ch).ServerReflectionInfo(
                    iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=30)
                try:
                    async for _ in replies:
                        pass
                except grpc.aio.AioRpcError as exc:
                    return exc.code()
                return grpc.StatusCode.OK
        finally:
            await server.stop(None)

    assert asyncio.run(reflection_code(False)) == grpc.StatusCode.UNIMPLEMENTED
    assert asyncio.run(reflection_code(True)) == grpc.StatusCode.OK


class _Gated:
    """A deployment whose streaming methods read the request stream once ``gate`` opens."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.cancelled: bool | None = None

    async def Sum(self, request_stream: gRPCInputStream) -> int:  # noqa: N802
        await self.gate.wait()
        values = [n async for n in request_stream]
        self.cancelled = request_stream.is_cancelled()
        return sum(values)

    async def Echo(self, request_stream: gRPCInputStream) -> AsyncIterator[int]:  # noqa: N802
        async for n in request_stream:
            yield n
        self.cancelled = request_stream.is_cancelled()




def _in_one_process(test: Any, window: int = 4) -> None:
    """Run ``test(server, obj, conn)`` with a replica of :class:`_Gated` and a connection to it in this process."""
    import os
    import tempfile

    from streamdata.serve.channel import ReplicaConnection
    from streamdata.serve.replica import ReplicaServer

    async def main() -> None:
        obj = _Gated()
        server = ReplicaServer(obj, "app", "Gated", "r0")
        server.request_stream_window = window
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            path = os.path.join(tmp, "r.sock")
            await server.listen(path)
            conn = ReplicaConnection("r0", path, "Gated")
            try:
                await test(server, obj, conn)
                await async_wait_until(lambda: server.ongoing == 0, "the replica's requests ending")
                assert not any(server._inboxes.values())  # nothing left behind
            finally:
                conn.close()
                server._server.close()

    asyncio.run(main())


def test_the_request_stream_is_flow_controlled() -> None:
    """The proxy's end sends a request stream only as far as the replica's credit: at most
    ``window`` messages wait unread in the replica; reading them lets the rest come."""
    from streamdata.serve import wire

    async def test(server: Any, obj: _Gated, conn: Any) -> None:
        pulled = 0

        async def numbers() -> AsyncIterator[int]:
            nonlocal pulled
            for n in range(20):
                pulled += 1
                yield n

        answer = asyncio.ensure_future(conn.call("Sum", (), kind=wire.GRPC, feed=numbers()))
        await async_wait_until(lambda: pulled == 4, "the window's messages")
        await conn.call("stats", kind=wire.CONTROL)  # a round trip: what the replica sent before is read
        (inbox,) = server._inboxes[next(iter(server._inboxes))].values()
        assert (pulled, len(inbox), conn._credits[1].available) == (4, 4, 0)
        obj.gate.set()  # the method reads: credit comes back, the other 16 follow
        assert await asyncio.wait_for(answer, 30) == sum(range(20))
        assert obj.cancelled is False and pulled == 20

    _in_one_process(test)


def test_request_stream_end_and_cancel() -> None:
    """The stream ends when the caller's messages end; it is cancelled (after the messages
    sent before) when the caller leaves, or when its messages fail."""
    from streamdata.serve import wire

    async def test(server: Any, obj: _Gated, conn: Any) -> None:
        async def counting(n: int) -> AsyncIterator[int]:
            for i in range(n):
                yield i

        answers = conn.stream("Echo", (), kind=wire.GRPC, feed=counting(3))
        assert [n async for n in answers] == [0, 1, 2] and obj.cancelled is False
        assert [n async for n in conn.stream("Echo", (), kind=wire.GRPC, feed=counting(0))] == []

        hold = asyncio.Event()

        async def held() -> AsyncIterator[int]:
            yield 1
            await hold.wait()
            yield 2

        obj.cancelled = None
        answers = conn.stream("Echo", (), kind=wire.GRPC, feed=held())
        assert await anext(answers) == 1
        await answers.aclose()  # the caller leaves (the client cancelled, a deadline) while the method reads
        await async_wait_until(lambda: obj.cancelled is not None, "the method's loop ending")
        assert obj.cancelled is True

        async def failing() -> AsyncIterator[int]:
            yield 5
            raise ConnectionResetError("the client reset the call")

        obj.cancelled = None
        assert [n async for n in conn.stream("Echo", (), kind=wire.GRPC, feed=failing())] == [5]
        assert obj.cancelled is True

    _in_one_process(test)


class _Messages:
    """A picklable async iterator of messages."""

    def __init__(self, *messages: Any) -> None:
        self.messages = list(messages)

    def __aiter__(self) -> _Messages:
        return self

    async def __anext__(self) -> Any:
        if not self.messages:
            raise StopAsyncIteration
        return self.messages.pop(0)


def test_input_stream_pickles_without_its_event() -> None:
    import pickle

    from streamdata.serve.duplex import RequestInbox

    stream = gRPCInputStream(_Messages(1, 2))
    stream.cancel()
    copy = pickle.loads(pickle.dumps(stream))
    assert copy.is_cancelled() and not copy.is_exhausted
    with pytest.raises(TypeError, match="async for"):  # a sync method that loops over it is told how
        iter(copy)

    async def read(stream: gRPCInputStream) -> list[Any]:
        return [m async for m in stream]

    assert asyncio.run(read(pickle.loads(pickle.dumps(gRPCInputStream(_Messages(1, 2)))))) == [1, 2]
    with pytest.raises(TypeError, match="read in the replica"):  # a replica's request stream stays there
        pickle.dumps(gRPCInputStream(RequestInbox()))
