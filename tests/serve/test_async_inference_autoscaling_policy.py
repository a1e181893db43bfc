"""``AsyncInferenceAutoscalingPolicy`` (Ray's ``serve.async_inference_autoscaling_policy``) as a
pure policy: no runtime, a kombu ``filesystem://`` queue in the test's folder (filled by the
Celery adapter's ``enqueue_task_sync``), and a RabbitMQ management API stand-in on a free port."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("kombu")

from streamdata.serve.async_inference_autoscaling_policy import AsyncInferenceAutoscalingPolicy  # noqa: E402
from streamdata.serve.autoscaling import (  # noqa: E402
    AutoscalingConfig,
    AutoscalingPolicy,
    DeploymentID,
    ReplicaScaler,
    make_context,
)

CONFIG = AutoscalingConfig(min_replicas=0, max_replicas=10, target_ongoing_requests=2, upscale_delay_s=0,
                           downscale_delay_s=0)


def ctx(current: int, load: float = 0) -> Any:
    return make_context(DeploymentID("Consumer", "app"), CONFIG, now=0.0, current=current, target=current,
                        load=load)


def transport_options(root: Path) -> dict[str, Any]:
    for name in ("queue", "processed", "control"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return {"data_folder_in": str(root / "queue"), "data_folder_out": str(root / "queue"),
            "processed_folder": str(root / "processed"), "store_processed": True,
            "control_folder": str(root / "control")}


@pytest.fixture
def queue(tmp_path: Path) -> Any:
    """A producer of tasks on queue "jobs" (the Celery adapter), and the transport options."""
    pytest.importorskip("celery")
    from streamdata.serve.schema import CeleryAdapterConfig, TaskProcessorConfig
    from streamdata.serve.task_consumer import instantiate_adapter_from_config

    (tmp_path / "results").mkdir()
    options = transport_options(tmp_path)
    adapter = instantiate_adapter_from_config(TaskProcessorConfig(queue_name="jobs", adapter_config=CeleryAdapterConfig(
        broker_url="filesystem://", backend_url=f"file://{tmp_path / 'results'}", broker_transport_options=options)))
    return adapter, options


def test_it_counts_the_waiting_tasks_with_the_requests(queue: Any) -> None:
    adapter, options = queue
    policy = AsyncInferenceAutoscalingPolicy(broker_url="filesystem://", queue_name="jobs", poll_interval_s=0,
                                             broker_transport_options=options)
    assert policy(ctx(current=2, load=1)) == (0.5, {"queue_length": 0})  # outside a loop: it looks at once
    assert policy(ctx(current=0)) == (0, {"queue_length": 0})
    for i in range(7):
        adapter.enqueue_task_sync("work", args=[i])
    assert policy(ctx(current=2, load=1)) == (4.0, {"queue_length": 7})  # (1 + 7) / 2 per replica
    assert policy(ctx(current=0)) == (1, {"queue_length": 7})  # from zero: one replica to start with


def test_on_an_event_loop_it_looks_in_the_background_at_most_every_interval(queue: Any) -> None:
    adapter, options = queue
    for i in range(5):
        adapter.enqueue_task_sync("work", args=[i])

    async def scenario() -> list[Any]:
        policy = AsyncInferenceAutoscalingPolicy(broker_url="filesystem://", queue_name="jobs", poll_interval_s=3600,
                                                 broker_transport_options=options)
        seen = [policy(ctx(current=1))]  # starts a look; answers with what it knew (nothing)
        assert policy._task is not None
        await policy._task
        seen.append(policy(ctx(current=1)))
        adapter.enqueue_task_sync("work", args=[5])
        seen.append(policy(ctx(current=1)))  # within the interval: no new look
        assert policy._task is None
        return seen

    assert asyncio.run(scenario()) == [
        (0.0, {"queue_length": 0}), (2.5, {"queue_length": 5}), (2.5, {"queue_length": 5})]


def test_a_failing_broker_is_logged_and_the_last_length_kept(caplog: pytest.LogCaptureFixture) -> None:
    policy = AsyncInferenceAutoscalingPolicy(broker_url="nosuchtransport://x", queue_name="jobs", poll_interval_s=0)
    with caplog.at_level(logging.WARNING, logger="ray.serve"):
        assert policy(ctx(current=1, load=4)) == (2.0, {"queue_length": 0})
    assert "could not read the length of queue 'jobs'" in caplog.text
    with pytest.raises(ValueError, match="queue_name"):
        AsyncInferenceAutoscalingPolicy(broker_url="redis://x", queue_name="")


def test_as_a_deployments_class_policy(queue: Any) -> None:
    adapter, options = queue
    for i in range(9):
        adapter.enqueue_task_sync("work", args=[i])
    config = AutoscalingConfig(min_replicas=0, max_replicas=4, target_ongoing_requests=2, upscale_delay_s=0,
                               policy=AutoscalingPolicy(policy_function=AsyncInferenceAutoscalingPolicy, policy_kwargs={
                                   "broker_url": "filesystem://", "queue_name": "jobs", "poll_interval_s": 0,
                                   "broker_transport_options": options}))
    scaler = ReplicaScaler(config, DeploymentID("Consumer", "app"))
    assert scaler.decide(now=0.0, current=0, load=0) == 1  # no request, but tasks wait: from zero to one
    assert scaler.decide(now=1.0, current=1, load=0) == 4  # 9 tasks / 2 per replica, within max_replicas


@pytest.fixture
def management_api() -> Iterator[tuple[str, list[dict]]]:
    """A stand-in for RabbitMQ's management API: queue "jobs" of vhost "/" holds 6 messages."""
    requests: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            requests.append({"path": self.path, "auth": self.headers.get("Authorization")})
            if self.path == "/api/queues/%2F/jobs":
                body, code = json.dumps({"name": "jobs", "messages": 6, "messages_ready": 4}).encode(), 200
            else:
                body, code = b'{"error": "Object Not Found"}', 404
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://admin:secret@127.0.0.1:{server.server_address[1]}/api/", requests
    server.shutdown()
    server.server_close()
    thread.join()


def test_rabbitmq_queue_length_from_the_management_api(management_api: tuple[str, list[dict]]) -> None:
    url, requests = management_api
    policy = AsyncInferenceAutoscalingPolicy(broker_url="amqp://guest:guest@localhost:5672//", queue_name="jobs",
                                             rabbitmq_management_url=url, poll_interval_s=0)
    assert policy(ctx(current=1)) == (3.0, {"queue_length": 6})  # ready and unacknowledged messages
    assert requests[-1] == {"path": "/api/queues/%2F/jobs", "auth": "Basic YWRtaW46c2VjcmV0"}  # admin:secret
    missing = AsyncInferenceAutoscalingPolicy(broker_url="amqp://localhost//", queue_name="other",
                                              rabbitmq_management_url=url, poll_interval_s=0)
    assert missing(ctx(current=1)) == (0.0, {"queue_length": 0})  # no such queue yet
