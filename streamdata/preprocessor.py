"""``Preprocessor``: the base of fit/transform feature preprocessing (Ray Data's
``ray.data.Preprocessor``).

A subclass computes state from a dataset in ``_fit(ds)`` (attributes named with a
trailing underscore, e.g. ``self.stats_``, mark it fitted) and transforms batches in
``_transform_pandas(df)`` and/or ``_transform_numpy(batch)``. ``transform(ds)`` runs that as
``map_batches``; ``transform_batch(batch)`` applies it to one batch in the caller.

A client of the facade (uses Dataset methods only).

Example:
    >>> import streamdata as sd
    >>> class Center(Preprocessor):
    ...     def __init__(self, column):
    ...         super().__init__()
    ...         self.column = column
    ...     def _fit(self, ds):
    ...         self.stats_ = {"mean": ds.mean(self.column)}
    ...         return self
    ...     def _transform_pandas(self, df):
    ...         df[self.column] = df[self.column] - self.stats_["mean"]
    ...         return df
    >>> prep = Center("id").fit(sd.range(5))
    >>> [r["id"] for r in prep.transform(sd.range(5)).take_all()]
    [-2.0, -1.0, 0.0, 1.0, 2.0]
"""

from __future__ import annotations

import abc
import base64
import enum
import pickle
from typing import TYPE_CHECKING, Any

from streamdata.errors import StreamDataError

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.dataset import Dataset


class PreprocessorNotFittedException(StreamDataError, RuntimeError):
    """``transform`` of a fittable preprocessor before ``fit``."""


