"""Autoscaling a task consumer by its queue (Ray's ``ray.serve.async_inference_autoscaling_policy``).

:class:`AsyncInferenceAutoscalingPolicy` is a class-based custom policy for ``@task_consumer``
deployments: it reads how many messages wait in the consumer's broker queue and counts them with
the deployment's requests, aiming at ``target_ongoing_requests`` per replica::

    autoscaling_config=AutoscalingConfig(min_replicas=0, max_replicas=10, policy=AutoscalingPolicy(
        policy_function=AsyncInferenceAutoscalingPolicy,
        policy_kwargs={"broker_url": "redis://localhost:6379/0", "queue_name": "my_queue"}))

The queue length comes from kombu (Celery's messaging library), which knows every Celery broker:
Redis (the list's length), RabbitMQ (a passive declare: its ready messages), SQS, the filesystem
transport … With ``rabbitmq_management_url`` it comes from RabbitMQ's HTTP management API instead
(the queue's ``messages``: ready and unacknowledged). ``broker_transport_options`` (an addition to
Ray's arguments) are kombu's transport options, e.g. the folders of ``filesystem://``.

The broker is asked at most every ``poll_interval_s`` seconds, off the caller's event loop (one
look at a time, in a worker thread); a failed look is logged and the last length kept. Called
outside an event loop, the policy looks synchronously.

Example (nothing waits in the queue, a broker kombu keeps in memory):
    >>> from streamdata.serve.autoscaling import AutoscalingConfig, DeploymentID, make_context
    >>> policy = AsyncInferenceAutoscalingPolicy(broker_url="memory://", queue_name="jobs")
    >>> ctx = make_context(DeploymentID("Consumer"), AutoscalingConfig(max_replicas=5, target_ongoing_requests=2),
    ...                    now=0.0, current=2, target=2, load=6)
    >>> policy(ctx)
    (3.0, {'queue_length': 0})
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Optional, Tuple, Union
from urllib.parse import quote, unquote, urljoin, urlparse

logger = logging.getLogger("ray.serve")

DEFAULT_ASYNC_INFERENCE_QUEUE_POLL_INTERVAL_S = 10.0


class AsyncInferenceAutoscalingPolicy:
    """A policy scaling on ``total_num_requests`` plus the messages waiting in ``queue_name``.

    Args:
        broker_url: the broker's URL, as Celery's (``redis://…``, ``amqp://…``, ``filesystem://`` …).
        queue_name: the queue to watch (the consumer's ``TaskProcessorConfig.queue_name``).
        rabbitmq_management_url: RabbitMQ's management API (``http://user:pass@host:15672/api/``),
            to read the queue's length there.
        poll_interval_s: at least this long between two looks at the broker.
        broker_transport_options: kombu transport options for the broker connection.
    """

    def __init__(self, broker_url: str, queue_name: str, rabbitmq_management_url: Optional[str] = None,
                 poll_interval_s: float = DEFAULT_ASYNC_INFERENCE_QUEUE_POLL_INTERVAL_S,
                 broker_transport_options: Optional[Dict[str, Any]] = None) -> None:
        if not isinstance(broker_url, str) or not broker_url:
            raise ValueError(f"AsyncInferenceAutoscalingPolicy broker_url must be a URL, got {broker_url!r}")
        if not isinstance(queue_name, str) or not queue_name:
            raise ValueError(f"AsyncInferenceAutoscalingPolicy queue_name must be a name, got {queue_name!r}")
        self._broker_url = broker_url
        self._queue_name = queue_name
        self._rabbitmq_management_url = rabbitmq_management_url
        self._poll_interval_s = poll_interval_s
        self._transport_options = dict(broker_transport_options or {})
        self._queue_length = 0
        self._connection: Any = None
        self._task: Optional[asyncio.Future] = None
        self._last_poll_time: Optional[float] = None

    # -- reading the queue's length (blocking: run off the event loop) ----------------------------

    def _read_queue_length(self) -> int:
        if self._rabbitmq_management_url is not None:
            return self._read_from_management_api()
        from kombu import Connection

        if self._connection is None:
            self._connection = Connection(self._broker_url, transport_options=self._transport_options)
        connection = self._connection
        try:
            declared = connection.default_channel.queue_declare(queue=self._queue_name, passive=True)
            return int(declared.message_count)
        except connection.channel_errors:  # no such queue (yet): nothing waits in it
            self._drop_connection()  # some brokers close the channel on a failed passive declare
            return 0
        except Exception:
            self._drop_connection()
            raise

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # noqa: BLE001 - a broken connection may not close cleanly
                pass

    def _read_from_management_api(self) -> int:
        api = urlparse(self._rabbitmq_management_url)
        broker = urlparse(self._broker_url)
        vhost = broker.path[1:] if broker.path not in ("", "/") else "/"
        user = unquote(api.username or broker.username or "guest")
        password = unquote(api.password or broker.password or "guest")
        netloc = api.hostname or "localhost"
        if api.port:
            netloc = f"{netloc}:{api.port}"
        base = api._replace(netloc=netloc).geturl()
        url = urljoin(base if base.endswith("/") else base + "/",
                      f"queues/{quote(vhost, safe='')}/{quote(self._queue_name, safe='')}")
        request = urllib.request.Request(url, headers={
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the user's broker API
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 404:  # no such queue (yet)
                return 0
            raise
        return int(body.get("messages") or 0)

    def _poll_now(self) -> None:
        try:
            self._queue_length = self._read_queue_length()
        except Exception as exc:  # noqa: BLE001 - the last length is kept
            logger.warning("could not read the length of queue %r: %s", self._queue_name, exc)

    async def _poll_once(self) -> None:
        try:
            self._queue_length = await asyncio.get_running_loop().run_in_executor(None, self._read_queue_length)
        except Exception as exc:  # noqa: BLE001 - the last length is kept
            logger.warning("could not read the length of queue %r: %s", self._queue_name, exc)

    # -- the policy ---------------------------------------------------------------------------------

    def __call__(self, ctx: Any) -> Tuple[Union[int, float], Dict[str, Any]]:
        if self._task is not None and self._task.done():
            self._task = None
        now = time.monotonic()
        due = self._last_poll_time is None or now - self._last_poll_time >= self._poll_interval_s
        if self._task is None and due:
            self._last_poll_time = now
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._poll_now()
            else:
                self._task = loop.create_task(self._poll_once())

        state = {"queue_length": self._queue_length}
        replicas = ctx.current_num_replicas
        workload = ctx.total_num_requests + self._queue_length
        if replicas == 0:
            return (1 if workload > 0 else 0), state
        target = ctx.config.get_target_ongoing_requests() * replicas
        return replicas * (workload / target), state


__all__ = ["AsyncInferenceAutoscalingPolicy", "DEFAULT_ASYNC_INFERENCE_QUEUE_POLL_INTERVAL_S"]
