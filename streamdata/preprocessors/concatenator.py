"""``Concatenator`` (Ray's ``ray.data.preprocessors.concatenator``)."""

from __future__ import annotations

from typing import Any

from streamdata.preprocessor import Preprocessor
from streamdata.preprocessors._util import _check_present, _columns


class Concatenator(Preprocessor):
    """Join columns into one ndarray column per row (the inputs are dropped).

    Args:
        columns: the columns to join, in order.
        output_column_name: the new column (default ``"concat_out"``).
        dtype: the dtype of the joined arrays (default: numpy's common type).
        raise_if_missing: raise if a column is absent (default: skip absent columns).
        flatten: flatten array-valued columns before joining.
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

    def _transform_pandas(self, df: Any) -> Any:
        import numpy as np
        present = [c for c in self.columns if c in df.columns]
        if self.raise_if_missing and len(present) != len(self.columns):
            _check_present("Concatenator", df, self.columns)  # a ValueError, as Ray's
        parts = []
        for col in present:
            values = df[col].to_numpy()
            if values.dtype == object:  # array-valued cells: one 2-D block per column
                values = np.stack([np.asarray(v).reshape(-1) if self.flatten else np.asarray(v)
                                   for v in values])
            parts.append(values.reshape(len(df), -1))
        joined = np.concatenate(parts, axis=1) if parts else np.empty((len(df), 0))
        if self.dtype is not None:
            joined = joined.astype(self.dtype)
        out = df.drop(columns=present)
        out[self.output_column_name] = list(joined)
        return out

    def __repr__(self) -> str:
        return (f"Concatenator(columns={self.columns!r}, "
                f"output_column_name={self.output_column_name!r})")


__all__ = ['Concatenator']
