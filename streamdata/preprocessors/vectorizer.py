"""Token-count vectorizers (Ray's ``ray.data.preprocessors.vectorizer``): ``CountVectorizer``
(one slot per token of a fitted vocabulary) and ``HashingVectorizer`` (``num_features``
hashed slots, stateless).

Both tokenize each string (default: split on ``" "``) and write one list of counts per row
(``list<int64>`` in a dataset); a null string gives a null row. ``transform_batch`` follows
Ray's pandas arithmetic: in a batch holding a null string (of a column whose missing value is
``NaN``, as in a NumPy-backed frame, a dict or a Table), the counts are floats. Hashing is SHA-256 based
(:func:`~streamdata.preprocessors.hasher.stable_hash`), so the slots are the same in every
process and match Ray's.

Example:
    >>> import streamdata as sd
    >>> ds = sd.from_items([{"t": "a b a"}, {"t": "b c"}])
    >>> cv = CountVectorizer(["t"])
    >>> [r["t"] for r in cv.fit_transform(ds).take_all()]
    [[2, 1, 0], [0, 1, 1]]
    >>> cv.stats_
    {'token_counts(t)': Counter({'a': 2, 'b': 2, 'c': 1})}
    >>> [r["t"] for r in HashingVectorizer(["t"], num_features=3).transform(ds).take_all()]
    [[0, 2, 1], [0, 1, 1]]
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from streamdata.preprocessor import Preprocessor
from streamdata.preprocessors._util import (
    PreprocessorArgumentError, _check_present, _columns, _outputs,
)
from streamdata.preprocessors.hasher import _num_features, stable_hash
from streamdata.preprocessors.tokenizer import _tokenization_fn, _tokenize

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.dataset import Dataset


class _CountsAsRays:
    """``transform_batch`` with Ray's count types (see the module's docstring)."""

    columns: list[str]
    output_columns: list[str]

    def transform_batch(self, data: Any) -> Any:
        out = super().transform_batch(data)  # type: ignore[misc]
        if not len(out):  # Ray assigns an empty list: a float64 column
            for name in self.output_columns:
                out[name] = pd.Series([], index=out.index, dtype="float64")
            return out
        for col, name in zip(self.columns, self.output_columns):
            source = data[col].dtype if isinstance(data, pd.DataFrame) else None
            if getattr(source, "na_value", np.nan) is pd.NA:  # Arrow-backed: counts stay ints
                continue
            cells = out[name]
            if any(cell is None for cell in cells):
                out[name] = pd.Series([None if cell is None else [float(x) for x in cell]
                                       for cell in cells], index=out.index, dtype=object)
        return out


def _rows(token_lists: pd.Series, row_of: Callable[[Any], list[int]]) -> pd.Series:
    """One list of counts per row (None where the string was null)."""
    return pd.Series([None if not isinstance(tokens, list) else row_of(tokens)
                      for tokens in token_lists], index=token_lists.index, dtype=object)


class HashingVectorizer(_CountsAsRays, Preprocessor):
    """Count each string's tokens in ``num_features`` hashed slots (the hashing trick).

    Stateless and small to pickle; distinct tokens may share a slot (a collision) and the
    tokens of a slot cannot be recovered (use :class:`CountVectorizer` for that).

    Args:
        columns: the string columns, each vectorized separately.
        num_features: the length of each row's list of counts.
        tokenization_fn: a function of a string to its tokens (default: split on ``" "``).
        output_columns: where to write the counts (default: in place).
    """

    _is_fittable = False

    def __init__(self, columns: list[str], num_features: int,
                 tokenization_fn: Callable[[str], list[str]] | None = None, *,
                 output_columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = _columns("HashingVectorizer", columns)
        self.num_features = _num_features("HashingVectorizer", num_features)
        self.tokenization_fn = _tokenization_fn("HashingVectorizer", tokenization_fn)
        self.output_columns = _outputs("HashingVectorizer", self.columns, output_columns)

    def _transform_pandas(self, df: pd.DataFrame) -> pd.DataFrame:
        _check_present("HashingVectorizer", df, self.columns)
        slots: dict[str, int] = {}

        def row_of(tokens: list[str]) -> list[int]:
            row = [0] * self.num_features
            for token in tokens:
                slot = slots.get(token)
                if slot is None:
                    slot = slots[token] = stable_hash(token, self.num_features)
                row[slot] += 1
            return row

        counted = {out: _rows(_tokenize("HashingVectorizer", df[col], self.tokenization_fn),
                              row_of)
                   for col, out in zip(self.columns, self.output_columns)}
        for out, values in counted.items():
            df[out] = values
        return df

    def __repr__(self) -> str:
        name = getattr(self.tokenization_fn, "__name__", self.tokenization_fn)
        return (f"HashingVectorizer(columns={self.columns!r}, num_features={self.num_features!r}, "
                f"tokenization_fn={name}, output_columns={self.output_columns!r})")


class _CountTokens:
    """``map_batches`` function of :meth:`CountVectorizer.fit`: one pickled Counter per
    column and batch (tokens in order of first appearance)."""

    def __init__(self, columns: list[str], fn: Callable[[str], list[str]]) -> None:
        self.columns, self.fn = columns, fn
        self.__name__ = "CountVectorizer.fit"

    def __call__(self, df: pd.DataFrame) -> dict[str, np.ndarray]:
        _check_present("CountVectorizer", df, self.columns)
        out = {}
        for col in self.columns:
            counts: Counter = Counter()
            for tokens in _tokenize("CountVectorizer", df[col], self.fn):
                if isinstance(tokens, list):
                    counts.update(tokens)
            out[col] = np.array([pickle.dumps(counts)], dtype=object)
        return out


class CountVectorizer(_CountsAsRays, Preprocessor):
    """Count each string's tokens, one slot per token of the vocabulary seen by ``fit``.

    The vocabulary is ordered by count (most frequent first; ties in order of first
    appearance) and holds the ``max_features`` most frequent tokens if given. Tokens outside
    it are not counted. ``stats_["token_counts(col)"]`` is the vocabulary's ``Counter``.

    Args:
        columns: the string columns, each vectorized separately.
        tokenization_fn: a function of a string to its tokens (default: split on ``" "``).
        max_features: how many of the most frequent tokens to keep (default: all).
        output_columns: where to write the counts (default: in place).
    """

    def __init__(self, columns: list[str],
                 tokenization_fn: Callable[[str], list[str]] | None = None,
                 max_features: int | None = None, *,
                 output_columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = _columns("CountVectorizer", columns)
        self.tokenization_fn = _tokenization_fn("CountVectorizer", tokenization_fn)
        if max_features is not None and (isinstance(max_features, bool) or not isinstance(
                max_features, (int, np.integer)) or max_features < 1):
            raise PreprocessorArgumentError(f"CountVectorizer: max_features must be None or an "
                                            f"int >= 1, got {max_features!r}")
        self.max_features = max_features
        self.output_columns = _outputs("CountVectorizer", self.columns, output_columns)

    def _fit(self, ds: "Dataset") -> Preprocessor:
        parts = ds.map_batches(_CountTokens(self.columns, self.tokenization_fn),
                               batch_format="pandas", batch_size=None).take_all()
        totals: dict[str, Counter] = {c: Counter() for c in self.columns}
        for row in parts:
            for col in self.columns:
                totals[col].update(pickle.loads(row[col]))
        self.stats_ = {f"token_counts({c})": Counter(dict(totals[c].most_common(self.max_features)))
                       for c in self.columns}
        return self

    def _transform_pandas(self, df: pd.DataFrame) -> pd.DataFrame:
        _check_present("CountVectorizer", df, self.columns)
        counted = {}
        for col, out in zip(self.columns, self.output_columns):
            vocabulary = [t for t, _ in self.stats_[f"token_counts({col})"].most_common()]

            def row_of(tokens: list[str], vocabulary: list[str] = vocabulary) -> list[int]:
                counts = Counter(tokens)
                return [counts.get(t, 0) for t in vocabulary]

            counted[out] = _rows(_tokenize("CountVectorizer", df[col], self.tokenization_fn),
                                 row_of)
        for out, values in counted.items():
            df[out] = values
        return df

    def __repr__(self) -> str:
        name = getattr(self.tokenization_fn, "__name__", self.tokenization_fn)
        return (f"CountVectorizer(columns={self.columns!r}, tokenization_fn={name}, "
                f"max_features={self.max_features!r}, output_columns={self.output_columns!r})")


__all__ = ["CountVectorizer", "HashingVectorizer"]
