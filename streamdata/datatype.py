"""``DataType``: a column type given as Arrow, NumPy or a Python type (Ray's ``ray.data.datatype``).

Expressions take it where Ray does (``col("x").cast(DataType.int64())``,
``@udf(return_dtype=DataType.string())``); a ``pyarrow.DataType`` works there too. A base
type: it imports pyarrow, numpy and :mod:`streamdata.tensor` only.

Example:
    >>> DataType.int64()
    DataType(arrow:int64)
    >>> DataType.list(DataType.string()).to_arrow_dtype()
    ListType(list<item: string>)
    >>> DataType.from_numpy(np.dtype("float32")).to_arrow_dtype()
    DataType(float)
    >>> DataType(object).is_python_type()
    True
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pyarrow as pa

from streamdata.tensor import VariableShapeTensorType, is_tensor_type


class TypeCategory(str, enum.Enum):
    """Families of types for :meth:`DataType.is_of`."""

    LIST = "list"
    LARGE_LIST = "large_list"
    STRUCT = "struct"
    MAP = "map"
    TENSOR = "tensor"
    TEMPORAL = "temporal"


_SIMPLE: dict[str, Callable[[], pa.DataType]] = {
    "int8": pa.int8, "int16": pa.int16, "int32": pa.int32, "int64": pa.int64,
    "uint8": pa.uint8, "uint16": pa.uint16, "uint32": pa.uint32, "uint64": pa.uint64,
    "float32": pa.float32, "float64": pa.float64, "string": pa.string, "bool": pa.bool_,
    "binary": pa.binary,
}


def _arrow(dtype: DataType | pa.DataType, what: str) -> pa.DataType:
    if isinstance(dtype, pa.DataType):
        return dtype
    if isinstance(dtype, DataType):
        return dtype.to_arrow_dtype()
    raise TypeError(f"{what} takes a DataType, got {type(dtype).__name__}: {dtype!r}")


@dataclass
class DataType:
    """A column type: a ``pyarrow.DataType``, a ``numpy.dtype`` or a Python type.

    Build one with the factories (``DataType.int64()``, ``DataType.list(...)``,
    ``DataType.struct([...])``...) or ``from_arrow`` / ``from_numpy`` / ``infer_dtype``.
    """

    _physical_dtype: Any

    def __post_init__(self) -> None:
        if not isinstance(self._physical_dtype, (pa.DataType, np.dtype, type)):
            raise TypeError("DataType takes a pyarrow DataType, a numpy dtype or a Python type, got "
                            f"{type(self._physical_dtype).__name__}: {self._physical_dtype!r}")

    # ---- what backs it
    def is_arrow_type(self) -> bool:
        """Backed by a ``pyarrow.DataType``."""
        return isinstance(self._physical_dtype, pa.DataType)

    def is_numpy_type(self) -> bool:
        """Backed by a ``numpy.dtype``."""
        return isinstance(self._physical_dtype, np.dtype)

    def is_python_type(self) -> bool:
        """Backed by a Python type (``DataType(object)``)."""
        return isinstance(self._physical_dtype, type)

    # ---- conversions
    def to_arrow_dtype(self, values: list[Any] | None = None) -> pa.DataType:
        """The Arrow type (a Python-type-backed one is inferred from ``values``).

        Raises:
            ValueError: a Python type without ``values`` to infer from.
        """
        if self.is_arrow_type():
            return self._physical_dtype
        if self.is_numpy_type():
            return pa.from_numpy_dtype(self._physical_dtype)
        if not values:
            raise ValueError(f"{self} is a Python type: its Arrow type is inferred from values, "
                             "and none were given; use an Arrow-backed DataType (DataType.int64()...)")
        return pa.array(values).type

    def to_numpy_dtype(self) -> np.dtype:
        """The NumPy dtype (``object`` where NumPy has none)."""
        if self.is_numpy_type():
            return self._physical_dtype
        if self.is_arrow_type():
            try:
                out = self._physical_dtype.to_pandas_dtype()
                return out if isinstance(out, np.dtype) else np.dtype(out)
            except (NotImplementedError, TypeError):
                return np.dtype(object)
        return np.dtype(object)

    def to_python_type(self) -> type:
        """The Python type behind a Python-type-backed DataType.

        Raises:
            ValueError: the DataType is Arrow- or NumPy-backed.
        """
        if self.is_python_type():
            return self._physical_dtype
        raise ValueError(f"{self} is not backed by a Python type; use to_arrow_dtype() or to_numpy_dtype()")

    def to_cudf_type(self) -> Any:
        """Not available: cuDF is a GPU library of Ray's RAPIDS integration."""
        raise NotImplementedError("DataType.to_cudf_type needs cuDF (Ray's RAPIDS integration); "
                                  "streamdata has no cuDF blocks")

    @classmethod
    def from_arrow(cls, arrow_type: pa.DataType) -> DataType:
        """Wrap a ``pyarrow.DataType``."""
        if not isinstance(arrow_type, pa.DataType):
            raise TypeError(f"from_arrow takes a pyarrow.DataType, got {arrow_type!r}")
        return cls(arrow_type)

    @classmethod
    def from_numpy(cls, numpy_dtype: np.dtype | str) -> DataType:
        """Wrap a ``numpy.dtype`` (or its name)."""
        return cls(np.dtype(numpy_dtype))

    @classmethod
    def from_cudf(cls, cudf_dtype: Any) -> DataType:
        """Not available (see :meth:`to_cudf_type`)."""
        raise NotImplementedError("DataType.from_cudf needs cuDF (Ray's RAPIDS integration)")

    @classmethod
    def from_dtype(cls, dtype: Any) -> DataType | None:
        """A DataType from an Arrow type, a NumPy dtype, a dtype name or a Python type (None: None)."""
        if dtype is None:
            return None
        if isinstance(dtype, DataType):
            return dtype
        if isinstance(dtype, pa.DataType):
            return cls(dtype)
        if isinstance(dtype, np.dtype) or isinstance(dtype, str):
            return cls(np.dtype(dtype))
        if isinstance(dtype, type):
            return cls(dtype)
        raise TypeError(f"from_dtype cannot make a DataType of {dtype!r}")

    @classmethod
    def infer_dtype(cls, value: Any) -> DataType:
        """The DataType of a value (NumPy values keep their dtype).

        Example:
            >>> DataType.infer_dtype(5), DataType.infer_dtype("a")
            (DataType(arrow:int64), DataType(arrow:string))
        """
        if isinstance(value, (np.ndarray, np.generic)):
            return cls(value.dtype)
        try:
            return cls(pa.array([value]).type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            return cls(type(value))

    # ---- nested factories
    @classmethod
    def list(cls, value_type: DataType) -> DataType:
        """A list of ``value_type``."""
        return cls(pa.list_(_arrow(value_type, "DataType.list")))

    @classmethod
    def large_list(cls, value_type: DataType) -> DataType:
        """A list with 64-bit offsets."""
        return cls(pa.large_list(_arrow(value_type, "DataType.large_list")))

    @classmethod
    def fixed_size_list(cls, value_type: DataType, list_size: int) -> DataType:
        """A list of exactly ``list_size`` values."""
        return cls(pa.list_(_arrow(value_type, "DataType.fixed_size_list"), list_size))

    @classmethod
    def struct(cls, fields: list[tuple[str, DataType]]) -> DataType:
        """A struct of named fields."""
        return cls(pa.struct([(name, _arrow(t, "DataType.struct")) for name, t in fields]))

    @classmethod
    def map(cls, key_type: DataType, value_type: DataType) -> DataType:
        """A map from ``key_type`` to ``value_type``."""
        return cls(pa.map_(_arrow(key_type, "DataType.map"), _arrow(value_type, "DataType.map")))

    @classmethod
    def tensor(cls, shape: tuple[int, ...], dtype: DataType) -> DataType:
        """Rows of ``shape``-shaped arrays (Arrow's fixed-shape tensor type)."""
        return cls(pa.fixed_shape_tensor(_arrow(dtype, "DataType.tensor"), list(shape)))

    @classmethod
    def variable_shaped_tensor(cls, dtype: DataType, ndim: int = 2) -> DataType:
        """Rows of ``ndim``-dimensional arrays whose shapes differ."""
        return cls(VariableShapeTensorType(_arrow(dtype, "DataType.variable_shaped_tensor"), ndim))

    @classmethod
    def temporal(cls, temporal_type: str, unit: str | None = None, tz: str | None = None) -> DataType:
        """``"timestamp"`` (``unit``, ``tz``), ``"date32"``, ``"date64"``, ``"time32"``,
        ``"time64"`` or ``"duration"``.

        Example:
            >>> DataType.temporal("timestamp", unit="s", tz="UTC")
            DataType(arrow:timestamp[s, tz=UTC])
        """
        makers: dict[str, Callable[[], pa.DataType]] = {
            "timestamp": lambda: pa.timestamp(unit or "us", tz=tz),
            "date32": pa.date32, "date64": pa.date64,
            "time32": lambda: pa.time32(unit or "s"), "time64": lambda: pa.time64(unit or "us"),
            "duration": lambda: pa.duration(unit or "us"),
        }
        if temporal_type not in makers:
            raise ValueError(f"temporal_type must be one of {sorted(makers)}, got {temporal_type!r}")
        return cls(makers[temporal_type]())

    # ---- predicates
    def _arrow_check(self, check: Callable[[pa.DataType], bool]) -> bool:
        return self.is_arrow_type() and bool(check(self._physical_dtype))

    def is_of(self, category: TypeCategory | str) -> bool:
        """Whether the type is of ``category`` (``"list"``, ``"struct"``, ``"map"``...)."""
        try:
            category = TypeCategory(category)
        except ValueError:
            return False
        return {
            TypeCategory.LIST: self.is_list_type,
            TypeCategory.LARGE_LIST: lambda: self._arrow_check(pa.types.is_large_list),
            TypeCategory.STRUCT: self.is_struct_type, TypeCategory.MAP: self.is_map_type,
            TypeCategory.TENSOR: self.is_tensor_type, TypeCategory.TEMPORAL: self.is_temporal_type,
        }[category]()

    def is_list_type(self) -> bool:
        """A list, large list or fixed-size list."""
        return self._arrow_check(lambda t: pa.types.is_list(t) or pa.types.is_large_list(t)
                                 or pa.types.is_fixed_size_list(t))

    def is_tensor_type(self) -> bool:
        """A tensor column type (fixed or variable shape)."""
        return self._arrow_check(is_tensor_type)

    def is_struct_type(self) -> bool:
        return self._arrow_check(pa.types.is_struct)

    def is_map_type(self) -> bool:
        return self._arrow_check(pa.types.is_map)

    def is_nested_type(self) -> bool:
        return self._arrow_check(pa.types.is_nested)

    def is_null_type(self) -> bool:
        return self._arrow_check(pa.types.is_null)

    def is_boolean_type(self) -> bool:
        return self._arrow_check(pa.types.is_boolean) or (self.is_numpy_type() and self._physical_dtype.kind == "b")

    def is_integer_type(self) -> bool:
        return self._arrow_check(pa.types.is_integer) or (self.is_numpy_type() and self._physical_dtype.kind in "iu")

    def is_floating_type(self) -> bool:
        return self._arrow_check(pa.types.is_floating) or (self.is_numpy_type() and self._physical_dtype.kind == "f")

    def is_uint64_type(self) -> bool:
        return self._arrow_check(pa.types.is_uint64) or (self.is_numpy_type() and self._physical_dtype == np.uint64)

    def is_numerical_type(self) -> bool:
        """An integer, floating or decimal type."""
        return self.is_integer_type() or self.is_floating_type() or self._arrow_check(pa.types.is_decimal)

    def is_string_type(self) -> bool:
        return self._arrow_check(lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)) or \
            (self.is_numpy_type() and self._physical_dtype.kind == "U") or self._physical_dtype is str

    def is_binary_type(self) -> bool:
        return self._arrow_check(lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t)
                                 or pa.types.is_fixed_size_binary(t)) or self._physical_dtype is bytes

    def is_temporal_type(self) -> bool:
        return self._arrow_check(pa.types.is_temporal) or (self.is_numpy_type() and self._physical_dtype.kind in "mM")

    # ---- identity
    def __repr__(self) -> str:
        if self.is_arrow_type():
            return f"DataType(arrow:{_arrow_type_repr(self._physical_dtype)})"
        if self.is_numpy_type():
            return f"DataType(numpy:{self._physical_dtype})"
        return f"DataType(python:{self._physical_dtype.__name__})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataType) and type(self._physical_dtype) is type(other._physical_dtype) \
            and self._physical_dtype == other._physical_dtype

    def __hash__(self) -> int:
        return hash((type(self._physical_dtype).__name__, str(self._physical_dtype)))


def _factory(name: str, make: Callable[[], pa.DataType]) -> classmethod:
    def factory(cls: type[DataType]) -> DataType:
        return cls(make())

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = f"A DataType of Arrow's ``{make()}``."
    return classmethod(factory)


for _name, _make in _SIMPLE.items():
    setattr(DataType, _name, _factory(_name, _make))


def _arrow_type_repr(t: pa.DataType) -> str:
    """An Arrow type as ``DataType``'s repr names it: tensor types by Ray's names
    (``ArrowTensorType(shape=(3, 4), dtype=float)``), any other as Arrow prints it."""
    if isinstance(t, pa.FixedShapeTensorType):
        return f"ArrowTensorType(shape={tuple(t.shape)}, dtype={t.value_type})"
    if isinstance(t, VariableShapeTensorType):
        return f"ArrowVariableShapedTensorType(ndim={t.ndim}, dtype={t.value_type})"
    return str(t)


__all__ = ["DataType", "TypeCategory"]
