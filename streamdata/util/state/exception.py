"""The state API's error (Ray's ``ray.util.state.exception``).

Example:
    >>> issubclass(RayStateApiException, RuntimeError)
    True
"""

from __future__ import annotations

from streamdata.errors import StreamDataError


class RayStateApiException(StreamDataError, RuntimeError):
    """A state query failed (Ray's name)."""


__all__ = ["RayStateApiException"]
