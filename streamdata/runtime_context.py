"""Ray's ``ray.runtime_context`` module path: ``RuntimeContext`` and ``get_runtime_context``
(``from ray.runtime_context import RuntimeContext`` in type hints).

Example:
    >>> from streamdata.runtime_context import RuntimeContext, get_runtime_context
    >>> isinstance(get_runtime_context(), RuntimeContext)
    True
"""

from __future__ import annotations

from streamdata.core.api import get_runtime_context
from streamdata.core.runtime_context import RuntimeContext

__all__ = ["RuntimeContext", "get_runtime_context"]
