"""Argument checks shared by the built-in preprocessors (errors name the preprocessor)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from streamdata.errors import ColumnNotFoundError, StreamDataError


def _is_missing(value: Any) -> bool:
    """Whether a cell is a null (None, ``pd.NA``, ``pd.NaT`` or a float NaN)."""
    import pandas as pd
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, (float, np.floating)) and value != value)


def _plain(value: Any) -> Any:
    """A cell as a plain, hashable Python value (lists and arrays as tuples, nulls as None)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_plain(v) for v in value)
    if _is_missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


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
    """Raise ``ColumnNotFoundError`` naming ``owner`` if a column is not in the DataFrame or
    ``pyarrow.Table`` ``df``."""
    names = list(df.column_names) if hasattr(df, "column_names") else list(df.columns)
    missing = [c for c in columns if c not in names]
    if missing:  # a KeyError (as pandas raises in Ray's preprocessors) and a ValueError
        raise ColumnNotFoundError(missing[0], names, where=owner)
