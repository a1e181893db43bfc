"""Argument checks shared by the built-in preprocessors (errors name the preprocessor)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamdata.errors import ColumnNotFoundError, StreamDataError


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
    if missing:  # a KeyError (as pandas raises in Ray's preprocessors) and a ValueError
        raise ColumnNotFoundError(missing[0], list(df.columns), where=owner)
