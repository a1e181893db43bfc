"""The asynchronous-inference models of ``serve.schema`` (Ray's alpha task-consumer API): what a
:class:`TaskProcessorConfig` holds, the :class:`TaskResult` an adapter answers with, and the
:class:`TaskProcessorAdapter` interface a queue backend implements (``serve.task_consumer`` uses it).

Pydantic models, as in Ray (``model_dump()``, validation of the fields); imported on first use
from ``streamdata.serve.schema`` so that ``serve`` itself does not import pydantic.

Example:
    >>> cfg = TaskProcessorConfig(queue_name="q", adapter_config=CeleryAdapterConfig(
    ...     broker_url="redis://localhost:6379/0", backend_url="redis://localhost:6379/1"))
    >>> cfg.max_retries, cfg.adapter
    (3, 'streamdata.serve.task_processor.CeleryTaskProcessorAdapter')
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, List, Optional, Union

from pydantic import BaseModel, Field

DEFAULT_CONSUMER_CONCURRENCY = 5  # a consumer replica's default: max_ongoing_requests' default
DEFAULT_ADAPTER = "streamdata.serve.task_processor.CeleryTaskProcessorAdapter"


class CeleryAdapterConfig(BaseModel):
    """The Celery adapter's settings: broker and result backend URLs, custom app/task settings."""

    app_custom_config: Optional[Dict[str, Any]] = None
    task_custom_config: Optional[Dict[str, Any]] = None
    broker_url: str
    backend_url: str
    broker_transport_options: Optional[Dict[str, Any]] = None


class TaskProcessorConfig(BaseModel):
    """Which queue a task consumer reads and through which adapter (an import path or a class;
    ``ray.serve.…`` paths name this package's), with retries and dead-letter queues."""

    queue_name: str
    adapter: Union[str, Callable] = Field(default=DEFAULT_ADAPTER)
    adapter_config: Any
    max_retries: Optional[int] = 3
    failed_task_queue_name: Optional[str] = None
    unprocessable_task_queue_name: Optional[str] = None


class TaskResult(BaseModel):
    """A task's id, status (``PENDING``, ``SUCCESS``, ``FAILURE``, …), creation time and result."""

    id: str
    status: str
    created_at: Optional[float] = None
    result: Any


class TaskProcessorAdapter(ABC):
    """What a queue backend implements for ``@task_consumer`` and ``instantiate_adapter_from_config``.

    It is built with the :class:`TaskProcessorConfig`, then ``initialize(consumer_concurrency)``;
    a consumer replica registers its ``@task_handler`` methods and calls ``start_consumer()``, and
    ``stop_consumer()`` when the replica goes away. The ``…_async`` methods are optional.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    @abstractmethod
    def initialize(self, consumer_concurrency: int = DEFAULT_CONSUMER_CONCURRENCY) -> None: ...

    @abstractmethod
    def register_task_handle(self, func: Callable, name: Optional[str] = None) -> None: ...

    @abstractmethod
    def enqueue_task_sync(self, task_name: str, args: Optional[Any] = None, kwargs: Optional[Any] = None,
                          **options: Any) -> TaskResult: ...

    @abstractmethod
    def get_task_status_sync(self, task_id: str) -> TaskResult: ...

    @abstractmethod
    def start_consumer(self, **kwargs: Any) -> None: ...

    @abstractmethod
    def stop_consumer(self, timeout: float = 10.0) -> None: ...

    @abstractmethod
    def cancel_task_sync(self, task_id: str) -> None: ...

    @abstractmethod
    def get_metrics_sync(self) -> Dict[str, Any]: ...

    @abstractmethod
    def health_check_sync(self) -> List[Dict]: ...

    def supports_async_capability(self, method_name: str) -> bool:
        """Whether the adapter implements ``method_name`` (an ``…_async`` method) itself."""
        mine = getattr(type(self), method_name, None)
        return mine is not None and mine is not getattr(TaskProcessorAdapter, method_name, None)

    async def enqueue_task_async(self, task_name: str, args: Optional[Any] = None, kwargs: Optional[Any] = None,
                                 **options: Any) -> TaskResult:
        raise NotImplementedError(f"{type(self).__name__} has no enqueue_task_async")

    async def get_task_status_async(self, task_id: str) -> TaskResult:
        raise NotImplementedError(f"{type(self).__name__} has no get_task_status_async")

    async def cancel_task_async(self, task_id: str) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no cancel_task_async")

    async def get_metrics_async(self) -> Dict[str, Any]:
        raise NotImplementedError(f"{type(self).__name__} has no get_metrics_async")

    async def health_check_async(self) -> List[Dict]:
        raise NotImplementedError(f"{type(self).__name__} has no health_check_async")


__all__ = ["CeleryAdapterConfig", "TaskProcessorAdapter", "TaskProcessorConfig", "TaskResult",
           "DEFAULT_CONSUMER_CONCURRENCY"]
