"""Ray's pandas tensor extension: ``TensorDtype`` and ``TensorArray``, a pandas column
holding one ndarray per row.

A :class:`TensorArray` is built from an ndarray whose first axis is the rows, or from a
sequence of per-row ndarrays (stacked when their shapes agree, kept apart when they do
not). Arithmetic, comparisons and NumPy ufuncs act elementwise on the tensors;
``np.asarray(column)`` gives the ``(rows, *shape)`` array. Arrow takes it through
``__arrow_array__``: ``pa.Table.from_pandas`` (and every streamdata block built from a
DataFrame) turns it into a tensor column (:mod:`streamdata.tensor`), fixed-shape or
variable-shape.

streamdata's own pandas batches keep a tensor column as an object column of ndarrays,
as pandas does for pyarrow's tensor type; a UDF may return either form.

Example:
    >>> import numpy as np, pandas as pd, pyarrow as pa
    >>> df = pd.DataFrame({"x": TensorArray(np.arange(8).reshape(4, 2))})
    >>> df["x"].dtype
    TensorDtype(shape=(2,), dtype=int64)
    >>> (df["x"] + 1)[3]
    array([7, 8])
    >>> pa.Table.from_pandas(df).column("x").type.shape
    [2]
"""

from __future__ import annotations

import ast
import numbers
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray, ExtensionDtype, register_extension_dtype, take


_NAME = re.compile(r"^TensorDtype\(shape=(?P<shape>None|\([0-9, ]*\)), dtype=(?P<dtype>\w+)\)$")


class TensorArrayElement:
    """One row's tensor of a :class:`TensorArray` (``TensorDtype.type``); ``np.asarray``
    of it is the ndarray."""

    def __init__(self, tensor: np.ndarray) -> None:
        self._tensor = np.asarray(tensor)

    def to_numpy(self) -> np.ndarray:
        return self._tensor

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self._tensor if dtype is None else self._tensor.astype(dtype)

    def __repr__(self) -> str:
        return f"TensorArrayElement({self._tensor!r})"


@register_extension_dtype
class TensorDtype(ExtensionDtype):
    """The dtype of a :class:`TensorArray`: each row's ``shape`` (None: rows differ) and
    the ``dtype`` of the elements."""

    type = TensorArrayElement
    kind = "O"
    _metadata = ("_shape", "_dtype")

    def __init__(self, shape: tuple[int, ...] | None = None, dtype: Any = np.float64) -> None:
        self._shape = None if shape is None else tuple(int(d) for d in shape)
        self._dtype = np.dtype(dtype)

    @property
    def name(self) -> str:
        return f"TensorDtype(shape={self._shape}, dtype={self._dtype})"

    @property
    def element_shape(self) -> tuple[int, ...] | None:
        return self._shape

    @property
    def element_dtype(self) -> np.dtype:
        return self._dtype

    @property
    def na_value(self) -> Any:
        return None

    @classmethod
    def construct_array_type(cls) -> type[TensorArray]:
        return TensorArray

    @classmethod
    def construct_from_string(cls, string: str) -> TensorDtype:
        """The dtype its :attr:`name` names (pyarrow's pandas metadata stores the name).

        Example:
            >>> TensorDtype.construct_from_string("TensorDtype(shape=(2,), dtype=int8)")
            TensorDtype(shape=(2,), dtype=int8)
        """
        match = _NAME.match(string) if isinstance(string, str) else None
        if match is None:
            raise TypeError(f"cannot construct a TensorDtype from {string!r}")
        return cls(ast.literal_eval(match["shape"]), match["dtype"])

    def __from_arrow__(self, array: Any) -> TensorArray:
        """The column of a tensor Arrow column (pyarrow's ``to_pandas`` calls it)."""
        from streamdata.tensor import arrow_to_ndarray

        return TensorArray(arrow_to_ndarray(array))

    def __repr__(self) -> str:
        return self.name


