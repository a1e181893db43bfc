"""Ray's ``ray.data.extensions.tensor_extension`` names for Arrow tensor columns.

streamdata keeps tensor columns as Arrow extension arrays: ``pyarrow``'s fixed-shape tensor
type when every row has one shape, its own variable-shape type otherwise
(:mod:`streamdata.tensor`). ``ArrowTensorArray.from_numpy`` builds such a column from a
NumPy array (rows on the first axis) or a list of per-row arrays, as Ray's does.

Ray's pandas extension (``TensorArray``, ``TensorDtype``, ``TensorArrayElement``) is
:mod:`streamdata.extensions.pandas_tensor`, loaded (with pandas) when first asked for.

Example:
    >>> import numpy as np
    >>> from streamdata.extensions.tensor_extension import ArrowTensorArray
    >>> col = ArrowTensorArray.from_numpy(np.zeros((3, 2, 2), dtype=np.uint8))
    >>> len(col), col.type.shape
    (3, [2, 2])
    >>> ArrowTensorArray.from_numpy([np.ones(2), np.ones(3)]).to_numpy_ndarrays()[1].shape
    (3,)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from streamdata.errors import StreamDataError
from streamdata.tensor import VariableShapeTensorArray, VariableShapeTensorType, ndarray_to_arrow, ndarrays_to_arrow

#: the fixed-shape tensor column type (pyarrow's canonical extension)
ArrowTensorType = pa.FixedShapeTensorType
#: the variable-shape tensor column type
ArrowVariableShapedTensorType = VariableShapeTensorType


class ArrowTensorArray:
    """Builds tensor columns (``from_numpy``); the columns are pyarrow extension arrays."""

    @staticmethod
    def from_numpy(arr: np.ndarray | Sequence[np.ndarray], column_name: str | None = None) -> pa.Array:
        """A tensor column from an ndarray (rows first) or a sequence of per-row ndarrays.

        Raises:
            TensorExtensionError: a 0-d array or something that is not arrays.
        """
        where = f" (column {column_name!r})" if column_name else ""
        if isinstance(arr, np.generic):
            arr = np.asarray(arr)
        if isinstance(arr, np.ndarray) and arr.dtype != object:
            if arr.ndim == 0:
                raise TensorExtensionError(f"ArrowTensorArray.from_numpy{where}: needs the rows on a first "
                                           f"axis, got a 0-d array")
            return ndarray_to_arrow(arr)  # 1-d (a scalar per row): a plain column, as streamdata keeps them
        rows = list(arr)
        if not all(isinstance(r, np.ndarray) for r in rows):
            kinds = sorted({type(r).__name__ for r in rows if not isinstance(r, np.ndarray)})
            raise TensorExtensionError(f"ArrowTensorArray.from_numpy{where}: takes an ndarray or a sequence of "
                                       f"ndarrays, got items of type {kinds}")
        return ndarrays_to_arrow(rows)


ArrowVariableShapedTensorArray = VariableShapeTensorArray


class TensorExtensionError(StreamDataError, ValueError):
    """Input ``ArrowTensorArray.from_numpy`` cannot turn into a tensor column."""


_PANDAS_EXTENSION = frozenset({"TensorArray", "TensorDtype", "TensorArrayElement"})


def __getattr__(name: str) -> Any:
    if name in _PANDAS_EXTENSION:  # pandas is imported only by who asks for these
        from streamdata.extensions import pandas_tensor

        return getattr(pandas_tensor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ArrowTensorArray", "ArrowTensorType", "ArrowVariableShapedTensorArray",
           "ArrowVariableShapedTensorType", "TensorExtensionError"]
