"""The Celery task-processor adapter (``serve.task_processor.CeleryTaskProcessorAdapter``, the
default of ``TaskProcessorConfig``) with real Celery and no server: kombu's ``filesystem://``
transport as the broker and Celery's ``file://`` result backend, both in the test's temporary
folder, configured the way a Ray program does (``CeleryAdapterConfig``'s ``broker_url``,
``backend_url`` and ``broker_transport_options``).

Covered: ``@task_consumer`` deployments on real replicas (one Celery worker thread each) running
tasks the driver enqueues through ``instantiate_adapter_from_config``; failing handlers (retries,
``FAILURE``, the failed-task queue); tasks of unknown names (the unprocessable-task queue); the
health check, metrics, cancelling, stopping a consumer; the adapter's errors for bad configs."""

from __future__ import annotations

import fcntl
import importlib
import os
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("celery")

from celery import Celery  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from streamdata import serve  # noqa: E402
from streamdata.serve.schema import CeleryAdapterConfig, TaskProcessorConfig  # noqa: E402
from streamdata.serve.task_consumer import instantiate_adapter_from_config, task_consumer, task_handler  # noqa: E402
from streamdata.serve.task_processor import CeleryTaskProcessorAdapter  # noqa: E402

from _serve_util import wait_until  # noqa: E402

# Celery's worker warns when it runs as root (as in CI containers).
pytestmark = pytest.mark.filterwarnings("ignore:You're running the worker with superuser privileges")

NO_CPU = {"num_cpus": 0}
DONE = {"SUCCESS", "FAILURE", "REVOKED"}


class Relay:
    """Moves each message file that kombu's filesystem transport has finished writing from the
    outbox to the queue folder the consumers read.

    kombu (5.7) creates a message file, then locks and writes it; a consumer polling the folder
    the file is created in can take it in between and read it empty (a ``JSONDecodeError`` that
    ends the Celery worker: it happened under load in CI). A file is moved (one atomic rename)
    once it has content and no writer holds its lock. Real brokers (Redis, RabbitMQ) need none
    of this.
    """

    _running: list["Relay"] = []

    def __init__(self, outbox: Path, queue: Path) -> None:
        self._outbox, self._queue = outbox, queue
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kombu-relay", daemon=True)
        self._thread.start()
        Relay._running.append(self)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            for name in sorted(os.listdir(self._outbox)):
                try:
                    with open(self._outbox / name, "rb") as f:
                        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # the writer is done
                        if os.fstat(f.fileno()).st_size:  # else created, not yet written
                            os.rename(self._outbox / name, self._queue / name)
                except (BlockingIOError, FileNotFoundError):
                    continue

    @classmethod
    def stop_all(cls) -> None:
        while cls._running:
            relay = cls._running.pop()
            relay._stop.set()
            relay._thread.join()


@pytest.fixture(autouse=True)
def _relays() -> Iterator[None]:
    yield
    Relay.stop_all()


def transport_options(root: Path) -> dict[str, Any]:
    """kombu's filesystem transport with every folder under ``root`` (its defaults are relative
    to the working directory and the system's temporary folder); messages reach the queue
    folder through a :class:`Relay` (started once per ``root``)."""
    folders = {name: root / name for name in ("outbox", "queue", "processed", "control")}
    fresh = not folders["outbox"].exists()
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    if fresh:
        Relay(folders["outbox"], folders["queue"])
        # kombu writes an exchange's bindings file under a lock, but creates it without one: two
        # workers binding their broadcast queues at once can both create it, and the second
        # overwrites the first (that worker then never hears a ping). Created here, empty, every
        # binding goes through the locked update.
        for exchange in ("celery.pidbox", "reply.celery.pidbox", "celeryev"):
            (folders["control"] / f"{exchange}.exchange").write_text("[]")
    return {"data_folder_in": str(folders["queue"]), "data_folder_out": str(folders["outbox"]),
            "processed_folder": str(folders["processed"]), "store_processed": True,
            "control_folder": str(folders["control"]), "polling_interval": 0.05}


def celery_config(root: Path, queue: str, **fields: Any) -> TaskProcessorConfig:
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    return TaskProcessorConfig(queue_name=queue, adapter_config=CeleryAdapterConfig(
        broker_url="filesystem://", backend_url=f"file://{results}",
        broker_transport_options=transport_options(root)), **fields)


