"""A FastAPI app served by two replicas, a streamed response, and a composed model.

``@serve.ingress(app)`` serves the FastAPI routes from the class's methods (path and
query parameters, a pydantic request body, a dependency); ``/stream`` streams its
answer as it is produced; ``Preprocess`` is a second deployment the ingress calls
through a handle. Everything listens on 127.0.0.1.

Run: python examples/serve_fastapi.py
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import httpx
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from starlette.responses import StreamingResponse

import streamdata as sd
from streamdata import serve

app = FastAPI()


class Review(BaseModel):
    text: str


def api_user(x_user: str = "anonymous") -> str:
    return x_user


@serve.deployment(ray_actor_options={"num_cpus": 0})
class Preprocess:
    def __call__(self, text: str) -> list[str]:
        return text.lower().split()


@serve.deployment(num_replicas=2, ray_actor_options={"num_cpus": 0})
@serve.ingress(app)
class Sentiment:
    def __init__(self, preprocess: Any) -> None:
        self.preprocess = preprocess
        self.positive = {"good", "great", "love"}

    @app.post("/score")
    async def score(self, review: Review, user: str = Depends(api_user)) -> dict:
        words = await self.preprocess.remote(review.text)
        hits = sum(w in self.positive for w in words)
        return {"user": user, "score": hits / max(1, len(words)),
                "replica": serve.get_replica_context().replica_tag}

    @app.get("/stream")
    def stream(self, n: int = 3) -> StreamingResponse:
        def tokens() -> Iterator[str]:
            for i in range(n):
                yield f"token {i}\n"
                time.sleep(0.05)
        return StreamingResponse(tokens(), media_type="text/plain")


def main() -> None:
    sd.init(num_cpus=2)
    serve.start(http_options={"port": 0})
    serve.run(Sentiment.bind(Preprocess.bind()), name="sentiment", route_prefix="/sentiment")
    url = serve.http_address() + "/sentiment"
    with httpx.Client(base_url=url, timeout=60) as client:
        r = client.post("/score?x_user=ann", json={"text": "Great food, love it"})
        print("score:", r.json())
        print("bad body:", client.post("/score", json={"txt": 1}).status_code)
        with client.stream("GET", "/stream", params={"n": 4}) as s:
            for line in s.iter_lines():
                print("streamed:", line)
    print("status:", serve.status().applications["sentiment"].status.value)
    serve.shutdown()


if __name__ == "__main__":
    main()
