"""Ray's ``ray.types``: ``ObjectRef`` for type hints (``List[ObjectRef[Block]]``).

Ray's module holds a stand-in generic class for documentation; here it is the object reference
class itself (subscriptable), so hints and ``isinstance`` checks both work.

Example:
    >>> from streamdata.types import ObjectRef
    >>> import streamdata
    >>> ObjectRef is streamdata.ObjectRef
    True
    >>> ObjectRef[int]
    streamdata.core.object_ref.ObjectRef[int]
"""

from __future__ import annotations

from streamdata.core.object_ref import ObjectRef

__all__ = ["ObjectRef"]
