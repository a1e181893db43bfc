"""``Concatenator`` (Ray's ``ray.data.preprocessors.concatenator``).

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"X0": [0, 3], "X1": [0.5, 0.2], "Y": ["a", "b"]})
    >>> Concatenator(["X0", "X1"]).transform_batch(df)["concat_out"].tolist()
    [array([0. , 0.5]), array([3. , 0.2])]
    >>> nested = pd.DataFrame({"X0": [[1, 2], [3, 4]], "X1": [0.5, 0.2]})
    >>> Concatenator(["X0", "X1"]).transform_batch(nested)["concat_out"][0]
    array([list([1, 2]), 0.5], dtype=object)
    >>> Concatenator(["X0", "X1"], flatten=True).transform_batch(nested)["concat_out"][0]
    array([1. , 2. , 0.5])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from streamdata.preprocessor import Preprocessor
from streamdata.preprocessors._util import _check_present, _columns

#: the constructor's defaults, in the order Ray's ``repr`` lists the arguments that differ
_DEFAULTS = {"output_column_name": "concat_out", "columns": None, "dtype": None,
             "raise_if_missing": False, "flatten": False}


class Concatenator(Preprocessor):
    """Join columns into one array column, one array per row (the inputs are dropped).

    As Ray's: each row's array holds the row's values of ``columns`` in order, in
    numpy's common type (or ``dtype``). A column of arrays (or lists) is kept nested: the
    row's array is then an object array holding them, unless ``flatten=True``, which
    joins each row's values (1-D arrays and scalars) into one flat array, its length the
    row's own. Every column must be there (``raise_if_missing`` is accepted, as Ray's).

    Args:
        columns: the columns to join, in order.
        output_column_name: the new column (default ``"concat_out"``).
        dtype: the dtype of the joined arrays (default: numpy's common type).
        raise_if_missing: accepted for Ray's API; a missing column always raises.
        flatten: join the elements of array-valued cells instead of nesting them.
    """

    _is_fittable = False

    def __init__(self, columns: list[str], output_column_name: str = "concat_out", dtype: Any = None,
                 raise_if_missing: bool = False, flatten: bool = False) -> None:
        super().__init__()
        self.columns = _columns("Concatenator", columns)
        self.output_column_name = output_column_name
        self.dtype, self.raise_if_missing, self.flatten = dtype, raise_if_missing, flatten

    def get_output_columns(self) -> list[str]:
        return [self.output_column_name]

    def _transform_pandas(self, df: pd.DataFrame) -> pd.DataFrame:
        # Ray's raises too (a ValueError with raise_if_missing, else pandas' KeyError): this
        # is both
        _check_present("Concatenator", df, self.columns)
        if self.flatten:
            stacked = self._stack(df, None)
            rows = [self._flat_row(row) for row in stacked]
        else:
            rows = list(self._stack(df, self.dtype))
        out = df.drop(columns=self.columns)
        out[self.output_column_name] = pd.Series(rows, index=df.index, dtype=object)
        return out

    def _stack(self, df: pd.DataFrame, dtype: Any) -> np.ndarray:
        """The columns side by side (rows × columns), each converted on its own (Arrow-backed
        columns would become objects together)."""
        parts = []
        for col in self.columns:
            try:
                parts.append(df[col].to_numpy(dtype=dtype))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"Concatenator: cannot convert column {col!r} to dtype "
                                 f"{np.dtype(dtype)}: {exc}") from None
        if not len(df):
            return np.empty((0, len(parts)))
        return np.column_stack(parts)

    def _flat_row(self, row: np.ndarray) -> np.ndarray:
        """One row's values (scalars and 1-D arrays) joined end to end."""
        values = [np.atleast_1d(v) if self.dtype is None else np.atleast_1d(v).astype(self.dtype)
                  for v in row]
        try:
            return np.concatenate(values)
        except ValueError as exc:
            shapes = {col: np.shape(v) for col, v in zip(self.columns, row)}
            raise ValueError(f"Concatenator: flatten=True joins scalars and 1-D arrays; a row "
                             f"holds values of shapes {shapes} ({exc})") from None

    def __repr__(self) -> str:
        args = [f"{name}={getattr(self, name)}" for name, default in _DEFAULTS.items()
                if getattr(self, name) != default]
        return f"Concatenator({', '.join(args)})"


__all__ = ['Concatenator']
