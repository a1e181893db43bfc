"""What Ray Serve's doc pages show inline and the ``serve_pages`` probe found missing
(docs/ray_docs_probe/serve_pages.py): the asynchronous-inference API of ``asynchronous-inference.md``
(``serve.schema.TaskProcessorConfig`` / ``CeleryAdapterConfig``, ``serve.task_consumer``'s
``task_consumer``, ``task_handler``, ``instantiate_adapter_from_config``), here with a queue adapter
of the test's own (a folder of task files) on real replicas, queried over HTTP through the proxy."""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from streamdata import serve
from streamdata.serve.schema import CeleryAdapterConfig, TaskProcessorAdapter, TaskProcessorConfig, TaskResult
from streamdata.serve.task_consumer import instantiate_adapter_from_config, task_consumer, task_handler

from _serve_util import wait_until

NO_CPU = {"num_cpus": 0}


class FolderQueue(TaskProcessorAdapter):
    """A task queue in a folder: ``<id>.task`` (JSON name/args/kwargs), ``<id>.result`` once run."""

    def __init__(self, config: TaskProcessorConfig) -> None:
        self.dir = Path(config.adapter_config["dir"]) / config.queue_name
        self.handlers: dict[str, Any] = {}
        self.stopped = threading.Event()
        self.concurrency = 0

    def initialize(self, consumer_concurrency: int = 5) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.concurrency = consumer_concurrency

    def register_task_handle(self, func: Any, name: str | None = None) -> None:
        self.handlers[name or func.__name__] = func

    def enqueue_task_sync(self, task_name: str, args: Any = None, kwargs: Any = None, **options: Any) -> TaskResult:
        task_id = uuid.uuid4().hex
        tmp = self.dir / f"{task_id}.tmp"
        tmp.write_text(json.dumps({"name": task_name, "args": args or [], "kwargs": kwargs or {}}))
        tmp.rename(self.dir / f"{task_id}.task")
        return TaskResult(id=task_id, status="PENDING", result=None)

    def get_task_status_sync(self, task_id: str) -> TaskResult:
        done = self.dir / f"{task_id}.result"
        if done.exists():
            return TaskResult(id=task_id, **json.loads(done.read_text()))
        return TaskResult(id=task_id, status="PENDING", result=None)

    def start_consumer(self, **kwargs: Any) -> None:
        threading.Thread(target=self._consume, daemon=True).start()

    def _consume(self) -> None:
        while not self.stopped.wait(0.02):  # the adapter's own polling of its queue folder
            for task in sorted(self.dir.glob("*.task")):
                claimed = task.with_suffix(f".{os.getpid()}")
                try:
                    task.rename(claimed)
                except FileNotFoundError:  # another replica took it
                    continue
                body = json.loads(claimed.read_text())
                try:
                    out = {"status": "SUCCESS", "result": self.handlers[body["name"]](*body["args"], **body["kwargs"])}
                except Exception as exc:  # noqa: BLE001 - a failed task is a FAILURE result
                    out = {"status": "FAILURE", "result": repr(exc)}
                out["result"] = {"value": out["result"], "pid": os.getpid(), "concurrency": self.concurrency}
                tmp = task.with_suffix(".tmp")
                tmp.write_text(json.dumps(out))
                tmp.rename(task.with_suffix(".result"))

    def stop_consumer(self, timeout: float = 10.0) -> None:
        self.stopped.set()

    def cancel_task_sync(self, task_id: str) -> None:
        (self.dir / f"{task_id}.task").unlink(missing_ok=True)

    def get_metrics_sync(self) -> dict[str, Any]:
        return {"queued": len(list(self.dir.glob("*.task")))}

    def health_check_sync(self) -> list[dict]:
        return [{"consumer": not self.stopped.is_set()}]