class TensorArray(ExtensionArray, np.lib.mixins.NDArrayOperatorsMixin):
    """A pandas column of tensors (see the module docstring).

    Args:
        values: an ndarray with the rows on its first axis, a sequence of per-row
            ndarrays (or :class:`TensorArrayElement`), or a TensorArray.

    Raises:
        TypeError: a value that is not an ndarray.
    """

    def __init__(self, values: Any) -> None:
        if isinstance(values, TensorArray):
            values = values._tensor
        if isinstance(values, (np.generic, numbers.Number)):
            values = np.asarray(values)
        if isinstance(values, np.ndarray) and values.dtype != object:
            if values.ndim == 0:
                raise TypeError("TensorArray needs the rows on a first axis, got a 0-d array")
            self._tensor = values
            return
        rows = [np.asarray(v) if isinstance(v, TensorArrayElement) else v for v in values]
        if not all(isinstance(r, np.ndarray) for r in rows):
            kinds = sorted({type(r).__name__ for r in rows if not isinstance(r, np.ndarray)})
            raise TypeError(f"TensorArray takes an ndarray or a sequence of ndarrays, got items of type {kinds}")
        if rows and len({r.shape for r in rows}) == 1 and rows[0].dtype != object:
            self._tensor = np.stack(rows)
        else:  # rows of different shapes: one object slot each
            self._tensor = np.empty(len(rows), dtype=object)
            self._tensor[:] = rows

    # -------------------------------------------------------------------- what Ray's has
    @property
    def is_variable_shaped(self) -> bool:
        return self._tensor.dtype == object

    @property
    def numpy_dtype(self) -> np.dtype:
        rows = self._tensor
        return rows[0].dtype if self.is_variable_shaped and len(rows) else rows.dtype

    @property
    def numpy_shape(self) -> tuple[int, ...]:
        return self._tensor.shape

    @property
    def numpy_ndim(self) -> int:
        return self._tensor.ndim

    @property
    def numpy_size(self) -> int:
        return self._tensor.size

    def to_numpy(self, dtype: Any = None, copy: bool = False, na_value: Any = None) -> np.ndarray:
        out = self._tensor if dtype is None else self._tensor.astype(dtype)
        return out.copy() if copy and out is self._tensor else out

    # --------------------------------------------------------------- pandas' interface
    @classmethod
    def _from_sequence(cls, scalars: Any, *, dtype: Any = None, copy: bool = False) -> TensorArray:
        return cls(np.array(scalars, copy=True) if copy and isinstance(scalars, np.ndarray) else scalars)

    @classmethod
    def _concat_same_type(cls, to_concat: Sequence[TensorArray]) -> TensorArray:
        if all(not a.is_variable_shaped for a in to_concat) and len({a._tensor.shape[1:] for a in to_concat}) == 1:
            return cls(np.concatenate([a._tensor for a in to_concat]))
        return cls([row for a in to_concat for row in a])

    @property
    def dtype(self) -> TensorDtype:
        if self.is_variable_shaped:
            return TensorDtype(None, self.numpy_dtype)
        return TensorDtype(self._tensor.shape[1:], self._tensor.dtype)

    @property
    def nbytes(self) -> int:
        if self.is_variable_shaped:
            return sum(r.nbytes for r in self._tensor)
        return self._tensor.nbytes

    def __len__(self) -> int:
        return len(self._tensor)

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, numbers.Integral):
            return self._tensor[item]
        item = pd.api.indexers.check_array_indexer(self, item) if not isinstance(item, (slice, tuple)) else item
        return TensorArray(self._tensor[item])

    def __setitem__(self, key: Any, value: Any) -> None:
        self._tensor[key] = np.asarray(value._tensor if isinstance(value, TensorArray) else value)

    def isna(self) -> np.ndarray:
        if self.is_variable_shaped:
            return np.array([r is None for r in self._tensor], dtype=bool)
        return np.zeros(len(self._tensor), dtype=bool)

    def take(self, indices: Sequence[int], *, allow_fill: bool = False, fill_value: Any = None) -> TensorArray:
        if allow_fill and fill_value is not None:
            raise ValueError("TensorArray.take fills missing rows only with None")
        if allow_fill and not self.is_variable_shaped and np.any(np.asarray(indices) < 0):
            rows = [self._tensor[i] if i >= 0 else None for i in indices]
            out = np.empty(len(rows), dtype=object)
            out[:] = rows
            return TensorArray._raw(out)
        if self.is_variable_shaped or not allow_fill:
            return TensorArray._raw(take(self._tensor, indices, allow_fill=allow_fill, fill_value=None))
        return TensorArray(self._tensor[np.asarray(indices)])

    @classmethod
    def _raw(cls, tensor: np.ndarray) -> TensorArray:
        out = cls.__new__(cls)
        out._tensor = tensor
        return out

    def copy(self) -> TensorArray:
        return TensorArray._raw(self._tensor.copy())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.to_numpy(dtype)

    def __arrow_array__(self, type: Any = None) -> Any:
        from streamdata.tensor import ndarray_to_arrow, ndarrays_to_arrow

        if self.is_variable_shaped:
            return ndarrays_to_arrow(list(self._tensor))
        return ndarray_to_arrow(self._tensor)

    # ------------------------------------------------------ elementwise operators, ufuncs
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if any(isinstance(x, (pd.Series, pd.DataFrame, pd.Index)) for x in inputs):
            return NotImplemented  # pandas unwraps and calls again with the arrays
        arrays = [x._tensor if isinstance(x, TensorArray) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(x._tensor if isinstance(x, TensorArray) else x for x in kwargs["out"])
        result = getattr(ufunc, method)(*arrays, **kwargs)
        if method == "at" or not isinstance(result, np.ndarray) or result.ndim == 0:
            return result
        return TensorArray(result)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]  # elementwise, as NumPy's
        return np.equal(self, other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return np.not_equal(self, other)

    def __repr__(self) -> str:
        return f"TensorArray({self._tensor!r})"



__all__ = ["TensorArray", "TensorArrayElement", "TensorDtype"]
