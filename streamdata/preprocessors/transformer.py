"""``PowerTransformer`` (Ray's ``ray.data.preprocessors.transformer``): a fixed power
transform (Yeo-Johnson or Box-Cox) that makes data more Gaussian-like. Needs no fitting:
the ``power`` is given, not estimated.

Example:
    >>> import streamdata as sd
    >>> ds = sd.from_items([{"x": 0}, {"x": 3}, {"x": -1}])
    >>> [r["x"] for r in PowerTransformer(["x"], power=0.5).transform(ds).take_all()]
    [0.0, 2.0, -1.2189514164974602]
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from streamdata.preprocessor import Preprocessor
from streamdata.preprocessors._util import (
    PreprocessorArgumentError, _check_present, _columns, _outputs,
)

_METHODS = ("yeo-johnson", "box-cox")


def _floats(s: pd.Series) -> np.ndarray:
    """The column as float64 (missing values NaN), so integer data takes negative powers."""
    return pd.to_numeric(s).to_numpy(dtype=np.float64, na_value=np.nan)


def _yeo_johnson(s: pd.Series, power: float) -> np.ndarray:
    """Yeo-Johnson: defined for every real; a missing value stays NaN."""
    x = _floats(s)
    out = np.full(len(x), np.nan)
    pos = x >= 0  # NaN compares False: it stays NaN below
    neg = x < 0
    if power != 0:
        out[pos] = (np.power(x[pos] + 1, power) - 1) / power
    else:
        out[pos] = np.log(x[pos] + 1)
    if power != 2:
        out[neg] = -(np.power(1 - x[neg], 2 - power) - 1) / (2 - power)
    else:
        out[neg] = -np.log(1 - x[neg])
    return out


def _box_cox(s: pd.Series, power: float) -> np.ndarray:
    """Box-Cox: for positive data (0 gives -inf or -1/power, negatives NaN, as Ray)."""
    x = _floats(s)
    with np.errstate(divide="ignore", invalid="ignore"):
        if power != 0:
            return (np.power(x, power) - 1) / power
        return np.log(x)


class PowerTransformer(Preprocessor):
    """Apply a power transform with a given ``power`` to each column.

    ``"yeo-johnson"`` works on any real values: ``((x + 1)**p - 1) / p`` for ``x >= 0``
    and ``-((1 - x)**(2 - p) - 1) / (2 - p)`` for ``x < 0`` (logs where ``p`` is 0 or
    2). ``"box-cox"`` needs positive values: ``(x**p - 1) / p`` (``log(x)`` for ``p = 0``).
    The output is float64; missing values stay missing.

    Args:
        columns: the columns to transform.
        power: the transform's parameter (commonly between -2.5 and 2.5).
        method: ``"yeo-johnson"`` (default) or ``"box-cox"``.
        output_columns: where to write the transformed values (default: in place).
    """

    _is_fittable = False

    def __init__(self, columns: list[str], power: float, method: str = "yeo-johnson", *,
                 output_columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = _columns("PowerTransformer", columns)
        if isinstance(power, bool) or not isinstance(power, Real) or not np.isfinite(power):
            raise PreprocessorArgumentError(
                f"PowerTransformer: power must be a finite number, got {power!r}")
        if method not in _METHODS:
            raise PreprocessorArgumentError(
                f"PowerTransformer: method {method!r} is not one of {list(_METHODS)!r}")
        self.power, self.method = power, method
        self.output_columns = _outputs("PowerTransformer", self.columns, output_columns)

    def _transform_pandas(self, df: Any) -> Any:
        _check_present("PowerTransformer", df, self.columns)
        fn = _yeo_johnson if self.method == "yeo-johnson" else _box_cox
        results = [fn(df[col], self.power) for col in self.columns]
        for out, values in zip(self.output_columns, results):
            df[out] = values
        return df

    def __repr__(self) -> str:
        return (f"PowerTransformer(columns={self.columns!r}, power={self.power!r}, "
                f"method={self.method!r}, output_columns={self.output_columns!r})")


__all__ = ["PowerTransformer"]