def test_task_processor_config_models_and_handler_marks() -> None:
    cfg = TaskProcessorConfig(queue_name="q", adapter_config=CeleryAdapterConfig(
        broker_url="redis://localhost:6379/0", backend_url="redis://localhost:6379/1"), failed_task_queue_name="dlq")
    assert (cfg.max_retries, cfg.failed_task_queue_name, cfg.unprocessable_task_queue_name) == (3, "dlq", None)
    assert cfg.adapter_config.broker_url == "redis://localhost:6379/0"
    with pytest.raises(ValueError):  # pydantic: the queue name is required
        TaskProcessorConfig(adapter_config={})

    @task_handler
    def plain(self: Any) -> None: ...

    @task_handler(name="named")
    async def coro(self: Any) -> None: ...

    assert (plain._task_name, coro._task_name) == ("plain", "named")
    with pytest.raises(ValueError, match="non-empty string"):
        task_handler(name=" ")

    @task_consumer(task_processor_config=cfg)
    class Consumer:
        """Doc."""

    assert (Consumer.__name__, Consumer.__doc__) == ("Consumer", "Doc.")
    # The default adapter (Celery) needs celery, as on Ray; a "ray.serve." path names streamdata's.
    # (It runs tasks in tests/serve/test_serve_celery.py.)
    for adapter in (cfg.adapter, "ray.serve.task_processor.CeleryTaskProcessorAdapter"):
        config = cfg.model_copy(update={"adapter": adapter})
        if importlib.util.find_spec("celery") is None:
            with pytest.raises(ModuleNotFoundError, match="celery"):
                instantiate_adapter_from_config(config)
        else:  # built and initialized without reaching the broker
            adapter_obj = instantiate_adapter_from_config(config)
            assert type(adapter_obj).__name__ == "CeleryTaskProcessorAdapter"
    with pytest.raises(TypeError, match="must inherit from TaskProcessorAdapter"):
        instantiate_adapter_from_config(cfg.model_copy(update={"adapter": dict}))


def test_task_consumer_replicas_run_tasks_an_ingress_enqueues_over_http(serve_http: str, tmp_path: Path) -> None:
    config = TaskProcessorConfig(queue_name="docs", adapter=FolderQueue, adapter_config={"dir": str(tmp_path)})

    @serve.deployment(num_replicas=2, max_ongoing_requests=3, ray_actor_options=NO_CPU)
    @task_consumer(task_processor_config=config)
    class Indexer:
        def __init__(self, prefix: str) -> None:
            self.prefix = prefix

        @task_handler(name="index")
        def index_document(self, text: str, upper: bool = False) -> str:
            return self.prefix + (text.upper() if upper else text)

        @task_handler
        def fail(self) -> None:
            raise ValueError("bad document")

    @serve.deployment(ray_actor_options=NO_CPU)
    class API:
        def __init__(self, cfg: TaskProcessorConfig, consumer: Any) -> None:
            self.adapter = instantiate_adapter_from_config(cfg)

        async def __call__(self, request: Request) -> dict:
            if request.method == "POST":
                body = await request.json()
                task = self.adapter.enqueue_task_sync(task_name=body["task"], kwargs=body.get("kwargs"))
                return {"task_id": task.id, "status": task.status}
            status = self.adapter.get_task_status_sync(request.query_params["id"])
            return {"status": status.status, "result": status.result}

    serve.run(API.bind(config, Indexer.bind("doc:")), name="async_inference", route_prefix="/tasks")
    with httpx.Client(base_url=serve_http, timeout=30) as client:
        ids = []
        for i in range(6):
            r = client.post("/tasks", json={"task": "index", "kwargs": {"text": f"t{i}", "upper": i % 2 == 1}})
            assert r.status_code == 200 and r.json()["status"] == "PENDING", r.text
            ids.append(r.json()["task_id"])
        failing = client.post("/tasks", json={"task": "fail"}).json()["task_id"]

        def status(task_id: str) -> dict:
            return client.get("/tasks", params={"id": task_id}).json()

        wait_until(lambda: all(status(t)["status"] != "PENDING" for t in [*ids, failing]), 60, "the tasks to run")
        results = [status(t) for t in ids]
        assert [r["result"]["value"] for r in results] == ["doc:t0", "doc:T1", "doc:t2", "doc:T3", "doc:t4", "doc:T5"]
        assert {r["status"] for r in results} == {"SUCCESS"}
        assert {r["result"]["concurrency"] for r in results} == {3}  # initialize(max_ongoing_requests)
        failed = status(failing)
        assert failed["status"] == "FAILURE" and "bad document" in failed["result"]["value"]
    serve.delete("async_inference")


def test_task_consumer_in_local_testing_mode(tmp_path: Path) -> None:
    config = TaskProcessorConfig(queue_name="local", adapter=FolderQueue, adapter_config={"dir": str(tmp_path)})

    @serve.deployment
    @task_consumer(task_processor_config=config)
    class Echo:
        @task_handler
        def echo(self, x: int) -> int:
            return x * 2

        def __call__(self) -> str:
            return "up"

    handle = serve.run(Echo.bind(), _local_testing_mode=True)
    assert handle.remote().result() == "up"
    adapter = instantiate_adapter_from_config(config)
    task = adapter.enqueue_task_sync("echo", args=[21])
    wait_until(lambda: adapter.get_task_status_sync(task.id).status == "SUCCESS", 30, "the local consumer")
    assert adapter.get_task_status_sync(task.id).result["value"] == 42
