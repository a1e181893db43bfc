"""The serve gRPC proxy as Ray Serve's gRPC guide uses it, on the real runtime with a
real grpc client: an RPC named ``__call__``; Ray's ``RayServeAPIService``
(``ListApplications``, ``Healthz``) through ``streamdata.serve.generated`` and through
Ray's own generated stubs; a ``grpc_context`` keyword argument whose code, details
and trailing metadata are the response's (unary, streamed, set before raising); the
``request_id`` in every response's trailing metadata."""

from __future__ import annotations

import importlib
import sys
import textwrap
from typing import Any, Iterator

import grpc
import pytest
from _serve_util import grpc_stubs

import streamdata as sd
from streamdata import serve
from streamdata.serve.generated import serve_pb2, serve_pb2_grpc
from streamdata.serve.grpc_proxy import service_methods
from streamdata.serve.grpc_util import RayServegRPCContext

NO_CPU = {"num_cpus": 0}

PROTO = textwrap.dedent("""
    syntax = "proto3";
    package sdgrpcctx;
    message Ask { string name = 1; int64 num = 2; }
    message Answer { string greeting = 1; int64 num = 2; }
    service Lookup {
      rpc __call__ (Ask) returns (Answer);
      rpc Find (Ask) returns (Answer);
      rpc Count (Ask) returns (stream Answer);
      rpc Refuse (Ask) returns (Answer);
      rpc Whoami (Ask) returns (Answer);
    }
""")


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    yield from grpc_stubs(tmp_path_factory.mktemp("grpc_ctx_stubs"), "sdgrpcctx", PROTO)


@pytest.fixture(scope="module", autouse=True)
def runtime(stubs: tuple[Any, Any]) -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=4)
    serve.start(http_options={"port": 0}, grpc_options=serve.gRPCOptions(
        port=0, grpc_servicer_functions=["sdgrpcctx_pb2_grpc.add_LookupServicer_to_server"]))
    yield
    serve.shutdown()
    sd.shutdown()


@pytest.fixture(scope="module")
def channel() -> Iterator[grpc.Channel]:
    port = sd.get(sd.get_actor("SERVE_PROXY_ACTOR").ready.remote())["grpc_port"]
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        yield ch


@pytest.fixture(autouse=True)
def clean_apps() -> Iterator[None]:
    yield
    for name in list(serve.status().applications):
        serve.delete(name)


def _lookup(pb2: Any) -> Any:
    @serve.deployment(ray_actor_options=NO_CPU)
    class Lookup:
        def __init__(self) -> None:
            self.nums: dict[str, int] = {}

        def __call__(self, ask: Any) -> Any:  # no grpc_context: it is not passed
            return pb2.Answer(greeting=f"hello {ask.name}", num=ask.num * 2)

        def Find(self, ask: Any, grpc_context: RayServegRPCContext) -> Any:  # noqa: N802 - the RPC's name
            if ask.name in self.nums:
                grpc_context.set_code(grpc.StatusCode.OK)
                grpc_context.set_details(f"{ask.name} found")
            else:
                self.nums[ask.name] = len(self.nums)
                grpc_context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
                grpc_context.set_details(f"{ask.name} not found, added")
            grpc_context.set_trailing_metadata([("num", str(self.nums[ask.name]))])
            return pb2.Answer(greeting=ask.name, num=self.nums[ask.name])

        def Count(self, ask: Any, grpc_context: RayServegRPCContext) -> Iterator[Any]:  # noqa: N802
            for i in range(ask.num):
                yield pb2.Answer(greeting=f"{ask.name} #{i}", num=i)
            grpc_context.set_trailing_metadata([("count", str(ask.num))])  # after the items: still sent
            if ask.name == "short":
                grpc_context.set_code(grpc.StatusCode.OUT_OF_RANGE)
                grpc_context.set_details("ran short")

        async def Refuse(self, ask: Any, grpc_context: RayServegRPCContext) -> Any:  # noqa: N802
            if ask.name == "coded":
                grpc_context.set_code(grpc.StatusCode.PERMISSION_DENIED)
                grpc_context.set_trailing_metadata([("why", "coded")])
                if ask.num:
                    grpc_context.set_details("not you")
            raise ValueError(f"refusing {ask.name}")

        def Whoami(self, ask: Any, grpc_context: RayServegRPCContext) -> Any:  # noqa: N802
            metadata = dict(grpc_context.invocation_metadata())
            request_id = serve.context._get_serve_request_context().request_id
            assert grpc_context.request_id() == request_id, (grpc_context.request_id(), request_id)
            return pb2.Answer(greeting="|".join([
                metadata.get("custom", ""), str(grpc_context.application()),
                str(grpc_context.peer().startswith(("ipv4:", "ipv6:"))), request_id]))

    return Lookup


def _trailing(call: Any) -> dict[str, str]:
    return dict(call.trailing_metadata())


def test_recording_a_servicer_takes_an_rpc_named_dunder_call(stubs: tuple[Any, Any]) -> None:
    methods = service_methods("sdgrpcctx_pb2_grpc.add_LookupServicer_to_server")
    assert sorted(methods["sdgrpcctx.Lookup"]) == ["Count", "Find", "Refuse", "Whoami", "__call__"]


