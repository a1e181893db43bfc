"""Tensor columns: how n-dimensional NumPy arrays are stored in Arrow blocks.

* A column whose rows are arrays of **one shape** is a ``pyarrow.FixedShapeTensorArray``
  (Arrow's canonical ``arrow.fixed_shape_tensor`` extension type): zero-copy to and
  from a NumPy array of shape ``(num_rows, *shape)``.
* A column whose rows are arrays of **different shapes** (images of different
  sizes, say) is a :class:`VariableShapeTensorArray`, the extension type
  ``streamdata.variable_shape_tensor`` with storage
  ``struct<data: large_list<value_type>, shape: list<int64>>``.
* One-dimensional columns (one scalar per row) stay plain Arrow arrays.

Example:
    >>> import numpy as np
    >>> col = ndarray_to_arrow(np.zeros((3, 2, 2), dtype=np.uint8))
    >>> col.type.shape
    [2, 2]
    >>> arrow_to_ndarray(col).shape
    (3, 2, 2)
    >>> var = ndarrays_to_arrow([np.zeros((1, 2)), np.zeros((3, 2))])
    >>> [a.shape for a in arrow_to_ndarray(var)]
    [(1, 2), (3, 2)]
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

VARIABLE_SHAPE_TENSOR_NAME = "streamdata.variable_shape_tensor"


class VariableShapeTensorType(pa.ExtensionType):
    """Arrow extension type for a column of n-d arrays whose shapes differ by row."""

    def __init__(self, value_type: pa.DataType, ndim: int) -> None:
        self._value_type = value_type
        self._ndim = int(ndim)
        storage = pa.struct([pa.field("data", pa.large_list(value_type)),
                             pa.field("shape", pa.list_(pa.int64()))])
        super().__init__(storage, VARIABLE_SHAPE_TENSOR_NAME)

    @property
    def value_type(self) -> pa.DataType:
        return self._value_type

    @property
    def ndim(self) -> int:
        return self._ndim

    def __arrow_ext_serialize__(self) -> bytes:
        return json.dumps({"ndim": self._ndim}).encode()

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> "VariableShapeTensorType":
        meta = json.loads(serialized.decode() or "{}")
        value_type = storage_type.field("data").type.value_type
        return cls(value_type, int(meta.get("ndim", 0)))

    def __arrow_ext_class__(self) -> type:
        return VariableShapeTensorArray

    def __reduce__(self) -> tuple[Any, ...]:
        return VariableShapeTensorType, (self._value_type, self._ndim)

    def __str__(self) -> str:
        return f"variable_shape_tensor<{self._value_type}, ndim={self._ndim}>"


class VariableShapeTensorArray(pa.ExtensionArray):
    """An Arrow array of n-d tensors of differing shapes (see :class:`VariableShapeTensorType`)."""

    @staticmethod
    def from_numpy(arrays: Sequence[np.ndarray]) -> "VariableShapeTensorArray":
        """Build from NumPy arrays of one dtype and one number of dimensions."""
        if not arrays:
            raise ValueError("cannot infer a tensor type from zero arrays")
        arrays = [np.asarray(a) for a in arrays]
        ndim = arrays[0].ndim
        dtype = np.result_type(*[a.dtype for a in arrays])
        if any(a.ndim != ndim for a in arrays):
            raise ValueError(f"tensors must have the same number of dimensions, got "
                             f"{sorted({a.ndim for a in arrays})}")
        value_type = pa.from_numpy_dtype(dtype)
        flat = np.concatenate([np.ascontiguousarray(a, dtype=dtype).reshape(-1) for a in arrays]) \
            if arrays else np.empty(0, dtype=dtype)
        sizes = np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays))
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        data = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(flat, type=value_type))
        shapes = pa.array([list(a.shape) for a in arrays], type=pa.list_(pa.int64()))
        storage = pa.StructArray.from_arrays([data, shapes], names=["data", "shape"])
        return pa.ExtensionArray.from_storage(VariableShapeTensorType(value_type, ndim), storage)

    def to_numpy_ndarrays(self) -> list[np.ndarray]:
        """The rows as NumPy arrays (views into the Arrow buffers where possible)."""
        storage = self.storage
        data = storage.field("data")
        shapes = storage.field("shape").to_pylist()
        out: list[np.ndarray] = []
        for i, shape in enumerate(shapes):
            if not storage[i].is_valid:
                out.append(None)  # type: ignore[arg-type]
                continue
            values = data[i].values.to_numpy(zero_copy_only=False)
            out.append(values.reshape(shape))
        return out


try:
    pa.register_extension_type(VariableShapeTensorType(pa.uint8(), 3))
except pa.ArrowKeyError:  # already registered (module reloaded)
    pass


def is_tensor_type(type_: pa.DataType) -> bool:
    """Whether ``type_`` is a tensor column type (fixed or variable shape)."""
    return isinstance(type_, (pa.FixedShapeTensorType, VariableShapeTensorType))


def ndarray_to_arrow(arr: np.ndarray) -> pa.Array:
    """One column from a NumPy array whose first axis is the rows.

    1-d arrays become plain Arrow arrays; n-d arrays become fixed-shape tensor columns.

    Example:
        >>> ndarray_to_arrow(np.arange(3)).to_pylist()
        [0, 1, 2]
    """
    arr = np.asarray(arr)
    if arr.ndim == 0:
        raise ValueError("a column needs at least one dimension (the rows), got a 0-d array")
    if arr.dtype == object:
        if arr.ndim == 1 and len(arr) and all(isinstance(v, np.ndarray) and v.ndim > 0 for v in arr):
            return ndarrays_to_arrow(list(arr))
        return pa.array(list(arr)) if arr.ndim == 1 else pa.array(arr.tolist())
    if arr.ndim == 1:
        return pa.array(arr)
    if arr.dtype.kind not in "biuf":  # strings, datetimes...: nested lists
        return pa.array(arr.tolist())
    if arr.size == 0:  # pyarrow's from_numpy_ndarray refuses empty arrays
        value_type = pa.from_numpy_dtype(arr.dtype)
        type_ = pa.fixed_shape_tensor(value_type, list(arr.shape[1:]))
        width = int(np.prod(arr.shape[1:]))
        storage = pa.FixedSizeListArray.from_arrays(pa.array(np.empty(0, dtype=arr.dtype), type=value_type),
                                                    width) if width > 0 else \
            pa.array([[]] * len(arr), type=pa.list_(value_type, 0))
        return pa.ExtensionArray.from_storage(type_, storage)
    return pa.FixedShapeTensorArray.from_numpy_ndarray(np.ascontiguousarray(arr))


def ndarrays_to_arrow(arrays: Sequence[np.ndarray]) -> pa.Array:
    """One column from a list of per-row arrays: fixed-shape when all shapes agree, else variable.

    Example:
        >>> ndarrays_to_arrow([np.ones(2), np.ones(2)]).type.shape
        [2]
    """
    arrays = [np.asarray(a) for a in arrays]
    if not arrays:
        return pa.array([], type=pa.null())
    shapes = {a.shape for a in arrays}
    if len(shapes) == 1:
        return ndarray_to_arrow(np.stack(arrays))
    return VariableShapeTensorArray.from_numpy(arrays)


def values_to_arrow(values: Sequence[Any]) -> pa.Array:
    """One column from arbitrary Python row values; arrays of ndarrays become tensor columns.

    Example:
        >>> values_to_arrow([1, None, 3]).to_pylist()
        [1, None, 3]
    """
    non_null = [v for v in values if v is not None]
    if non_null and all(isinstance(v, np.ndarray) and v.ndim > 0 for v in non_null) \
            and len(non_null) == len(values):
        return ndarrays_to_arrow(values)
    return pa.array(list(values))


def arrow_to_ndarray(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A column as NumPy: ``(rows, *shape)`` for fixed-shape tensors, an object array of
    arrays for variable-shape tensors, the plain values otherwise.

    Example:
        >>> arrow_to_ndarray(pa.chunked_array([[1, 2], [3]])).tolist()
        [1, 2, 3]
    """
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if isinstance(col.type, pa.FixedShapeTensorType):
        return col.to_numpy_ndarray()
    if isinstance(col.type, VariableShapeTensorType):
        rows = col.to_numpy_ndarrays()  # type: ignore[attr-defined]
        out = np.empty(len(rows), dtype=object)
        out[:] = rows
        return out
    return col.to_numpy(zero_copy_only=False)
