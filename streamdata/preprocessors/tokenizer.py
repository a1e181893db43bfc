"""``Tokenizer`` (Ray's ``ray.data.preprocessors.tokenizer``): split strings into token lists.

Stateless (no ``fit``). The default ``tokenization_fn`` splits on single spaces, like Ray's;
a null string stays null. The vectorizers (:mod:`streamdata.preprocessors.vectorizer`) use the
same tokenization.

Example:
    >>> import streamdata as sd
    >>> ds = sd.from_items([{"text": "Hello, world!"}, {"text": "foo bar"}])
    >>> [r["text"] for r in Tokenizer(["text"]).transform(ds).take_all()]
    [['Hello,', 'world!'], ['foo', 'bar']]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from streamdata.preprocessor import Preprocessor
from streamdata.preprocessors._util import (
    PreprocessorArgumentError, _check_present, _columns, _outputs,
)


def simple_split_tokenizer(value: str) -> list[str]:
    """The default tokenization: ``value.split(" ")``.

    Example:
        >>> simple_split_tokenizer("a b  c")
        ['a', 'b', '', 'c']
    """
    if not isinstance(value, str):
        raise TypeError(f"the default tokenization_fn splits strings, got {value!r} "
                        f"({type(value).__name__})")
    return value.split(" ")


def _tokenization_fn(owner: str, fn: Any) -> Callable[[str], list[str]]:
    if fn is None:
        return simple_split_tokenizer
    if not callable(fn):
        raise PreprocessorArgumentError(f"{owner}: tokenization_fn must be a function of a string "
                                        f"to a list of tokens, got {fn!r}")
    return fn


def _tokenize(owner: str, series: pd.Series, fn: Callable[[str], list[str]]) -> pd.Series:
    """Each non-null cell's tokens (a null cell stays null)."""
    try:
        return series.map(fn, na_action="ignore")
    except (TypeError, AttributeError) as exc:
        raise type(exc)(f"{owner}: cannot tokenize column {series.name!r}: {exc}") from exc


class Tokenizer(Preprocessor):
    """Replace each string with the list of its tokens.

    Args:
        columns: the string columns to tokenize.
        tokenization_fn: a function of a string to its list of tokens (default: split on
            ``" "``).
        output_columns: where to write the token lists (default: in place).
    """

    _is_fittable = False

    def __init__(self, columns: list[str],
                 tokenization_fn: Callable[[str], list[str]] | None = None,
                 output_columns: list[str] | None = None) -> None:
        super().__init__()
        self.columns = _columns("Tokenizer", columns)
        self.tokenization_fn = _tokenization_fn("Tokenizer", tokenization_fn)
        self.output_columns = _outputs("Tokenizer", self.columns, output_columns)

    def _transform_pandas(self, df: pd.DataFrame) -> pd.DataFrame:
        _check_present("Tokenizer", df, self.columns)
        tokens = {out: _tokenize("Tokenizer", df[col], self.tokenization_fn)
                  for col, out in zip(self.columns, self.output_columns)}
        for out, values in tokens.items():
            df[out] = values
        return df

    def __repr__(self) -> str:
        name = getattr(self.tokenization_fn, "__name__", self.tokenization_fn)
        return (f"Tokenizer(columns={self.columns!r}, tokenization_fn={name}, "
                f"output_columns={self.output_columns!r})")


__all__ = ["Tokenizer", "simple_split_tokenizer"]
