"""``SimpleImputer`` (Ray's ``ray.data.preprocessors.imputer``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamdata.preprocessor import Preprocessor
from streamdata.preprocessors._util import (
    PreprocessorArgumentError, _check_present, _columns, _outputs,
)

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.dataset import Dataset


_STRATEGIES = ("mean", "most_frequent", "constant")


class SimpleImputer(Preprocessor):
    """Fill missing values with the column's mean, its most frequent value or a constant.

    Args:
        columns: the columns to fill.
        strategy: ``"mean"`` (default), ``"most_frequent"`` or ``"constant"``.
        fill_value: the value for ``strategy="constant"`` (required there).
        output_columns: where to write the filled values (default: in place).
    """

    def __init__(self, columns: list[str], strategy: str = "mean", fill_value: Any = None, *,
                 output_columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = _columns("SimpleImputer", columns)
        if strategy not in _STRATEGIES:
            raise PreprocessorArgumentError(
                f"SimpleImputer: strategy {strategy!r} is not one of {list(_STRATEGIES)!r}")
        if strategy == "constant" and fill_value is None:
            raise PreprocessorArgumentError(
                "SimpleImputer: strategy='constant' needs a fill_value")
        self.strategy, self.fill_value = strategy, fill_value
        self.output_columns = _outputs("SimpleImputer", self.columns, output_columns)
        # a constant fill needs no fitting (as Ray: it is ready to transform)
        self._is_fittable = strategy != "constant"

    def _fit(self, ds: "Dataset") -> Preprocessor:
        if self.strategy == "mean":
            from streamdata.aggregate import Mean
            self.stats_ = ds.aggregate(*[Mean(c) for c in self.columns])
        else:
            stats: dict[str, Any] = {}
            for col in self.columns:
                stats[f"most_frequent({col})"] = _most_frequent(ds, col)
            self.stats_ = stats
        return self

    def _transform_pandas(self, df: Any) -> Any:
        _check_present("SimpleImputer", df, self.columns)
        for col, out in zip(self.columns, self.output_columns):
            value = (self.fill_value if self.strategy == "constant"
                     else self.stats_[f"{self.strategy}({col})"])
            if value is None:  # as Ray: a column that had no values when fitted has nothing to fill with
                raise ValueError(f"SimpleImputer: column {col!r} has no fill value (it had no non-null "
                                 f"values when fitted with strategy={self.strategy!r})")
            df[out] = df[col].fillna(value)
        return df

    def __repr__(self) -> str:
        return (f"SimpleImputer(columns={self.columns!r}, strategy={self.strategy!r}, "
                f"fill_value={self.fill_value!r}, output_columns={self.output_columns!r})")


def _most_frequent(ds: "Dataset", col: str) -> Any:
    """The most frequent non-null value of ``col``; of several as frequent, the one the
    data holds first (as Ray's, whose counts keep first-seen order)."""
    counts = [r for r in ds.groupby(col).count().take_all() if r[col] is not None]
    if not counts:
        return None
    top = max(r["count()"] for r in counts)
    tied = [r[col] for r in counts if r["count()"] == top]
    if len(tied) == 1:
        return tied[0]
    first = ds.select_columns([col]).filter(lambda row: row[col] in tied).take(1)
    return first[0][col] if first else tied[0]


__all__ = ['SimpleImputer']
