"""Discretizers (Ray's ``ray.data.preprocessors.discretizer``): put numeric values into bins.

:class:`CustomKBinsDiscretizer` takes the bin edges; :class:`UniformKBinsDiscretizer`
fits ``k`` equal-width bins between each column's minimum and maximum (one
``Dataset.aggregate`` pass; the edges are kept in ``stats_[column]``). Both bin with
``pandas.cut``: each value becomes the index of its bin (NaN outside every bin), or a
category of a ``pandas.CategoricalDtype`` given in ``dtypes``.

Example:
    >>> import streamdata as sd
    >>> ds = sd.from_items([{"x": 0.5}, {"x": 2.0}, {"x": 7.0}])
    >>> custom = CustomKBinsDiscretizer(["x"], bins=[0, 1, 5, 10])
    >>> [r["x"] for r in custom.transform(ds).take_all()]
    [0, 1, 2]
    >>> uniform = UniformKBinsDiscretizer(["x"], bins=2, output_columns=["x_bin"])
    >>> [(r["x"], r["x_bin"]) for r in uniform.fit_transform(ds).take_all()]
    [(0.5, 0), (2.0, 0), (7.0, 1)]
    >>> uniform.stats_["x"].tolist()
    [0.4935, 3.75, 7.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import pandas as pd

from streamdata.preprocessor import Preprocessor
from streamdata.preprocessors._util import (
    PreprocessorArgumentError, _check_present, _columns, _outputs,
)

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.dataset import Dataset

#: the edges of one column: numbers, or non-overlapping intervals
Edges = Union[Iterable[float], pd.IntervalIndex]
_DUPLICATES = ("raise", "drop")


class _KBinsDiscretizer(Preprocessor):
    """What both discretizers share: argument checks and the ``pandas.cut`` transform."""

    def _check_common(self, columns: Any, right: Any, include_lowest: Any, duplicates: Any,
                      dtypes: Any, output_columns: Any) -> None:
        owner = type(self).__name__
        self.columns = _columns(owner, columns)
        for name, flag in (("right", right), ("include_lowest", include_lowest)):
            if not isinstance(flag, (bool, np.bool_)):
                raise PreprocessorArgumentError(f"{owner}: {name} must be True or False, "
                                                f"got {flag!r}")
        if duplicates not in _DUPLICATES:
            raise PreprocessorArgumentError(
                f"{owner}: duplicates {duplicates!r} is not one of {list(_DUPLICATES)!r}")
        if dtypes is not None:
            if not isinstance(dtypes, Mapping):
                raise PreprocessorArgumentError(
                    f"{owner}: dtypes must be a dict of column -> pandas.CategoricalDtype or "
                    f"numpy integer type, got {dtypes!r}")
            for col, dtype in dtypes.items():
                if not (isinstance(dtype, pd.CategoricalDtype) or _is_integer_type(dtype)):
                    raise PreprocessorArgumentError(
                        f"{owner}: dtypes[{col!r}] must be a pandas.CategoricalDtype or a numpy "
                        f"integer type, got {dtype!r}")
        self.right, self.include_lowest = bool(right), bool(include_lowest)
        self.duplicates, self.dtypes = duplicates, dtypes
        self.output_columns = _outputs(owner, self.columns, output_columns)

    def _check_dict_covers_columns(self, bins: Any) -> None:
        if isinstance(bins, Mapping):
            missing = [c for c in self.columns if c not in bins]
            if missing:
                raise PreprocessorArgumentError(
                    f"{type(self).__name__}: bins is a dict without the column(s) {missing!r}; "
                    f"give bins for every column of {self.columns!r}")

    def _edges(self, column: str) -> Any:
        """The bins ``pandas.cut`` gets for ``column``."""
        raise NotImplementedError  # pragma: no cover

    def _transform_pandas(self, df: Any) -> Any:
        owner = type(self).__name__
        _check_present(owner, df, self.columns)
        binned = []
        for col in self.columns:
            labels: Any = False  # False: the bin's index
            ordered = True
            dtype = (self.dtypes or {}).get(col)
            if isinstance(dtype, pd.CategoricalDtype):
                labels, ordered = list(dtype.categories), bool(dtype.ordered)
            edges = self._edges(col)
            try:
                if isinstance(edges, pd.IntervalIndex):
                    binned.append(_interval_bins(df[col], edges, dtype))
                else:
                    binned.append(pd.cut(df[col], edges, right=self.right, labels=labels,
                                         ordered=ordered, include_lowest=self.include_lowest,
                                         duplicates=self.duplicates))
            except (ValueError, TypeError) as e:
                raise PreprocessorArgumentError(f"{owner}: cannot bin column {col!r}: {e}") from e
        for out, values in zip(self.output_columns, binned):
            df[out] = values
        return df

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(columns={self.columns!r}, bins={self.bins!r}, "
                f"right={self.right!r}, include_lowest={self.include_lowest!r}, "
                f"duplicates={self.duplicates!r}, dtypes={self.dtypes!r}, "
                f"output_columns={self.output_columns!r})")


def _interval_bins(s: pd.Series, intervals: pd.IntervalIndex, dtype: Any) -> pd.Series:
    """``s`` binned by ``intervals``: the interval's index (as for edges), or the matching
    category of ``dtype``. (``pandas.cut`` alone gives Interval categories, which Arrow cannot
    hold; Ray's Dataset transform fails on them.)"""
    codes = pd.cut(s, intervals).cat.codes.to_numpy()
    if isinstance(dtype, pd.CategoricalDtype):
        if len(dtype.categories) != len(intervals):
            raise ValueError(f"the dtype has {len(dtype.categories)} categories for "
                             f"{len(intervals)} intervals")
        return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), index=s.index)
    values = codes.astype(np.int64)
    if (codes < 0).any():  # -1: in no interval
        values = np.where(codes < 0, np.nan, values)
    return pd.Series(values, index=s.index)


