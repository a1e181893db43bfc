"""``Schema``: what ``Dataset.schema()`` returns (Ray Data's ``ray.data.Schema``).

A thin, printable view of a ``pyarrow.Schema`` with Ray's ``names`` / ``types`` /
``base_schema``; every other attribute is the Arrow schema's (``field``, ``empty_table``,
``metadata``...), and it compares equal to the Arrow schema it wraps. It prints (``repr``
and ``str`` alike) as Ray 2.60's ``Column  Type`` table, with the type names Ray prints
(:func:`format_type`: tensor columns as ``ArrowTensorTypeV2(shape=..., dtype=...)``).

A base module (imports only pyarrow).

Example:
    >>> import pyarrow as pa
    >>> s = Schema(pa.schema([("id", pa.int64()), ("name", pa.string())]))
    >>> s.names, s.types
    (['id', 'name'], [DataType(int64), DataType(string)])
    >>> s
    Column  Type
    ------  ----
    id      int64
    name    string
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import pyarrow as pa

#: the extension names of streamdata's own column types (see streamdata.tensor / streamdata.block)
_VARIABLE_SHAPE_TENSOR = "streamdata.variable_shape_tensor"
_PYTHON_OBJECT = "streamdata.python_object"


def format_type(t: Any) -> str:
    """A column type as Ray 2.60 prints it: Arrow's name for plain types, Ray's extension
    types' names for tensor and Python-object columns.

    Example:
        >>> format_type(pa.int64()), format_type(pa.list_(pa.string()))
        ('int64', 'list<item: string>')
        >>> format_type(pa.fixed_shape_tensor(pa.uint8(), [32, 32, 3]))
        'ArrowTensorTypeV2(shape=(32, 32, 3), dtype=uint8)'
        >>> format_type(pa.fixed_shape_tensor(pa.float32(), [3]))
        'ArrowTensorTypeV2(shape=(3,), dtype=float)'
    """
    if isinstance(t, pa.FixedShapeTensorType):
        return f"ArrowTensorTypeV2(shape={tuple(t.shape)}, dtype={t.value_type})"
    name = getattr(t, "extension_name", None)
    if name == _VARIABLE_SHAPE_TENSOR:
        return f"ArrowVariableShapedTensorType(ndim={t.ndim}, dtype={t.value_type})"
    if name == _PYTHON_OBJECT:
        return "extension<ray.data.arrow_pickled_object<ArrowPythonObjectType>>"
    if isinstance(t, type):
        return t.__name__
    return str(t)


def format_schema_table(names: Sequence[str], types: Sequence[Any]) -> str:
    """Ray's ``Schema`` table: a ``Column`` and a ``Type`` column, two spaces apart.

    Example:
        >>> print(format_schema_table(["sepal.length", "variety"], [pa.float64(), pa.string()]))
        Column        Type
        ------        ----
        sepal.length  double
        variety       string
        >>> print(format_schema_table([], []))
        Column  Type
        ------  ----
    """
    width = max([len(n) for n in names] + [len("Column")]) + 2
    lines = ["Column".ljust(width) + "Type", "------".ljust(width) + "----"]
    lines += [name.ljust(width) + format_type(t) for name, t in zip(names, types)]
    return "\n".join(line.rstrip() for line in lines)


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

    def __repr__(self) -> str:
        return format_schema_table(self._base.names, self._base.types)

    __str__ = __repr__


def as_schema(schema: "pa.Schema | Schema | None") -> "Schema | None":
    """``schema`` as a :class:`Schema` (None stays None)."""
    return None if schema is None else Schema(schema)


__all__ = ["Schema", "as_schema", "format_schema_table", "format_type"]
