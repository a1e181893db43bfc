"""``streamdata.util``: Ray's ``ray.util`` namespace (``state``, ``metrics``, ...).

Submodules load on first use, so ``import streamdata`` stays fast.

Example:
    >>> import streamdata.util as util
    >>> util.state.__name__
    'streamdata.util.state'
"""

from __future__ import annotations

from streamdata.lazy import lazy_attributes

_LAZY = {name: f"streamdata.util.{name}" for name in ("state", "metrics")}
__getattr__ = lazy_attributes(__name__, globals(), _LAZY)
