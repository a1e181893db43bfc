"""Asynchronous inference (Ray's alpha ``ray.serve.task_consumer``): a deployment that consumes tasks
from a queue instead of (or besides) serving requests.

- ``@task_consumer(task_processor_config=cfg)`` on a deployment class: each replica builds the
  config's adapter (``adapter(cfg)``, then ``initialize(max_ongoing_requests)``), registers the
  class's ``@task_handler`` methods on it by task name and calls ``start_consumer()``; the adapter
  runs them as tasks arrive. ``stop_consumer()`` runs when the replica object goes away.
- ``@task_handler`` / ``@task_handler(name="...")``: marks a method as the handler of a task name
  (the method's name by default).
- ``instantiate_adapter_from_config(cfg)``: an initialized adapter, e.g. for an ingress that
  enqueues tasks (``enqueue_task_sync``) and reads their status (``get_task_status_sync``).

The adapter is a :class:`~streamdata.serve.schema.TaskProcessorAdapter` subclass, named by the
config as a class or an import path; ``ray.serve.…`` paths name this package's modules. The default
(Celery) needs the ``celery`` package, as in Ray.

Example:
    >>> @task_handler(name="resize")
    ... def handler(self, image):
    ...     return image
    >>> handler._is_task_handler, handler._task_name
    (True, 'resize')
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from typing import Any, Callable, Optional

logger = logging.getLogger("ray.serve")


class TaskConsumerWrapper:
    """The base ``@task_consumer`` adds to a class: a replica calls ``initialize_callable`` once the
    user's constructor ran (it looks for ``_sd_task_consumer``, not this class: no import there)."""

    _sd_task_consumer = True

    def initialize_callable(self, consumer_concurrency: int) -> None:
        pass


def _adapter_class(adapter: Any) -> Any:
    if isinstance(adapter, str):
        module, _, name = adapter.partition(":") if ":" in adapter else adapter.rpartition(".")
        if not module or not name:
            raise ValueError(f"the adapter {adapter!r} is not a 'module.Class' import path")
        if module == "ray" or module.startswith("ray."):  # a Ray program's path to Ray's own adapters
            module = "streamdata" + module[3:]
        return getattr(importlib.import_module(module), name)
    if callable(adapter):
        return adapter
    raise TypeError(f"Adapter must be either a string path or a callable class, got {type(adapter).__name__}: "
                    f"{adapter}")


def _instantiate_adapter(task_processor_config: Any, consumer_concurrency: int | None = None) -> Any:
    from streamdata.serve._task_schema import DEFAULT_CONSUMER_CONCURRENCY, TaskProcessorAdapter

    cls = _adapter_class(task_processor_config.adapter)
    try:
        adapter = cls(task_processor_config)
    except Exception as exc:
        raise RuntimeError(f"Failed to instantiate {getattr(cls, '__name__', cls)}: {exc}") from exc
    if not isinstance(adapter, TaskProcessorAdapter):
        raise TypeError(f"{getattr(cls, '__name__', cls)} must inherit from TaskProcessorAdapter, got "
                        f"{type(adapter).__name__}")
    try:
        adapter.initialize(DEFAULT_CONSUMER_CONCURRENCY if consumer_concurrency is None else consumer_concurrency)
    except Exception as exc:
        raise RuntimeError(f"Failed to initialize {getattr(cls, '__name__', cls)}: {exc}") from exc
    return adapter


def instantiate_adapter_from_config(task_processor_config: Any) -> Any:
    """The config's adapter, built and initialized (``initialize()``), ready to enqueue tasks."""
    return _instantiate_adapter(task_processor_config)


def task_consumer(*, task_processor_config: Any) -> Callable[[type], type]:
    """Make a deployment class a task consumer of ``task_processor_config``'s queue (see the module)."""

    def decorator(target_cls: type) -> type:
        class _TaskConsumer(target_cls, TaskConsumerWrapper):  # type: ignore[valid-type, misc]
            def initialize_callable(self, consumer_concurrency: int) -> None:
                self._adapter = _instantiate_adapter(task_processor_config, consumer_concurrency)
                for name, method in inspect.getmembers(target_cls, predicate=inspect.isfunction):
                    if getattr(method, "_is_task_handler", False):
                        self._adapter.register_task_handle(getattr(self, name), getattr(method, "_task_name", name))
                try:
                    self._adapter.start_consumer()
                except Exception:
                    logger.exception("the task consumer of queue %r did not start", task_processor_config.queue_name)
                    raise
                logger.info("task consumer started on queue %r", task_processor_config.queue_name)

            def __del__(self) -> None:
                adapter = self.__dict__.get("_adapter")
                if adapter is not None:
                    adapter.stop_consumer()
                if hasattr(target_cls, "__del__"):
                    target_cls.__del__(self)

        for attr in ("__name__", "__qualname__", "__module__", "__doc__"):
            setattr(_TaskConsumer, attr, getattr(target_cls, attr))
        return _TaskConsumer

    return decorator


def task_handler(_func: Optional[Callable] = None, *, name: Optional[str] = None) -> Callable:
    """Mark a method as the handler of task ``name`` (default: the method's name); with or without
    parentheses."""
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValueError(f"Task name must be a non-empty string, got {name}")

    def decorator(f: Callable) -> Callable:
        if inspect.iscoroutinefunction(f):
            @functools.wraps(f)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                return await f(*args, **kwargs)
        else:
            @functools.wraps(f)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                return f(*args, **kwargs)
        wrapper._is_task_handler = True  # type: ignore[attr-defined]
        wrapper._task_name = name or f.__name__  # type: ignore[attr-defined]
        return wrapper

    return decorator(_func) if _func is not None else decorator


__all__ = ["instantiate_adapter_from_config", "task_consumer", "task_handler"]
