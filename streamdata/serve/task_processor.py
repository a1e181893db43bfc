"""The default task-processor adapter (Ray's ``ray.serve.task_processor.CeleryTaskProcessorAdapter``).

It needs ``celery``, as Ray's does: without it, looking the adapter up (the default
``TaskProcessorConfig.adapter``) raises ``ModuleNotFoundError: No module named 'celery'``.
streamdata has no Celery adapter yet: with ``celery`` installed, building one raises
``NotImplementedError``; give ``TaskProcessorConfig(adapter=...)`` a
:class:`~streamdata.serve.schema.TaskProcessorAdapter` subclass of your own instead.
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    if name != "CeleryTaskProcessorAdapter":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    importlib.import_module("celery")  # the adapter's dependency, as in Ray: ModuleNotFoundError without it
    from streamdata.serve._task_schema import TaskProcessorAdapter

    class CeleryTaskProcessorAdapter(TaskProcessorAdapter):
        """Not implemented in streamdata (see the module)."""

        def __new__(cls, *args: Any, **kwargs: Any) -> CeleryTaskProcessorAdapter:
            raise NotImplementedError("streamdata has no Celery task-processor adapter: give TaskProcessorConfig("
                                      "adapter=...) a TaskProcessorAdapter subclass")

    return CeleryTaskProcessorAdapter


__all__: list[str] = []
