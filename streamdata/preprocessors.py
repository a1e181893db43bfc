"""Ray Data's built-in preprocessors (``ray.data.preprocessors``): scalers, an imputer,
a chain and a column concatenator, on :class:`~streamdata.preprocessor.Preprocessor`.

Fitting runs one aggregation pass over the dataset (``Dataset.aggregate``); the state is kept
in ``stats_`` under Ray's keys (``"min(x)"``, ``"mean(x)"``, ...), so code that reads it
works unchanged. A client of the facade (uses Dataset methods only).

Example:
    >>> import streamdata as sd
    >>> from streamdata.preprocessors import MinMaxScaler
    >>> scaler = MinMaxScaler(["id"])
    >>> [r["id"] for r in scaler.fit_transform(sd.range(5)).take_all()]
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> scaler.stats_
    {'min(id)': 0, 'max(id)': 4}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from streamdata.errors import StreamDataError
from streamdata.preprocessor import Preprocessor, PreprocessorNotFittedException

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.dataset import Dataset


class PreprocessorArgumentError(StreamDataError, ValueError):
    """A preprocessor built with arguments it cannot use."""


def _columns(owner: str, columns: Any, what: str = "columns") -> list[str]:
    if isinstance(columns, str) or not isinstance(columns, Sequence) or not columns \
            or not all(isinstance(c, str) for c in columns):
        raise PreprocessorArgumentError(
            f"{owner}: {what} must be a non-empty list of column names, got {columns!r}")
    return list(columns)


def _outputs(owner: str, columns: list[str], output_columns: Any) -> list[str]:
    if output_columns is None:
        return list(columns)
    out = _columns(owner, output_columns, "output_columns")
    if len(out) != len(columns):
        raise PreprocessorArgumentError(
            f"{owner}: output_columns has {len(out)} names for {len(columns)} columns "
            f"({out!r} for {columns!r}); give one output name per column")
    return out


def _check_present(owner: str, df: Any, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise StreamDataError(f"{owner}: column(s) {missing!r} not in the batch's columns "
                              f"{list(df.columns)!r}")


class MinMaxScaler(Preprocessor):
    """Scale each column to [0, 1] with the minimum and maximum seen by ``fit``.

    A column whose minimum equals its maximum maps to 0 (as Ray does).

    Args:
        columns: the columns to scale.
        output_columns: where to write the scaled values (default: in place).
    """

    def __init__(self, columns: list[str], output_columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = _columns("MinMaxScaler", columns)
        self.output_columns = _outputs("MinMaxScaler", self.columns, output_columns)

    def _fit(self, ds: "Dataset") -> Preprocessor:
        from streamdata.aggregate import Max, Min
        aggs = [agg(c) for c in self.columns for agg in (Min, Max)]
        self.stats_ = ds.aggregate(*aggs)
        return self

    def _transform_pandas(self, df: Any) -> Any:
        _check_present("MinMaxScaler", df, self.columns)
        for col, out in zip(self.columns, self.output_columns):
            lo, hi = self.stats_[f"min({col})"], self.stats_[f"max({col})"]
            span = (hi - lo) if hi is not None and lo is not None and hi != lo else 1
            df[out] = (df[col] - lo) / span
        return df

    def __repr__(self) -> str:
        return f"MinMaxScaler(columns={self.columns!r}, output_columns={self.output_columns!r})"


class StandardScaler(Preprocessor):
    """Center each column on its mean and divide by its (population) standard deviation.

    A column with zero deviation is only centered (as Ray does).

    Args:
        columns: the columns to scale.
        output_columns: where to write the scaled values (default: in place).
    """

    def __init__(self, columns: list[str], output_columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = _columns("StandardScaler", columns)
        self.output_columns = _outputs("StandardScaler", self.columns, output_columns)

    def _fit(self, ds: "Dataset") -> Preprocessor:
        from streamdata.aggregate import Mean, Std
        aggs = [a for c in self.columns for a in (Mean(c), Std(c, ddof=0))]
        self.stats_ = ds.aggregate(*aggs)
        return self

    def _transform_pandas(self, df: Any) -> Any:
        _check_present("StandardScaler", df, self.columns)
        for col, out in zip(self.columns, self.output_columns):
            mean, std = self.stats_[f"mean({col})"], self.stats_[f"std({col})"]
            df[out] = (df[col] - mean) / (std if std else 1)
        return df

    def __repr__(self) -> str:
        return f"StandardScaler(columns={self.columns!r}, output_columns={self.output_columns!r})"


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
                counts = [r for r in ds.groupby(col).count().take_all() if r[col] is not None]
                best = max(counts, key=lambda r: r["count()"], default=None)
                stats[f"most_frequent({col})"] = None if best is None else best[col]
            self.stats_ = stats
        return self

    def _transform_pandas(self, df: Any) -> Any:
        _check_present("SimpleImputer", df, self.columns)
        for col, out in zip(self.columns, self.output_columns):
            value = (self.fill_value if self.strategy == "constant"
                     else self.stats_[f"{self.strategy}({col})"])
            df[out] = df[col].fillna(value)
        return df

    def __repr__(self) -> str:
        return (f"SimpleImputer(columns={self.columns!r}, strategy={self.strategy!r}, "
                f"fill_value={self.fill_value!r}, output_columns={self.output_columns!r})")


class Chain(Preprocessor):
    """Apply preprocessors in order; ``fit`` fits each on the output of the ones before.

    Args:
        *preprocessors: the preprocessors, first applied first.
    """

    def __init__(self, *preprocessors: Preprocessor) -> None:
        super().__init__()
        bad = [p for p in preprocessors if not isinstance(p, Preprocessor)]
        if not preprocessors or bad:
            raise PreprocessorArgumentError(
                f"Chain takes one or more Preprocessors, got {list(preprocessors)!r}")
        self.preprocessors = tuple(preprocessors)
        self._is_fittable = any(p._is_fittable for p in self.preprocessors)

    def fit_status(self) -> Preprocessor.FitStatus:
        if not self._is_fittable:
            return Preprocessor.FitStatus.NOT_FITTABLE
        states = [p.fit_status() for p in self.preprocessors if p._is_fittable]
        if all(s is Preprocessor.FitStatus.FITTED for s in states):
            return Preprocessor.FitStatus.FITTED
        if any(s is Preprocessor.FitStatus.FITTED for s in states):
            return Preprocessor.FitStatus.PARTIALLY_FITTED
        return Preprocessor.FitStatus.NOT_FITTED

    def _fit(self, ds: "Dataset") -> Preprocessor:
        for prep in self.preprocessors[:-1]:
            ds = prep.fit_transform(ds)
        self.preprocessors[-1].fit(ds)
        return self

    def transform(self, ds: "Dataset", **kwargs: Any) -> "Dataset":
        self._require_fitted()
        for prep in self.preprocessors:
            ds = prep.transform(ds, **kwargs)
        return ds

    def transform_batch(self, data: Any) -> Any:
        self._require_fitted()
        for prep in self.preprocessors:
            data = prep.transform_batch(data)
        return data

    def _require_fitted(self) -> None:
        if self.fit_status() in (Preprocessor.FitStatus.NOT_FITTED,
                                 Preprocessor.FitStatus.PARTIALLY_FITTED):
            raise PreprocessorNotFittedException(
                "Chain: `fit` must be called before `transform` (or use fit_transform())")

    def __repr__(self) -> str:
        return f"Chain(preprocessors={list(self.preprocessors)!r})"


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
            missing = [c for c in self.columns if c not in df.columns]
            raise StreamDataError(f"Concatenator: column(s) {missing!r} not in the batch's "
                                  f"columns {list(df.columns)!r}")
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


__all__ = ["Chain", "Concatenator", "MinMaxScaler", "Preprocessor", "PreprocessorArgumentError",
           "PreprocessorNotFittedException", "SimpleImputer", "StandardScaler"]