def _is_integer_type(dtype: Any) -> bool:
    try:
        return np.issubdtype(np.dtype(dtype), np.integer)
    except TypeError:
        return False


def _check_edges(owner: str, where: str, edges: Any, duplicates: str) -> Any:
    """One column's custom edges, checked: increasing numbers or non-overlapping intervals."""
    if isinstance(edges, pd.IntervalIndex):
        if edges.is_overlapping:
            raise PreprocessorArgumentError(f"{owner}: {where} is an overlapping IntervalIndex; "
                                            f"the intervals must not overlap")
        return edges
    if isinstance(edges, (str, bytes, Real)) or not isinstance(edges, Iterable):
        raise PreprocessorArgumentError(
            f"{owner}: {where} must be a list of bin edges or a pandas.IntervalIndex, got "
            f"{edges!r} (UniformKBinsDiscretizer takes a number of bins)")
    edges = list(edges)
    if len(edges) < 2 or not all(isinstance(e, Real) and not isinstance(e, bool) for e in edges):
        raise PreprocessorArgumentError(
            f"{owner}: {where} must hold at least two numeric bin edges, got {edges!r}")
    arr = np.asarray(edges, dtype=np.float64)
    if np.isnan(arr).any():
        raise PreprocessorArgumentError(f"{owner}: {where} holds NaN: {edges!r}")
    steps = np.diff(arr)
    if (steps < 0).any() or (duplicates == "raise" and (steps == 0).any()):
        how = "strictly increasing" if duplicates == "raise" else "non-decreasing"
        extra = " (or pass duplicates='drop')" if duplicates == "raise" and (steps >= 0).all() else ""
        raise PreprocessorArgumentError(f"{owner}: {where} must be {how}{extra}, got {edges!r}")
    return edges


class CustomKBinsDiscretizer(_KBinsDiscretizer):
    """Bin numeric columns with the bin edges given. Needs no fitting.

    Args:
        columns: the numeric columns to bin.
        bins: the edges (an increasing list of numbers), a non-overlapping
            ``pandas.IntervalIndex`` (``right`` and ``include_lowest`` do not apply to it), or
            a dict with either for each column.
        right: whether a bin includes its right edge (default True).
        include_lowest: whether the first bin includes its left edge.
        duplicates: ``"raise"`` (default) on repeated edges, or ``"drop"`` them.
        dtypes: per column, a ``pandas.CategoricalDtype`` whose categories name the bins
            (its ``ordered`` is kept); a column not there (or given an integer type) gets
            the bin's index (int64; float64 with NaN when some value falls in no bin).
        output_columns: where to write the bins (default: in place).
    """

    _is_fittable = False

    def __init__(self, columns: list[str], bins: Edges | dict[str, Edges], *,
                 right: bool = True, include_lowest: bool = False, duplicates: str = "raise",
                 dtypes: dict[str, Any] | None = None,
                 output_columns: list[str] | None = None) -> None:
        super().__init__()
        owner = "CustomKBinsDiscretizer"
        self._check_common(columns, right, include_lowest, duplicates, dtypes, output_columns)
        if isinstance(bins, Mapping):
            self._check_dict_covers_columns(bins)
            self.bins: Any = {col: _check_edges(owner, f"bins[{col!r}]", b, duplicates)
                              for col, b in bins.items()}
        else:
            self.bins = _check_edges(owner, "bins", bins, duplicates)

    def _edges(self, column: str) -> Any:
        return self.bins[column] if isinstance(self.bins, dict) else self.bins


