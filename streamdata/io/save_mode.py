"""``SaveMode``: what a write does when its destination already holds data (Ray's enum).

Writers take a ``SaveMode`` or its string value.

Example:
    >>> SaveMode.OVERWRITE.value, SaveMode("append") is SaveMode.APPEND
    ('overwrite', True)
"""

from __future__ import annotations

from enum import Enum


class SaveMode(str, Enum):
    """``CREATE`` (fail if it exists), ``APPEND``, ``OVERWRITE``, ``IGNORE`` (write nothing if it
    exists), ``ERROR`` (fail if it holds data), ``UPSERT`` (merge on keys, where a sink supports it)."""

    CREATE = "create"
    APPEND = "append"
    OVERWRITE = "overwrite"
    IGNORE = "ignore"
    ERROR = "error"
    UPSERT = "upsert"
