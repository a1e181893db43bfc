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
import sys
from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from streamdata.errors import TensorRequiresGradError

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
        """Build from NumPy arrays (their common dtype); arrays of different numbers of
        dimensions are kept as they are, the type's ``ndim`` the largest (as Ray's)."""
        if not arrays:
            raise ValueError("cannot infer a tensor type from zero arrays")
        arrays = [np.asarray(a) for a in arrays]
        ndim = max(a.ndim for a in arrays)
        dtype = np.result_type(*[a.dtype for a in arrays])
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


# --------------------------------------------------------------------------- unifying tensor types


def _tensor_key(type_: pa.DataType) -> tuple[Any, ...]:
    """What tells two tensor types apart (Arrow's ``==`` ignores a variable-shape type's ``ndim``)."""
    if isinstance(type_, VariableShapeTensorType):
        return ("variable", str(type_.value_type), type_.ndim)
    return ("fixed", str(type_.value_type), tuple(type_.shape), tuple(type_.permutation or ()))


def _tensor_ndim(type_: pa.DataType) -> int:
    return type_.ndim if isinstance(type_, VariableShapeTensorType) else len(type_.shape)


def unify_tensor_types(types: Sequence[pa.DataType]) -> pa.DataType:
    """One type for a column whose blocks hold these tensor types, as Ray unifies them:
    one shape stays fixed-shape; different shapes, or fixed beside variable, become
    variable-shape with the largest number of dimensions.

    Raises:
        pyarrow.ArrowTypeError: element types differ (Ray refuses them too).

    Example:
        >>> a, b = pa.fixed_shape_tensor(pa.uint8(), [2, 2]), pa.fixed_shape_tensor(pa.uint8(), [3, 3, 1])
        >>> str(unify_tensor_types([a, b]))
        'variable_shape_tensor<uint8, ndim=3>'
        >>> unify_tensor_types([a, a]) == a
        True
    """
    if not types:
        raise ValueError("unify_tensor_types needs at least one type")
    keys = {_tensor_key(t) for t in types}
    if len(keys) == 1:
        return types[0]
    value_types = {str(t.value_type) for t in types}
    if len(value_types) > 1:
        raise pa.ArrowTypeError(f"cannot unify tensor columns with different element types: "
                                f"{sorted(value_types)} ({', '.join(str(t) for t in types)})")
    if all(isinstance(t, pa.FixedShapeTensorType) for t in types) and len({tuple(t.shape) for t in types}) == 1:
        return types[0]  # one shape, other differences (permutation): left to Arrow
    return VariableShapeTensorType(types[0].value_type, max(_tensor_ndim(t) for t in types))


def to_variable_shape(col: pa.Array | pa.ChunkedArray, target: VariableShapeTensorType) -> pa.ChunkedArray:
    """A tensor column (fixed- or variable-shape) as ``target``, a variable-shape type of the
    same element type. Fixed-shape chunks are rewrapped without copying their values; nulls
    stay null.

    Example:
        >>> fixed = pa.FixedShapeTensorArray.from_numpy_ndarray(np.arange(8).reshape(2, 2, 2))
        >>> out = to_variable_shape(fixed, VariableShapeTensorType(pa.int64(), 2))
        >>> [a.tolist() for a in arrow_to_ndarray(out)]
        [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]
    """
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    return pa.chunked_array([_chunk_to_variable(c, target) for c in chunks], type=target)


def _chunk_to_variable(chunk: pa.Array, target: VariableShapeTensorType) -> pa.Array:
    if isinstance(chunk.type, VariableShapeTensorType):
        return pa.ExtensionArray.from_storage(target, chunk.storage)
    if not isinstance(chunk.type, pa.FixedShapeTensorType):
        raise pa.ArrowTypeError(f"not a tensor column: {chunk.type}")
    shape = list(chunk.type.shape)
    permutation = chunk.type.permutation
    if permutation is not None and list(permutation) != list(range(len(shape))):  # strided: copy the rows
        rows = list(chunk.to_numpy_ndarray())
        return pa.ExtensionArray.from_storage(target, VariableShapeTensorArray.from_numpy(rows).storage)
    n, width = len(chunk), int(np.prod(shape)) if shape else 1
    storage = chunk.storage  # fixed_size_list<value_type>[width]; its offset is in rows
    values = storage.values.slice(storage.offset * width, n * width)
    data = pa.LargeListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int64) * width), values)
    shapes = pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32) * len(shape)),
                                      pa.array(np.tile(np.asarray(shape, dtype=np.int64), n), type=pa.int64()))
    mask = chunk.is_null() if chunk.null_count else None
    struct = pa.StructArray.from_arrays([data, shapes], names=["data", "shape"], mask=mask)
    return pa.ExtensionArray.from_storage(target, struct)


