"""The Celery task-processor adapter itself (public name: ``streamdata.serve.task_processor.
CeleryTaskProcessorAdapter``, which makes sure ``celery`` is installed before handing it out).

Celery is imported inside the methods, so that this module (and the doctest collection of the
package) imports without it. See :mod:`streamdata.serve.task_processor` for the behaviour.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

from streamdata.serve._task_schema import (
    DEFAULT_CONSUMER_CONCURRENCY,
    CeleryAdapterConfig,
    TaskProcessorAdapter,
    TaskProcessorConfig,
    TaskResult,
)

logger = logging.getLogger("ray.serve")

# The Celery settings the adapter decides itself: app_custom_config may not override them (as in Ray).
CELERY_WORKER_POOL = "worker_pool"
CELERY_WORKER_CONCURRENCY = "worker_concurrency"
CELERY_TASK_IGNORE_RESULT = "task_ignore_result"
CELERY_TASK_ACKS_LATE = "task_acks_late"
CELERY_TASK_REJECT_ON_WORKER_LOST = "task_reject_on_worker_lost"
CELERY_DEFAULT_APP_CONFIG = [CELERY_WORKER_POOL, CELERY_WORKER_CONCURRENCY, CELERY_TASK_IGNORE_RESULT,
                             CELERY_TASK_ACKS_LATE, CELERY_TASK_REJECT_ON_WORKER_LOST]

# Defaults app_custom_config may override: a worker thread inside a replica leaves the process's
# logging and its sys.stdout / sys.stderr alone (the Celery CLI would take both over).
_IN_REPLICA_DEFAULTS = {"worker_hijack_root_logger": False, "worker_redirect_stdouts": False}


def _check_urls(adapter_config: CeleryAdapterConfig) -> None:
    """Reject a broker or result-backend URL whose scheme Celery does not know, naming the field
    (Celery itself would only fail at the first enqueue or status look-up)."""
    from celery.app.backends import BACKEND_ALIASES
    from kombu.transport import TRANSPORT_ALIASES

    def scheme_of(field: str, url: str) -> str:
        if not isinstance(url, str) or "://" not in url:
            raise ValueError(f"CeleryAdapterConfig.{field} must be a URL such as 'redis://host:6379/0', got {url!r}")
        return url.partition("://")[0].partition("+")[0]

    for url in (adapter_config.broker_url.split(";") if isinstance(adapter_config.broker_url, str)
                else [adapter_config.broker_url]):
        scheme = scheme_of("broker_url", url.strip())
        if scheme not in TRANSPORT_ALIASES and "." not in scheme:
            raise ValueError(f"CeleryAdapterConfig.broker_url: {scheme!r} is not a Celery broker transport (known: "
                             f"{', '.join(sorted(TRANSPORT_ALIASES))})")
    scheme = scheme_of("backend_url", adapter_config.backend_url)
    if scheme not in BACKEND_ALIASES and "." not in scheme:
        raise ValueError(f"CeleryAdapterConfig.backend_url: {scheme!r} is not a Celery result backend (known: "
                         f"{', '.join(sorted(BACKEND_ALIASES))})")


def _direct_queue(name: str) -> Dict[str, str]:
    return {"exchange": name, "exchange_type": "direct", "routing_key": name}


class CeleryTaskProcessorAdapter(TaskProcessorAdapter):
    """Task processing with Celery: enqueue, look up, cancel tasks; a worker thread per consumer.

    Synchronous only, as in Ray: none of the ``…_async`` methods is implemented
    (``supports_async_capability`` answers ``False``).
    """

    _worker_thread: Optional[threading.Thread] = None
    _worker: Any = None
    _worker_hostname: Optional[str] = None
    _worker_concurrency: int = DEFAULT_CONSUMER_CONCURRENCY

    def __init__(self, config: TaskProcessorConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        adapter_config = getattr(config, "adapter_config", None)
        if not isinstance(adapter_config, CeleryAdapterConfig):
            raise TypeError("TaskProcessorConfig.adapter_config must be an instance of CeleryAdapterConfig, got "
                            f"{type(adapter_config).__name__}")
        managed = sorted(set(adapter_config.app_custom_config or {}) & set(CELERY_DEFAULT_APP_CONFIG))
        if managed:
            raise ValueError(f"CeleryAdapterConfig.app_custom_config may not set {managed}: the "
                             "CeleryTaskProcessorAdapter manages these Celery settings itself")
        self._config = config
        self._app: Any = None

    # -- set-up ---------------------------------------------------------------------------------

    def initialize(self, consumer_concurrency: int = DEFAULT_CONSUMER_CONCURRENCY) -> None:
        """Build the Celery app: the config's queue (and dead-letter queues), the broker and
        backend, ``consumer_concurrency`` worker threads."""
        from celery import Celery
        from celery.signals import task_failure, task_unknown

        cfg, adapter_config = self._config, self._config.adapter_config
        _check_urls(adapter_config)
        self._worker_concurrency = consumer_concurrency
        self._app = Celery(cfg.queue_name, broker=adapter_config.broker_url, backend=adapter_config.backend_url)
        settings: Dict[str, Any] = dict(_IN_REPLICA_DEFAULTS)
        settings.update({
            CELERY_WORKER_POOL: "threads",  # the worker runs in a thread of the replica's process
            CELERY_WORKER_CONCURRENCY: consumer_concurrency,
            CELERY_TASK_IGNORE_RESULT: False,  # results are kept: get_task_status_sync reads them
            CELERY_TASK_ACKS_LATE: True,  # a task is acknowledged once it ran, not once received
            CELERY_TASK_REJECT_ON_WORKER_LOST: True,  # and requeued if its worker goes away meanwhile
        })
        settings.update(adapter_config.app_custom_config or {})
        queues = {cfg.queue_name: _direct_queue(cfg.queue_name)}
        for dead_letter in (cfg.failed_task_queue_name, cfg.unprocessable_task_queue_name):
            if dead_letter:
                queues[dead_letter] = _direct_queue(dead_letter)
        settings.update(task_queues=queues, task_routes={"*": {"queue": cfg.queue_name}})
        if adapter_config.broker_transport_options is not None:
            settings["broker_transport_options"] = adapter_config.broker_transport_options
        self._app.conf.update(settings)
        # Celery's signals are process-wide: the handlers only act on this adapter's app (below).
        if cfg.failed_task_queue_name:
            task_failure.connect(self._handle_task_failure)
        if cfg.unprocessable_task_queue_name:
            task_unknown.connect(self._handle_unknown_task)

    def _require_app(self) -> Any:
        if self._app is None:
            raise RuntimeError("CeleryTaskProcessorAdapter.initialize() has not been called")
        return self._app

    def register_task_handle(self, func: Callable, name: Optional[str] = None) -> None:
        """Register ``func`` as the Celery task ``name`` (default: its name), retried on any
        exception up to the config's ``max_retries`` with exponential back-off (at most 60 s)."""
        if inspect.iscoroutinefunction(func):
            raise NotImplementedError("Async task handlers are not supported by the Celery adapter: "
                                      "make the @task_handler method synchronous")
        options: Dict[str, Any] = {
            "autoretry_for": (Exception,),
            "retry_kwargs": {"max_retries": self._config.max_retries},
            "retry_backoff": True,
            "retry_backoff_max": 60,
            "retry_jitter": False,
        }
        options.update(self._config.adapter_config.task_custom_config or {})
        if name:
            options["name"] = name
        self._require_app().task(**options)(func)

    # -- producer side --------------------------------------------------------------------------

    def enqueue_task_sync(self, task_name: str, args: Optional[Any] = None, kwargs: Optional[Any] = None,
                          **options: Any) -> TaskResult:
        """Send task ``task_name`` to the config's queue (extra ``options`` go to Celery's
        ``send_task``: ``countdown``, ``eta``, ``task_id`` …)."""
        sent = self._require_app().send_task(task_name, args=args, kwargs=kwargs, queue=self._config.queue_name,
                                             **options)
        return TaskResult(id=sent.id, status=sent.status, created_at=time.time(), result=sent.result)

    def get_task_status_sync(self, task_id: str) -> TaskResult:
        """The task's state in the result backend (``PENDING`` for one it does not know); a failed
        task's ``result`` is its exception."""
        found = self._require_app().AsyncResult(task_id)
        return TaskResult(id=found.id, status=found.status, result=found.result)

    def cancel_task_sync(self, task_id: str) -> None:
        """Revoke the task (Celery's ``revoke``): workers drop it if it has not started."""
        self._require_app().control.revoke(task_id)

    def get_metrics_sync(self) -> Dict[str, Any]:
        """Celery's worker statistics (``inspect().stats()``): ``{worker name: stats}``, ``None``
        when no worker answered."""
        return self._require_app().control.inspect().stats()

    def health_check_sync(self) -> List[Dict]:
        """Ping the workers: ``[{'celery@<name>': {'ok': 'pong'}}, ...]``, one per worker that answered."""
        return self._require_app().control.ping()

    # -- consumer side --------------------------------------------------------------------------

    def start_consumer(self, **kwargs: Any) -> None:
        """Start a Celery worker on the config's queue, in a thread of this process (named after
        the app and the replica; extra ``kwargs`` go to Celery's ``Worker``)."""
        app = self._require_app()
        if self._worker_thread is not None and self._worker_thread.is_alive():
            logger.info("the Celery worker %s is already running", self._worker_hostname)
            return
        from streamdata.serve.context import get_replica_context

        try:
            unique_id = get_replica_context().replica_tag
        except RuntimeError:  # a consumer outside a replica (e.g. a script): a name of its own
            unique_id = uuid.uuid4().hex[:12]
        self._worker_hostname = f"{app.main}_{unique_id}"
        if not app.conf.worker_hijack_root_logger:
            # Celery configures the process's root logger when a worker starts, unless told that
            # logging is set up already (a process-wide flag): the replica's logging stays as it is.
            app.log.already_setup = True
        options: Dict[str, Any] = {"queues": [self._config.queue_name], "quiet": True}
        options.update(kwargs)
        self._worker = app.Worker(hostname=self._worker_hostname, **options)
        self._worker_thread = threading.Thread(target=self._run_worker, args=(self._worker,), daemon=True,
                                               name=f"celery-worker-{self._worker_hostname}")
        self._worker_thread.start()
        logger.info("Celery worker %s started on queue %r", self._worker.hostname, self._config.queue_name)

    @staticmethod
    def _run_worker(worker: Any) -> None:
        try:
            worker.start()
        except BaseException:  # noqa: BLE001 - a worker thread ending on an error logs it
            logger.exception("the Celery worker %s stopped on an error", worker.hostname)

    def stop_consumer(self, timeout: float = 10.0) -> None:
        """Ask this adapter's worker (and only it) to shut down and wait up to ``timeout`` seconds."""
        thread, worker = self._worker_thread, self._worker
        if thread is None or not thread.is_alive():
            logger.info("the Celery worker is not running")
            return
        try:
            self._app.control.broadcast("shutdown", destination=[worker.hostname])
        except Exception:  # noqa: BLE001 - e.g. the broker is gone: nothing more to ask
            logger.exception("could not ask the Celery worker %s to shut down", worker.hostname)
        thread.join(timeout=timeout)
        if thread.is_alive():
            logger.warning("the Celery worker %s did not stop within %s s", worker.hostname, timeout)
        else:
            logger.info("the Celery worker %s stopped", worker.hostname)
        self._worker_thread = self._worker = None

    # -- dead-letter queues ---------------------------------------------------------------------

    def _handle_task_failure(self, sender: Any = None, task_id: Optional[str] = None, args: Any = None,
                             kwargs: Any = None, einfo: Any = None, **_: Any) -> None:
        """``task_failure`` (a task failed, its retries spent): a copy of it goes to the failed-task
        queue, as task ``<its name>`` with args ``[task_id, error, str(args), str(kwargs), traceback]``."""
        if getattr(sender, "app", None) is not self._app or not self._config.failed_task_queue_name:
            return
        error = getattr(einfo, "exception", None)
        error = getattr(error, "exc", error)  # billiard wraps it (its str() is the traceback)
        self._move_task_to_queue(self._config.failed_task_queue_name, sender.name,
                                 [task_id, str(error), str(args), str(kwargs), str(einfo)])
        logger.error("task %s failed after its retries (%s): moved to queue %r", task_id, error,
                     self._config.failed_task_queue_name)

    def _handle_unknown_task(self, sender: Any = None, name: Optional[str] = None, id: Optional[str] = None,
                             message: Any = None, exc: Any = None, **kwargs: Any) -> None:
        """``task_unknown`` (no handler of that name): the task goes to the unprocessable-task
        queue, as task ``<its name>`` with args ``[name, task_id, message, error, extra]``."""
        if getattr(sender, "app", None) is not self._app or not self._config.unprocessable_task_queue_name:
            return
        logger.warning("no handler for task %r (id %s): moved to queue %r", name, id,
                       self._config.unprocessable_task_queue_name)
        self._move_task_to_queue(self._config.unprocessable_task_queue_name, name,
                                 [name, id, str(message), str(exc), str(kwargs)])

    def _move_task_to_queue(self, queue_name: str, task_name: Optional[str], args: list) -> None:
        try:
            self._app.send_task(name=task_name, queue=queue_name, args=args)
        except Exception:
            logger.exception("could not move task %r to queue %r", task_name, queue_name)
            raise


__all__ = ["CELERY_DEFAULT_APP_CONFIG", "CeleryTaskProcessorAdapter"]