def test_dunder_call_rpc_and_request_id(stubs: tuple[Any, Any], channel: grpc.Channel) -> None:
    pb2, pb2_grpc = stubs
    serve.run(_lookup(pb2).bind(), name="lookup", route_prefix=None)
    stub = pb2_grpc.LookupStub(channel)
    reply, call = stub.__call__.with_call(pb2.Ask(name="foo", num=30), timeout=30)
    assert (call.code(), reply.greeting, reply.num) == (grpc.StatusCode.OK, "hello foo", 60)
    generated = _trailing(call)["request_id"]
    assert generated
    _, call = stub.__call__.with_call(pb2.Ask(name="foo"), timeout=30)
    assert _trailing(call)["request_id"] != generated  # a new id per request
    _, call = stub.__call__.with_call(pb2.Ask(name="foo"), metadata=(("request_id", "123"),), timeout=30)
    assert _trailing(call)["request_id"] == "123"  # the client's id comes back

    reply = stub.Whoami(pb2.Ask(), metadata=(("custom", "x"), ("application", "lookup"), ("request_id", "r-7")),
                        timeout=30)
    assert reply.greeting == "x|lookup|True|r-7"  # the context and serve's request context agree


def test_function_deployment_gets_the_grpc_context(stubs: tuple[Any, Any], channel: grpc.Channel) -> None:
    pb2, pb2_grpc = stubs

    @serve.deployment(ray_actor_options=NO_CPU)
    def shout(ask: Any, grpc_context: RayServegRPCContext) -> Any:
        grpc_context.set_trailing_metadata([("shouted", "yes")])
        return pb2.Answer(greeting=ask.name.upper())

    serve.run(shout.bind(), name="shout", route_prefix=None)
    reply, call = pb2_grpc.LookupStub(channel).__call__.with_call(pb2.Ask(name="hi"), timeout=30)
    assert reply.greeting == "HI"
    assert _trailing(call)["shouted"] == "yes" and _trailing(call)["request_id"]


def test_ray_serve_api_service(stubs: tuple[Any, Any], channel: grpc.Channel) -> None:
    pb2, pb2_grpc = stubs
    stub = serve_pb2_grpc.RayServeAPIServiceStub(channel)
    assert list(stub.ListApplications(serve_pb2.ListApplicationsRequest(), timeout=30).application_names) == []
    serve.run(_lookup(pb2).bind(), name="app1", route_prefix=None)
    serve.run(_lookup(pb2).bind(), name="app2", route_prefix=None)
    reply = stub.ListApplications(serve_pb2.ListApplicationsRequest(), timeout=30)
    assert sorted(reply.application_names) == ["app1", "app2"]
    reply, call = stub.Healthz.with_call(serve_pb2.HealthzRequest(), timeout=30)
    assert reply.message == "success" and _trailing(call)["request_id"]

    # Ray's clients call the service by Ray's name, ray.serve.RayServeAPIService
    ray_stubs = pytest.importorskip("ray.serve.generated.serve_pb2_grpc")
    ray_pb2 = importlib.import_module("ray.serve.generated.serve_pb2")
    ray_stub = ray_stubs.RayServeAPIServiceStub(channel)
    assert sorted(ray_stub.ListApplications(ray_pb2.ListApplicationsRequest(), timeout=30).application_names) == [
        "app1", "app2"]
    assert ray_stub.Healthz(ray_pb2.HealthzRequest(), timeout=30).message == "success"

    with pytest.raises(grpc.RpcError) as err:  # two apps and none named: NOT_FOUND, pointing at the service
        pb2_grpc.LookupStub(channel).__call__(pb2.Ask(name="x"), timeout=30)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert "Application metadata not set" in err.value.details()
    assert "ListApplications" in err.value.details()
    assert _trailing(err.value)["request_id"]


def test_grpc_context_sets_code_details_and_trailing_metadata(stubs: tuple[Any, Any],
                                                              channel: grpc.Channel) -> None:
    pb2, pb2_grpc = stubs
    serve.run(_lookup(pb2).bind(), name="lookup", route_prefix=None)
    stub = pb2_grpc.LookupStub(channel)
    metadata = (("application", "lookup"),)
    with pytest.raises(grpc.RpcError) as err:  # first call: a miss, INVALID_ARGUMENT
        stub.Find.with_call(pb2.Ask(name="foo"), metadata=metadata, timeout=30)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == "foo not found, added"
    trailing = err.value.trailing_metadata()
    assert ("num", "0") in trailing and [k for k, _ in trailing].count("request_id") == 1

    reply, call = stub.Find.with_call(pb2.Ask(name="foo"), metadata=metadata, timeout=30)
    assert (call.code(), reply.num) == (grpc.StatusCode.OK, 0)  # (gRPC sends no details with OK)
    assert _trailing(call)["num"] == "0" and _trailing(call)["request_id"]


