"""``Schema``: what ``Dataset.schema()`` returns (Ray Data's ``ray.data.Schema``).

A thin, printable view of a ``pyarrow.Schema`` with Ray's ``names`` / ``types`` /
``base_schema``; every other attribute is the Arrow schema's (``field``, ``empty_table``,
``metadata``...), and it compares equal to the Arrow schema it wraps.

A base module (imports only pyarrow).

Example:
    >>> import pyarrow as pa
    >>> s = Schema(pa.schema([("id", pa.int64()), ("name", pa.string())]))
    >>> s.names, s.types
    (['id', 'name'], [DataType(int64), DataType(string)])
    >>> print(s)
    Column  Type
    ------  ----
    id      int64
    name    string
"""

from __future__ import annotations

from typing import Any, Iterator

import pyarrow as pa


class Schema:
    """The schema of a dataset: column names and types.

    Args:
        base_schema: the ``pyarrow.Schema`` (or another Schema) it describes.
        data_context: accepted as in Ray (unused).
    """

    __slots__ = ("_base",)

    def __init__(self, base_schema: "pa.Schema | Schema", *, data_context: Any = None) -> None:
        if isinstance(base_schema, Schema):
            base_schema = base_schema.base_schema
        if not isinstance(base_schema, pa.Schema):
            raise TypeError(f"Schema wraps a pyarrow.Schema, got {type(base_schema).__name__}")
        object.__setattr__(self, "_base", base_schema)

    @property
    def base_schema(self) -> pa.Schema:
        """The underlying ``pyarrow.Schema``."""
        return self._base

    @property
    def names(self) -> list[str]:
        """The column names, in order."""
        return list(self._base.names)

    @property
    def types(self) -> list[pa.DataType]:
        """The column types (Arrow types), in order."""
        return list(self._base.types)

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_base"), name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Schema):
            return self._base.equals(other._base)
        if isinstance(other, pa.Schema):
            return self._base.equals(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._base)

    def __len__(self) -> int:
        return len(self._base)

    def __iter__(self) -> Iterator[pa.Field]:
        return iter(self._base)

    def __getitem__(self, key: int | str) -> pa.Field:
        return self._base.field(key)

    def __reduce__(self) -> Any:
        return (Schema, (self._base,))

    def __str__(self) -> str:
        names = list(self._base.names) or [""]
        width = max(len("Column"), *(len(n) for n in names))
        lines = [f"{'Column':<{width}}  Type", f"{'-' * len('Column'):<{width}}  ----"]
        lines += [f"{f.name:<{width}}  {f.type}" for f in self._base]
        return "\n".join(lines)

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}: {f.type}" for f in self._base)
        return f"Schema({fields})"


def as_schema(schema: "pa.Schema | Schema | None") -> "Schema | None":
    """``schema`` as a :class:`Schema` (None stays None)."""
    return None if schema is None else Schema(schema)


__all__ = ["Schema", "as_schema"]
