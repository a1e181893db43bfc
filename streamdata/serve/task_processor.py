"""The default task-processor adapter (Ray's ``ray.serve.task_processor.CeleryTaskProcessorAdapter``):
asynchronous inference with Celery.

It needs ``celery`` (``pip install 'streamdata[serve]'``), as Ray's does: without it, looking the
adapter up (the default ``TaskProcessorConfig.adapter``) raises ``ModuleNotFoundError: No module
named 'celery'``. The config's ``adapter_config`` must be a
:class:`~streamdata.serve.schema.CeleryAdapterConfig`:

- ``broker_url`` / ``backend_url``: Celery's broker (``redis://``, ``amqp://``, ``sqs://``,
  ``filesystem://`` …) and result backend (``redis://``, ``db+sqlite:///…``, ``file:///dir`` …);
  an unknown scheme is a ``ValueError`` naming the field.
- ``broker_transport_options``: Celery's ``broker_transport_options`` (e.g. the folders of the
  ``filesystem://`` transport, its ``polling_interval``).
- ``app_custom_config``: further Celery settings; the five the adapter manages (``worker_pool``,
  ``worker_concurrency``, ``task_ignore_result``, ``task_acks_late``,
  ``task_reject_on_worker_lost``) are refused with a ``ValueError``.
- ``task_custom_config``: Celery task options for every handler (they override the retry ones).

What the adapter does:

- ``initialize(consumer_concurrency)``: a Celery app named after the queue, whose tasks all go to
  the config's ``queue_name``; results kept; tasks acknowledged once run; a thread pool of
  ``consumer_concurrency`` (a consumer replica's ``max_ongoing_requests``).
- ``register_task_handle(func, name)``: a synchronous handler (``async def`` is a
  ``NotImplementedError``), retried on any exception up to ``max_retries`` times with exponential
  back-off (1 s, 2 s, 4 s … at most 60 s).
- ``enqueue_task_sync`` / ``get_task_status_sync``: :class:`~streamdata.serve.schema.TaskResult`\\ s
  (``PENDING``, ``STARTED``, ``RETRY``, ``SUCCESS``, ``FAILURE``; a failure's ``result`` is the
  exception). ``cancel_task_sync`` revokes, ``get_metrics_sync`` is the workers' statistics,
  ``health_check_sync`` pings them. No ``…_async`` variants, as in Ray.
- ``start_consumer()`` / ``stop_consumer(timeout)``: a Celery worker on the queue in a thread of
  the replica, named ``<queue>_<replica tag>``; stopping asks that worker only to shut down.
- ``failed_task_queue_name``: a task that failed (retries spent) is copied to that queue, as a
  task of its name with args ``[task_id, error, str(args), str(kwargs), traceback]``.
- ``unprocessable_task_queue_name``: a task nobody handles (no handler of its name) goes there, as
  a task of its name with args ``[name, task_id, message, error, extra]``. No worker consumes
  these queues: read them with a Celery app or consumer of your own.

Unlike the Celery command line, the worker leaves the replica's logging and ``sys.stdout`` alone
(``worker_hijack_root_logger`` and ``worker_redirect_stdouts`` are off unless
``app_custom_config`` turns them on).

Example (an in-memory broker and backend, no worker: the task waits):
    >>> from streamdata.serve.schema import CeleryAdapterConfig, TaskProcessorConfig
    >>> from streamdata.serve.task_processor import CeleryTaskProcessorAdapter
    >>> adapter = CeleryTaskProcessorAdapter(TaskProcessorConfig(queue_name="jobs",
    ...     adapter_config=CeleryAdapterConfig(broker_url="memory://", backend_url="cache+memory://")))
    >>> adapter.initialize(consumer_concurrency=2)
    >>> adapter.register_task_handle(lambda x: 2 * x, name="double")
    >>> task = adapter.enqueue_task_sync("double", args=[21])
    >>> task.status, adapter.get_task_status_sync(task.id).status
    ('PENDING', 'PENDING')
    >>> adapter.supports_async_capability("enqueue_task_async")
    False
    >>> CeleryTaskProcessorAdapter(TaskProcessorConfig(queue_name="jobs", adapter_config=CeleryAdapterConfig(
    ...     broker_url="memory://", backend_url="cache+memory://", app_custom_config={"worker_pool": "solo"})))
    Traceback (most recent call last):
    ...
    ValueError: CeleryAdapterConfig.app_custom_config may not set ['worker_pool']: ...
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTED = ("CeleryTaskProcessorAdapter", "CELERY_DEFAULT_APP_CONFIG", "CELERY_WORKER_POOL",
             "CELERY_WORKER_CONCURRENCY", "CELERY_TASK_IGNORE_RESULT", "CELERY_TASK_ACKS_LATE",
             "CELERY_TASK_REJECT_ON_WORKER_LOST")


def __getattr__(name: str) -> Any:
    if name not in _EXPORTED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    importlib.import_module("celery")  # the adapter's dependency, as in Ray: ModuleNotFoundError without it
    from streamdata.serve import _celery_adapter

    return getattr(_celery_adapter, name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTED])


__all__: list[str] = []