def dead_letters(config: TaskProcessorConfig, queue: str, count: int) -> list[Any]:
    """The first ``count`` messages of a dead-letter queue (nobody consumes those), read with a
    Celery app of the test's own."""
    reader = Celery("reader", broker=config.adapter_config.broker_url)
    reader.conf.broker_transport_options = config.adapter_config.broker_transport_options
    with reader.connection_for_read() as conn:
        q = conn.SimpleQueue(queue, no_ack=True)
        try:
            return [q.get(timeout=30) for _ in range(count)]
        finally:
            q.close()


def wait_done(adapter: Any, task_ids: list[str], timeout: float = 60) -> dict[str, Any]:
    wait_until(lambda: all(adapter.get_task_status_sync(t).status in DONE for t in task_ids), timeout,
               lambda: f"tasks to finish: {[adapter.get_task_status_sync(t).status for t in task_ids]}")
    return {t: adapter.get_task_status_sync(t) for t in task_ids}


def test_consumer_replicas_run_the_tasks_the_driver_enqueues(serve_http: str, tmp_path: Path) -> None:
    config = celery_config(tmp_path, "indexing", max_retries=1, failed_task_queue_name="indexing_failed",
                           unprocessable_task_queue_name="indexing_unprocessable")

    @serve.deployment(num_replicas=2, max_ongoing_requests=2, ray_actor_options=NO_CPU)
    @task_consumer(task_processor_config=config)
    class Indexer:
        def __init__(self, prefix: str) -> None:
            self.prefix = prefix
            self.attempts = 0

        @task_handler(name="index")
        def index_document(self, text: str, upper: bool = False) -> dict:
            return {"text": self.prefix + (text.upper() if upper else text),
                    "replica": serve.get_replica_context().replica_tag}

        @task_handler
        def fail(self, doc_id: int) -> None:
            raise ValueError(f"bad document {doc_id}")

        def __call__(self) -> str:
            return self.prefix

    handle = serve.run(Indexer.bind("doc:"), name="celery_consumers", route_prefix=None)
    assert handle.remote().result() == "doc:"  # requests are served besides the tasks
    adapter = instantiate_adapter_from_config(config)  # the driver's (a producer: no worker)
    assert isinstance(adapter, CeleryTaskProcessorAdapter)

    # One worker per replica, named after the queue and the replica, with max_ongoing_requests threads.
    wait_until(lambda: len(adapter.health_check_sync()) == 2, 60, "both replicas' workers to answer a ping")
    pongs = {name: reply for answer in adapter.health_check_sync() for name, reply in answer.items()}
    assert len(pongs) == 2 and all(reply == {"ok": "pong"} for reply in pongs.values()), pongs
    assert all(name.startswith("celery@indexing_") for name in pongs), pongs
    stats = adapter.get_metrics_sync()
    assert set(stats) == set(pongs)
    assert {s["pool"]["max-concurrency"] for s in stats.values()} == {2}

    submitted = [adapter.enqueue_task_sync("index", kwargs={"text": f"t{i}", "upper": i % 2 == 1}) for i in range(6)]
    assert {t.status for t in submitted} == {"PENDING"} and all(t.created_at for t in submitted)
    failing = adapter.enqueue_task_sync("fail", args=[7])
    unknown = adapter.enqueue_task_sync("no_such_task", args=[1], kwargs={"x": 2})
    results = wait_done(adapter, [t.id for t in [*submitted, failing, unknown]])

    done = [results[t.id] for t in submitted]
    assert {r.status for r in done} == {"SUCCESS"}
    assert [r.result["text"] for r in done] == ["doc:t0", "doc:T1", "doc:t2", "doc:T3", "doc:t4", "doc:T5"]
    assert {f"celery@indexing_{r.result['replica']}" for r in done} <= set(pongs)

    # A failing handler: retried max_retries times, then FAILURE with its exception, and a copy of
    # the task in the failed-task queue: [task id, error, args, kwargs, traceback].
    failed = results[failing.id]
    assert failed.status == "FAILURE"
    assert isinstance(failed.result, ValueError) and str(failed.result) == "bad document 7"
    [dead] = dead_letters(config, "indexing_failed", 1)
    assert dead.headers["task"] == "fail"
    task_id, error, args, kwargs, trace = dead.payload[0]
    assert (task_id, error, args, kwargs) == (failing.id, "bad document 7", "[7]", "{}")
    assert "ValueError: bad document 7" in trace

    # A task nobody handles: a FAILURE (Celery's NotRegistered) and the unprocessable-task queue.
    assert results[unknown.id].status == "FAILURE"
    assert "no_such_task" in str(results[unknown.id].result)
    [unprocessable] = dead_letters(config, "indexing_unprocessable", 1)
    assert unprocessable.headers["task"] == "no_such_task"
    assert unprocessable.payload[0][:2] == ["no_such_task", unknown.id]

    # An id nobody enqueued is PENDING, as in Celery.
    assert adapter.get_task_status_sync("0" * 32).status == "PENDING"
    serve.delete("celery_consumers")