def tensor_type_overrides(schemas: Sequence[pa.Schema]) -> dict[str, pa.DataType]:
    """For each column that is a tensor in these schemas with differing types, the one type
    they unify to (:func:`unify_tensor_types`); columns that agree are left out.

    Example:
        >>> s1 = pa.schema([("x", pa.fixed_shape_tensor(pa.uint8(), [2]))])
        >>> s2 = pa.schema([("x", pa.fixed_shape_tensor(pa.uint8(), [3]))])
        >>> {k: str(v) for k, v in tensor_type_overrides([s1, s2]).items()}
        {'x': 'variable_shape_tensor<uint8, ndim=1>'}
    """
    seen: dict[str, dict[tuple[Any, ...], pa.DataType]] = {}
    for schema in schemas:
        for field in schema:
            if is_tensor_type(field.type):
                seen.setdefault(field.name, {}).setdefault(_tensor_key(field.type), field.type)
    return {name: unify_tensor_types(list(types.values())) for name, types in seen.items() if len(types) > 1}


def unify_tensor_columns(tables: Sequence[pa.Table]) -> list[pa.Table] | None:
    """``tables`` with each tensor column whose type differs between them converted to the
    variable-shape type they unify to; None when no column needed it (so a caller that
    failed to concatenate knows the cause is elsewhere).

    Example:
        >>> a = pa.table({"x": ndarray_to_arrow(np.zeros((1, 2)))})
        >>> b = pa.table({"x": ndarray_to_arrow(np.zeros((1, 3)))})
        >>> [str(t.schema.field("x").type) for t in unify_tensor_columns([a, b])]
        ['variable_shape_tensor<double, ndim=1>', 'variable_shape_tensor<double, ndim=1>']
    """
    targets = {name: t for name, t in tensor_type_overrides([t.schema for t in tables]).items()
               if isinstance(t, VariableShapeTensorType)}
    if not targets:
        return None
    out, changed = [], False
    for table in tables:
        for name, target in targets.items():
            idx = table.schema.get_field_index(name)
            if idx < 0 or _tensor_key(table.schema.field(idx).type) == _tensor_key(target):
                continue
            field = table.schema.field(idx)
            if not is_tensor_type(field.type):
                continue
            table = table.set_column(idx, field.with_type(target), to_variable_shape(table.column(idx), target))
            changed = True
        out.append(table)
    return out if changed else None


# --------------------------------------------------------------------------- array-like values


def is_array_like(value: Any) -> bool:
    """Whether a value is an array without being an ndarray (a ``torch.Tensor``, a pandas
    Series, anything with ``__array__`` and ``__len__``), as Ray's ``is_ndarray_like``;
    Arrow arrays are not."""
    return (hasattr(value, "__array__") and hasattr(value, "__len__") and not isinstance(value, np.ndarray)
            and not isinstance(value, (pa.Array, pa.ChunkedArray)))


def as_ndarray(value: Any) -> np.ndarray:
    """An array-like value as an ndarray (a torch tensor copied to the CPU first; torch is
    never imported here).

    Raises:
        TensorRequiresGradError: a torch tensor that requires grad while grad mode is on
            (torch's own ``numpy()`` refuses it, and so does Ray; under ``torch.no_grad()``
            both convert it).
    """
    if type(value).__module__.startswith("torch"):
        if getattr(value, "requires_grad", False) and sys.modules["torch"].is_grad_enabled():
            raise TensorRequiresGradError()
        return value.detach().cpu().numpy()
    return np.asarray(value)


def array_likes_to_ndarrays(values: Sequence[Any]) -> list[Any] | None:
    """``values`` with every array-like (:func:`is_array_like`) as an ndarray, None values kept;
    None when there is no array-like among them or some other value is not an array (then the
    values are not a tensor column). Returns at the first value that rules it out; a torch
    tensor that requires grad raises :class:`~streamdata.errors.TensorRequiresGradError`
    (:func:`as_ndarray`).

    Example:
        >>> class Arr:
        ...     def __array__(self, dtype=None, copy=None):
        ...         return np.arange(2)
        ...     def __len__(self):
        ...         return 2
        >>> [a.tolist() for a in array_likes_to_ndarrays([Arr(), np.ones(2)])]
        [[0, 1], [1.0, 1.0]]
        >>> array_likes_to_ndarrays([1, 2]) is None
        True
    """
    out: list[Any] = []
    found = False
    for v in values:
        if v is None or isinstance(v, np.ndarray):
            out.append(v)
        elif is_array_like(v):
            try:
                out.append(as_ndarray(v))
            except TensorRequiresGradError:
                raise
            except (TypeError, ValueError, RuntimeError):  # an odd dtype (bfloat16), a failing __array__
                return None
            found = True
        else:
            return None
    return out if found else None
