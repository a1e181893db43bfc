"""``HTTPOptions``' TLS, ``root_path`` and ``middlewares`` on the real proxy (Uvicorn), with a real
HTTPS client and a self-signed certificate made by ``openssl`` for 127.0.0.1."""

from __future__ import annotations

import gc
import shutil
import ssl
import subprocess
from typing import Any, Iterator

import httpx
import pytest
from starlette.middleware import Middleware
from starlette.requests import Request

import streamdata as sd
from streamdata import serve
from streamdata.serve import HTTPOptions


class TagMiddleware:
    """A pure ASGI middleware that adds a response header."""

    def __init__(self, app: Any, tag: str) -> None:
        self.app, self.tag = app, tag

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        async def tagged(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"x-tag", self.tag.encode())]}
            await send(message)
        await self.app(scope, receive, tagged)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    out = tmp_path_factory.mktemp("tls")
    key, cert = str(out / "key.pem"), str(out / "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, cert


@pytest.fixture(scope="module")
def https_serve(certificate: tuple[str, str]) -> Iterator[str]:
    key, cert = certificate
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    serve.start(http_options=HTTPOptions(port=0, ssl_keyfile=key, ssl_certfile=cert, root_path="/base",
                                         middlewares=[Middleware(TagMiddleware, tag="mw")]))
    yield cert
    serve.shutdown()
    gc.collect()
    sd.shutdown()


@serve.deployment(ray_actor_options={"num_cpus": 0})
class Echo:
    async def __call__(self, request: Request) -> dict:
        return {"path": request.url.path, "root_path": request.scope["root_path"], "scheme": request.url.scheme}


def test_https_root_path_and_middlewares(https_serve: str) -> None:
    serve.run(Echo.bind(), name="echo", route_prefix="/echo")
    address = serve.http_address()
    assert address.startswith("https://127.0.0.1:")
    with httpx.Client(verify=ssl.create_default_context(cafile=https_serve), timeout=30) as client:
        reply = client.get(f"{address}/echo/x")
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"path": "/base/echo/x", "root_path": "/base/echo", "scheme": "https"}
        assert reply.headers["x-tag"] == "mw"
        assert client.get(f"{address}/-/healthz").status_code == 200
    with pytest.raises(httpx.ConnectError):  # the certificate is checked: an unknown CA is refused
        httpx.get(f"{address}/echo/x", timeout=30)
    serve.delete("echo")


def test_bad_http_options_name_the_field(tmp_path) -> None:
    with pytest.raises(ValueError, match="ssl_keyfile and ssl_certfile"):
        HTTPOptions(ssl_keyfile=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="ssl_certfile"):
        HTTPOptions(ssl_keyfile=__file__, ssl_certfile=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="root_path"):
        HTTPOptions(root_path="base")
    with pytest.raises(ValueError, match="location"):
        HTTPOptions(location="Everywhere")
    with pytest.raises(TypeError, match="middlewares"):
        HTTPOptions(middlewares=[TagMiddleware])
    assert not HTTPOptions(location="NoServer").proxy_enabled