def test_a_consumer_outside_a_replica_cancel_and_stop(tmp_path: Path) -> None:
    config = celery_config(tmp_path, "local_jobs", adapter="ray.serve.task_processor.CeleryTaskProcessorAdapter")
    consumer = instantiate_adapter_from_config(config)
    assert type(consumer) is CeleryTaskProcessorAdapter

    def double(x: int) -> int:
        return 2 * x

    consumer.register_task_handle(double)  # no name: Celery's, "<module>.<function>"
    consumer.start_consumer()
    consumer.start_consumer()  # already running: nothing more
    try:
        producer = instantiate_adapter_from_config(config)
        wait_until(lambda: len(producer.health_check_sync()) == 1, 30, "the worker to answer a ping")
        name = f"{double.__module__}.double"
        task = producer.enqueue_task_sync(name, args=[21])
        later = producer.enqueue_task_sync(name, args=[1], countdown=1)  # extra options go to send_task
        producer.cancel_task_sync(later.id)
        results = wait_done(producer, [task.id, later.id])
        assert (results[task.id].status, results[task.id].result) == ("SUCCESS", 42)
        assert results[later.id].status == "REVOKED"
    finally:
        consumer.stop_consumer(timeout=30)
    assert consumer._worker_thread is None
    assert producer.health_check_sync() == []
    consumer.stop_consumer()  # not running: nothing to do


def test_the_adapter_names_what_is_wrong_in_a_config(tmp_path: Path) -> None:
    good = celery_config(tmp_path, "q")

    def with_adapter_config(**changes: Any) -> TaskProcessorConfig:
        return good.model_copy(update={"adapter_config": good.adapter_config.model_copy(update=changes)})

    with pytest.raises(TypeError, match="adapter_config must be an instance of CeleryAdapterConfig"):
        CeleryTaskProcessorAdapter(good.model_copy(update={"adapter_config": {"broker_url": "filesystem://"}}))
    with pytest.raises(RuntimeError, match="Failed to instantiate CeleryTaskProcessorAdapter: .*adapter_config"):
        instantiate_adapter_from_config(good.model_copy(update={"adapter_config": {}}))
    with pytest.raises(ValueError, match=r"app_custom_config may not set \['task_acks_late', 'worker_concurrency'\]"):
        CeleryTaskProcessorAdapter(with_adapter_config(app_custom_config={"worker_concurrency": 9,
                                                                          "task_acks_late": False, "x": 1}))
    with pytest.raises(RuntimeError, match=r"Failed to initialize .*broker_url: 'kafkaa' is not a Celery broker"):
        instantiate_adapter_from_config(with_adapter_config(broker_url="kafkaa://localhost:9092"))
    with pytest.raises(RuntimeError, match="broker_url must be a URL"):
        instantiate_adapter_from_config(with_adapter_config(broker_url="localhost:6379"))
    with pytest.raises(RuntimeError, match=r"backend_url: 'nosql' is not a Celery result backend"):
        instantiate_adapter_from_config(with_adapter_config(backend_url="nosql://x"))
    with pytest.raises(ValidationError, match="backend_url"):
        CeleryAdapterConfig(broker_url="filesystem://")

    adapter = CeleryTaskProcessorAdapter(good)
    with pytest.raises(RuntimeError, match=r"initialize\(\) has not been called"):
        adapter.enqueue_task_sync("anything")
    adapter.initialize()
    assert not any(adapter.supports_async_capability(m) for m in ("enqueue_task_async", "get_task_status_async"))

    async def handler() -> None: ...

    with pytest.raises(NotImplementedError, match="Async task handlers"):
        adapter.register_task_handle(handler, "coro")


def test_the_module_needs_celery_only_for_the_adapter() -> None:
    module = importlib.import_module("streamdata.serve.task_processor")
    assert "CeleryTaskProcessorAdapter" in dir(module)
    assert module.CELERY_DEFAULT_APP_CONFIG == ["worker_pool", "worker_concurrency", "task_ignore_result",
                                                "task_acks_late", "task_reject_on_worker_lost"]
    with pytest.raises(AttributeError):
        module.NoSuchAdapter  # noqa: B018