def _uniform_edges(lo: float, hi: float, k: int, right: bool) -> np.ndarray:
    """``k + 1`` equal-width edges over [lo, hi], widened by 0.1% so both ends fall inside
    (on the open side; both sides around a single value), as ``pandas.cut`` does for ``k``."""
    lo, hi = float(lo), float(hi)
    if lo == hi:
        pad_lo = 0.001 * abs(lo) if lo != 0 else 0.001
        pad_hi = 0.001 * abs(hi) if hi != 0 else 0.001
        return np.linspace(lo - pad_lo, hi + pad_hi, k + 1, endpoint=True)
    edges = np.linspace(lo, hi, k + 1, endpoint=True)
    if right:
        edges[0] -= (hi - lo) * 0.001
    else:
        edges[-1] += (hi - lo) * 0.001
    return edges


def _check_count(owner: str, where: str, k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise PreprocessorArgumentError(
            f"{owner}: {where} must be a number of bins (an int >= 1), got {k!r} "
            f"(CustomKBinsDiscretizer takes bin edges)")
    return int(k)


class UniformKBinsDiscretizer(_KBinsDiscretizer):
    """Bin numeric columns into ``bins`` equal-width bins between the minimum and maximum
    ``fit`` saw (widened by 0.1% so both fall inside, as ``pandas.cut`` does).

    ``stats_[column]`` holds the fitted edges (``bins + 1`` floats).

    Args:
        columns: the numeric columns to bin.
        bins: the number of bins, or a dict with one for each column.
        right: whether a bin includes its right edge (default True).
        include_lowest: whether the first bin includes its left edge.
        duplicates: ``"raise"`` (default) on repeated edges, or ``"drop"`` them.
        dtypes: per column, a ``pandas.CategoricalDtype`` whose categories name the bins;
            others get the bin's index (as :class:`CustomKBinsDiscretizer`).
        output_columns: where to write the bins (default: in place).
    """

    def __init__(self, columns: list[str], bins: int | dict[str, int], *, right: bool = True,
                 include_lowest: bool = False, duplicates: str = "raise",
                 dtypes: dict[str, Any] | None = None,
                 output_columns: list[str] | None = None) -> None:
        super().__init__()
        owner = "UniformKBinsDiscretizer"
        self._check_common(columns, right, include_lowest, duplicates, dtypes, output_columns)
        if isinstance(bins, Mapping):
            self._check_dict_covers_columns(bins)
            self.bins: Any = {col: _check_count(owner, f"bins[{col!r}]", k)
                              for col, k in bins.items()}
        else:
            self.bins = _check_count(owner, "bins", bins)

    def _fit(self, ds: "Dataset") -> Preprocessor:
        from streamdata.aggregate import Max, Min
        found = ds.aggregate(*[agg(c) for c in self.columns for agg in (Min, Max)])
        stats: dict[str, np.ndarray] = {}
        for col in self.columns:
            lo, hi = found[f"min({col})"], found[f"max({col})"]
            if lo is None or hi is None:
                raise PreprocessorArgumentError(
                    f"UniformKBinsDiscretizer: column {col!r} has no values to bin "
                    f"(all missing, or an empty dataset)")
            if np.isinf(lo) or np.isinf(hi):
                raise PreprocessorArgumentError(
                    f"UniformKBinsDiscretizer: column {col!r} holds infinity, so it has no "
                    f"finite range to split into bins")
            k = self.bins[col] if isinstance(self.bins, dict) else self.bins
            stats[col] = _uniform_edges(lo, hi, k, self.right)
        self.stats_ = stats
        return self

    def _edges(self, column: str) -> Any:
        return self.stats_[column]


__all__ = ["CustomKBinsDiscretizer", "UniformKBinsDiscretizer"]