class Preprocessor(abc.ABC):
    """Fit state on a dataset, then transform datasets or batches with it."""

    class FitStatus(str, enum.Enum):
        """Whether a preprocessor needs, and has, fitted state."""

        NOT_FITTABLE = "NOT_FITTABLE"
        NOT_FITTED = "NOT_FITTED"
        PARTIALLY_FITTED = "PARTIALLY_FITTED"
        FITTED = "FITTED"

    #: whether :meth:`fit` computes state (False: transform right away)
    _is_fittable: bool = True

    def __init__(self) -> None:
        self._fitted = False
        self.stats_: dict[str, Any] = {}  # the fitted state (empty until fit), as Ray's

    # ------------------------------------------------------------------ status
    def _check_has_fitted_state(self) -> bool:
        return self._fitted or any(k.endswith("_") and not k.startswith("_") and getattr(self, k)
                                   for k in vars(self))

    def fit_status(self) -> "Preprocessor.FitStatus":
        """NOT_FITTABLE, NOT_FITTED or FITTED."""
        if not self._is_fittable:
            return Preprocessor.FitStatus.NOT_FITTABLE
        if self._check_has_fitted_state():
            return Preprocessor.FitStatus.FITTED
        return Preprocessor.FitStatus.NOT_FITTED

    def has_stats(self) -> bool:
        """Whether fitted state (``stats_``) is there."""
        return bool(getattr(self, "stats_", None))

    def get_input_columns(self) -> list[str]:
        """The columns it reads (its ``columns`` attribute, if any)."""
        return list(getattr(self, "columns", None) or [])

    def get_output_columns(self) -> list[str]:
        """The columns it writes (``output_columns``, else the input columns)."""
        return list(getattr(self, "output_columns", None) or self.get_input_columns())

    @classmethod
    def preferred_batch_format(cls) -> str:
        """The batch format used when both transforms are implemented."""
        return "pandas"

    # ------------------------------------------------------------------ fit / transform
    def fit(self, ds: "Dataset") -> "Preprocessor":
        """Compute the state from ``ds`` (again, if it was fitted before)."""
        if not self._is_fittable:
            return self
        out = self._fit(ds)
        self._fitted = True
        return out if out is not None else self

    def fit_transform(self, ds: "Dataset", *, transform_num_cpus: float | None = None,
                      transform_memory: float | None = None,
                      transform_batch_size: int | None = None,
                      transform_concurrency: int | None = None) -> "Dataset":
        """:meth:`fit` then :meth:`transform` of ``ds``."""
        self.fit(ds)
        return self.transform(ds, batch_size=transform_batch_size, num_cpus=transform_num_cpus,
                              memory=transform_memory, concurrency=transform_concurrency)

    def transform(self, ds: "Dataset", *, batch_size: int | None = None,
                  num_cpus: float | None = None, memory: float | None = None,
                  concurrency: int | None = None) -> "Dataset":
        """``ds`` transformed batch by batch (lazy, like any ``map_batches``).

        Raises:
            PreprocessorNotFittedException: a fittable preprocessor that was not fitted.
        """
        self._require_fitted()
        fmt = self._determine_transform_to_use()
        return ds.map_batches(_Apply(self, fmt), batch_format=fmt, batch_size=batch_size,
                              num_cpus=num_cpus, memory=memory, concurrency=concurrency,
                              zero_copy_batch=False)

    def transform_batch(self, data: Any) -> Any:
        """One batch (a pandas DataFrame, a dict of ndarrays or an Arrow table) transformed.

        A DataFrame given to a preprocessor that transforms pandas keeps its index and its
        cells as they are (as Ray's); the caller's frame is left unchanged (Ray changes it in
        place)."""
        self._require_fitted()
        import pandas as pd
        import pyarrow as pa

        from streamdata import block as B
        fmt = self._determine_transform_to_use()
        if isinstance(data, pd.DataFrame) and fmt == "pandas":
            return _Apply(self, fmt)(data.copy(deep=False))
        if isinstance(data, pd.DataFrame):
            table = B.pandas_to_table(data)
        elif isinstance(data, pa.Table):
            table = data
        elif isinstance(data, dict):
            table = B.numpy_to_table(data, what="transform_batch")
        else:
            raise TypeError(f"transform_batch takes a pandas.DataFrame, a dict of ndarrays or a "
                            f"pyarrow.Table, got {type(data).__name__}")
        return _Apply(self, fmt)(B.to_batch(table, fmt))

    def _require_fitted(self) -> None:
        if self.fit_status() is Preprocessor.FitStatus.NOT_FITTED:
            raise PreprocessorNotFittedException(
                f"{type(self).__name__}: `fit` must be called before `transform` "
                f"(or use fit_transform())")

    def _determine_transform_to_use(self) -> str:
        has_pandas = type(self)._transform_pandas is not Preprocessor._transform_pandas
        has_numpy = type(self)._transform_numpy is not Preprocessor._transform_numpy
        if has_pandas and has_numpy:
            return "pandas" if self.preferred_batch_format() == "pandas" else "numpy"
        if has_pandas:
            return "pandas"
        if has_numpy:
            return "numpy"
        raise NotImplementedError(f"{type(self).__name__} implements neither _transform_pandas "
                                  f"nor _transform_numpy")

    # ------------------------------------------------------------------ what subclasses write
    def _fit(self, ds: "Dataset") -> "Preprocessor":
        """Compute state from ``ds`` (fittable preprocessors implement it)."""
        raise NotImplementedError(f"{type(self).__name__} is fittable but has no _fit")

    def _transform_pandas(self, df: Any) -> Any:
        """Transform one pandas DataFrame."""
        raise NotImplementedError(f"{type(self).__name__} must implement _transform_pandas()")

    def _transform_numpy(self, np_data: Any) -> Any:
        """Transform one dict of ndarrays (or one ndarray)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _transform_numpy()")

    # ------------------------------------------------------------------ persistence
    def serialize(self) -> str:
        """The preprocessor (and its state) as a string."""
        return base64.b64encode(pickle.dumps(self)).decode("ascii")

    @staticmethod
    def deserialize(serialized: str) -> "Preprocessor":
        """The preprocessor :meth:`serialize` produced."""
        out = pickle.loads(base64.b64decode(serialized))
        if not isinstance(out, Preprocessor):
            raise TypeError(f"deserialize: the string holds a {type(out).__name__}, not a "
                            f"Preprocessor")
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fit_status={self.fit_status().value})"


class _Apply:
    """The ``map_batches`` function of :meth:`Preprocessor.transform`."""

    def __init__(self, prep: Preprocessor, fmt: str) -> None:
        self.prep, self.fmt = prep, fmt
        self.__name__ = f"{type(prep).__name__}.transform"

    def __call__(self, batch: Any) -> Any:
        if self.fmt == "pandas":
            return self.prep._transform_pandas(batch)
        return self.prep._transform_numpy(batch)


__all__ = ["Preprocessor", "PreprocessorNotFittedException"]