def test_grpc_context_of_a_stream_is_applied_after_its_items(stubs: tuple[Any, Any],
                                                             channel: grpc.Channel) -> None:
    pb2, pb2_grpc = stubs
    serve.run(_lookup(pb2).bind(), name="lookup", route_prefix=None)
    stub = pb2_grpc.LookupStub(channel)
    responses = stub.Count(pb2.Ask(name="n", num=3), metadata=(("request_id", "s-1"),), timeout=30)
    assert [r.greeting for r in responses] == ["n #0", "n #1", "n #2"]
    assert responses.code() == grpc.StatusCode.OK
    assert _trailing(responses) == {"request_id": "s-1", "count": "3"}

    responses = stub.Count(pb2.Ask(name="short", num=2), timeout=30)
    got = []
    with pytest.raises(grpc.RpcError) as err:
        for r in responses:
            got.append(r.num)
    assert got == [0, 1]
    assert (err.value.code(), err.value.details()) == (grpc.StatusCode.OUT_OF_RANGE, "ran short")
    assert _trailing(err.value)["count"] == "2"


def test_a_code_set_before_raising_is_the_response_code(stubs: tuple[Any, Any], channel: grpc.Channel) -> None:
    pb2, pb2_grpc = stubs
    serve.run(_lookup(pb2).bind(), name="lookup", route_prefix=None)
    stub = pb2_grpc.LookupStub(channel)
    with pytest.raises(grpc.RpcError) as err:  # no code set: INTERNAL with the exception
        stub.Refuse(pb2.Ask(name="plain"), timeout=30)
    assert err.value.code() == grpc.StatusCode.INTERNAL
    assert err.value.details() == "ValueError: refusing plain"
    assert _trailing(err.value)["request_id"]

    with pytest.raises(grpc.RpcError) as err:  # a code set: that code, the exception as details
        stub.Refuse(pb2.Ask(name="coded"), metadata=(("request_id", "c-1"),), timeout=30)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert err.value.details() == "ValueError: refusing coded"
    assert _trailing(err.value) == {"request_id": "c-1", "why": "coded"}

    with pytest.raises(grpc.RpcError) as err:  # a code and details set: both
        stub.Refuse(pb2.Ask(name="coded", num=1), timeout=30)
    assert (err.value.code(), err.value.details()) == (grpc.StatusCode.PERMISSION_DENIED, "not you")


# ---------------------------------------------------------------- units

def test_the_context_travels_and_keeps_the_request_id_first() -> None:
    import pickle

    from streamdata.serve.grpc_util import GrpcOutcome, gRPCStatusError, grpc_call_kwargs, grpc_status_error

    ctx = RayServegRPCContext()
    ctx.set_trailing_metadata([("request_id", "r1")])
    ctx.set_trailing_metadata([("a", "1"), ("request_id", "other")])  # the id is the proxy's
    ctx.set_trailing_metadata([("b", "2")])  # a later call replaces the method's own
    assert ctx.trailing_metadata() == [("request_id", "r1"), ("b", "2")]
    with pytest.raises(TypeError, match="grpc.StatusCode"):
        ctx.set_code(3)
    ctx.set_code(grpc.StatusCode.ABORTED)
    copy = pickle.loads(pickle.dumps(GrpcOutcome(ctx, "value")))
    assert (copy.value, copy.context.code(), copy.context.request_id()) == ("value", grpc.StatusCode.ABORTED, "r1")

    def method(request: Any, grpc_context: RayServegRPCContext) -> None: ...
    assert grpc_call_kwargs(method, {"grpc_context": ctx}) == ({"grpc_context": ctx}, ctx)
    assert grpc_call_kwargs(lambda request: None, {"grpc_context": ctx}) == ({}, None)

    error = pickle.loads(pickle.dumps(grpc_status_error(ValueError("no"), ctx)))
    assert isinstance(error, gRPCStatusError) and str(error) == "ValueError: no"
    assert error.context.code() == grpc.StatusCode.ABORTED
    plain = ValueError("no")
    assert grpc_status_error(plain, RayServegRPCContext()) is plain  # no code set: the exception itself


def test_the_api_service_is_left_out_with_a_warning_when_the_generated_code_cannot_load(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from streamdata.serve import grpc_proxy

    class Server:
        def __init__(self) -> None:
            self.services: list[str] = []

        def add_generic_rpc_handlers(self, handlers: Any) -> None:
            self.services += [h._name for h in handlers]

    server = Server()
    grpc_proxy._add_api_service(server, client=None)
    assert server.services == ["streamdata.serve.RayServeAPIService", "ray.serve.RayServeAPIService"]

    import streamdata.serve.generated as generated

    monkeypatch.delattr(generated, "serve_pb2")  # its import fails (as with too old a protobuf)
    monkeypatch.setitem(sys.modules, "streamdata.serve.generated.serve_pb2", None)
    server = Server()
    with caplog.at_level("WARNING", logger="streamdata.serve"):
        grpc_proxy._add_api_service(server, client=None)
    assert server.services == []
    assert "does not serve RayServeAPIService" in caplog.text


def test_grpc_status_error_is_a_serve_exception_under_rays_path() -> None:
    from streamdata.serve.exceptions import RayServeException, gRPCStatusError

    assert issubclass(gRPCStatusError, RayServeException)
