"""``Normalizer`` (Ray's ``ray.data.preprocessors.normalizer``): scale each row of some
columns to unit norm. Needs no fitting.

Example:
    >>> import streamdata as sd
    >>> ds = sd.from_items([{"a": 3, "b": 4}, {"a": 1, "b": -1}])
    >>> rows = Normalizer(["a", "b"], norm="l1").transform(ds).take_all()
    >>> [(r["a"], r["b"]) for r in rows]
    [(0.42857142857142855, 0.5714285714285714), (0.5, -0.5)]
"""

from __future__ import annotations

from typing import Any

from streamdata.preprocessor import Preprocessor
from streamdata.preprocessors._util import (
    PreprocessorArgumentError, _check_present, _columns, _outputs,
)


def _l1(values: Any) -> Any:
    return values.abs().sum(axis=1)


def _l2(values: Any) -> Any:
    return (values * values).sum(axis=1) ** 0.5


def _max(values: Any) -> Any:
    return values.abs().max(axis=1)


#: the norm of each row of a DataFrame; missing values are left out of it (as Ray does)
_NORMS = {"l1": _l1, "l2": _l2, "max": _max}


class Normalizer(Preprocessor):
    """Divide the values of ``columns`` in each row by that row's norm.

    ``"l1"``: the sum of absolute values; ``"l2"``: the Euclidean length; ``"max"``: the
    largest absolute value. A missing value stays missing and does not count in the norm; a
    row whose norm is 0 becomes NaN (as Ray does).

    Args:
        columns: the columns that form each row's vector.
        norm: ``"l2"`` (default), ``"l1"`` or ``"max"``.
        output_columns: where to write the normalized values (default: in place).
    """

    _is_fittable = False

    def __init__(self, columns: list[str], norm: str = "l2", *,
                 output_columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = _columns("Normalizer", columns)
        if norm not in _NORMS:
            raise PreprocessorArgumentError(
                f"Normalizer: norm {norm!r} is not one of {list(_NORMS)!r}")
        self.norm = norm
        self.output_columns = _outputs("Normalizer", self.columns, output_columns)

    def _transform_pandas(self, df: Any) -> Any:
        _check_present("Normalizer", df, self.columns)
        values = df[self.columns]
        norms = _NORMS[self.norm](values)
        scaled = values.div(norms, axis=0)
        for col, out in zip(self.columns, self.output_columns):
            df[out] = scaled[col]
        return df

    def __repr__(self) -> str:
        return (f"Normalizer(columns={self.columns!r}, norm={self.norm!r}, "
                f"output_columns={self.output_columns!r})")


__all__ = ["Normalizer"]
