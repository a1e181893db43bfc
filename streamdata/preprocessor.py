"""``Preprocessor``: the base of fit/transform feature preprocessing (Ray Data's
``ray.data.Preprocessor``).

A subclass computes state from a dataset in ``_fit(ds)`` (attributes named with a
trailing underscore, e.g. ``self.stats_``, mark it fitted) and transforms batches in
``_transform_pandas(df)``, ``_transform_numpy(batch)`` and/or ``_transform_arrow(table)``
(with more than one, :meth:`Preprocessor.preferred_batch_format` picks). ``transform(ds)``
runs that as ``map_batches``; ``transform_batch(batch)`` applies it to one batch in the
caller and returns what that transform returns, as Ray's: a pandas transform returns a
DataFrame whatever it was given; an Arrow transform returns a DataFrame for a DataFrame
(only the columns it reads cross into Arrow) and a ``pyarrow.Table`` for a Table or a dict.

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
import json
import pickle
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from streamdata.errors import ColumnNotFoundError, StreamDataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

    from streamdata.dataset import Dataset

#: the header of a built-in preprocessor's ``serialize()`` bytes (Ray's CloudPickle format marker)
_CLOUDPICKLE_MAGIC = b"CPKL:"

#: the ``map_batches`` batch format of each transform (Ray's ``BatchFormat`` values)
_MAP_FORMAT = {"pandas": "pandas", "numpy": "numpy", "arrow": "pyarrow"}


class PreprocessorNotFittedException(StreamDataError, RuntimeError):
    """``transform`` of a fittable preprocessor before ``fit``."""


class BatchTypeError(StreamDataError, TypeError, ValueError):
    """``transform_batch`` given something that is not a batch (a ``ValueError``, as Ray
    raises, and a ``TypeError``)."""


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
        """The batch format used when more than one transform is implemented (``"pandas"``,
        ``"numpy"`` or ``"arrow"``, Ray's ``BatchFormat`` values)."""
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
        return ds.map_batches(_Apply(self, fmt), batch_format=_MAP_FORMAT[fmt],
                              batch_size=batch_size, num_cpus=num_cpus, memory=memory,
                              concurrency=concurrency, zero_copy_batch=False)

    def transform_batch(self, data: Any) -> Any:
        """One batch (a pandas DataFrame, a dict of ndarrays, a ``pyarrow.Table`` or an
        ndarray) transformed, in the format of the transform that ran (as Ray's): a
        preprocessor that transforms pandas returns a DataFrame, one that transforms Arrow
        returns a DataFrame for a DataFrame and a Table otherwise, one that transforms numpy
        returns a dict of ndarrays.

        A DataFrame keeps its index and its untouched cells (as Ray's); the caller's frame
        is left unchanged (Ray changes it in place). An ndarray is the column ``__value__``.

        Raises:
            PreprocessorNotFittedException: a fittable preprocessor that was not fitted.
            BatchTypeError: ``data`` is none of those.
        """
        self._require_fitted()
        import numpy as np
        import pandas as pd
        import pyarrow as pa

        if not isinstance(data, (pd.DataFrame, pa.Table, Mapping, np.ndarray)):
            raise BatchTypeError(f"transform_batch takes a pandas.DataFrame, a dict of ndarrays, "
                                 f"a pyarrow.Table or an ndarray, got {type(data).__name__}")
        fmt = self._determine_transform_to_use()
        if fmt == "pandas":
            return self._transform_pandas(_batch_to_pandas(data))
        if fmt == "numpy":
            return self._transform_numpy(_batch_to_numpy(data))
        if isinstance(data, pd.DataFrame):
            return self._transform_pandas_with_arrow(data)
        if not isinstance(data, pa.Table):
            from streamdata import block as B
            data = B.pandas_to_table(_batch_to_pandas(data))
        return self._transform_arrow_without_stale_metadata(data)

    def _transform_arrow_without_stale_metadata(self, table: "pa.Table") -> "pa.Table":
        """``_transform_arrow``, less the pandas metadata of the columns it added or retyped
        (``to_pandas`` would rebuild their old dtypes from it)."""
        return _drop_stale_pandas_metadata(table.schema, self._transform_arrow(table))

    def _transform_pandas_with_arrow(self, df: "pd.DataFrame") -> "pd.DataFrame":
        """``_transform_arrow`` on a DataFrame: only the columns it reads cross into Arrow and
        only the ones it writes cross back, into a shallow copy of ``df`` (index kept)."""
        import pandas as pd

        from streamdata import block as B
        inputs = self.get_input_columns() or list(df.columns)
        missing = [c for c in inputs if c not in df.columns]
        if missing:
            raise ColumnNotFoundError(missing[0], list(df.columns), where=type(self).__name__)
        outputs = self.get_output_columns()
        sources = dict(zip(outputs, inputs)) if len(outputs) == len(inputs) else {}
        table = B.pandas_to_table(df[inputs])
        result = self._transform_arrow(table)
        if result.num_rows != len(df):
            raise ValueError(f"{type(self).__name__}._transform_arrow returned {result.num_rows} "
                             f"rows for a batch of {len(df)}; it must return one row per input row")
        arrow_backed = any(isinstance(dtype, pd.ArrowDtype) for dtype in df.dtypes)
        out = df.copy(deep=False)
        for name in outputs or result.column_names:
            column = result.column(name)
            source = sources.get(name, name)
            like = df[source].dtype if source in table.column_names else None
            same = like is not None and column.type == table.schema.field(source).type
            out[name] = pd.Series(_to_pandas_like(column, like, same_type=same,
                                                  frame_is_arrow_backed=arrow_backed),
                                  index=df.index)
        return out

    def _require_fitted(self) -> None:
        if self.fit_status() is Preprocessor.FitStatus.NOT_FITTED:
            raise PreprocessorNotFittedException(
                f"{type(self).__name__}: `fit` must be called before `transform` "
                f"(or use fit_transform())")

    def _determine_transform_to_use(self) -> str:
        """``"pandas"``, ``"numpy"`` or ``"arrow"``: the one transform implemented, else the
        preferred batch format (as Ray's)."""
        cls = type(self)
        implemented = [fmt for fmt, name in (("pandas", "_transform_pandas"), ("numpy", "_transform_numpy"),
                                             ("arrow", "_transform_arrow"))
                       if getattr(cls, name) is not getattr(Preprocessor, name)]
        if len(implemented) > 1:
            preferred = str(getattr(self.preferred_batch_format(), "value", self.preferred_batch_format()))
            return "arrow" if preferred == "pyarrow" else preferred
        if implemented:
            return implemented[0]
        raise NotImplementedError(f"{type(self).__name__} implements none of _transform_pandas, "
                                  f"_transform_numpy and _transform_arrow")

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

    def _transform_arrow(self, table: "pa.Table") -> "pa.Table":
        """Transform one ``pyarrow.Table`` (the same rows, in the same order)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _transform_arrow()")

    # ------------------------------------------------------------------ persistence
    def serialize(self) -> str | bytes:
        """The preprocessor (and its state): ``bytes`` (``b"CPKL:"`` and a pickle) for the
        built-in preprocessors of :mod:`streamdata.preprocessors`, a base64 string for
        other subclasses, as Ray 2.60's serializable preprocessors and its base class do.

        Example:
            >>> from streamdata.preprocessors import StandardScaler
            >>> StandardScaler(columns=["x"]).serialize()[:5]
            b'CPKL:'
        """
        if type(self).__module__.startswith("streamdata.preprocessors."):
            return _CLOUDPICKLE_MAGIC + pickle.dumps(self)
        return base64.b64encode(pickle.dumps(self)).decode("ascii")

    @staticmethod
    def deserialize(serialized: str | bytes) -> "Preprocessor":
        """The preprocessor :meth:`serialize` produced (either form)."""
        if isinstance(serialized, (bytes, bytearray, memoryview)):
            data = bytes(serialized)
            if not data.startswith(_CLOUDPICKLE_MAGIC):
                raise ValueError("deserialize: the bytes are not a serialized preprocessor (no CPKL: header)")
            out = pickle.loads(data[len(_CLOUDPICKLE_MAGIC):])
        else:
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
        if self.fmt == "arrow":
            return self.prep._transform_arrow_without_stale_metadata(batch)
        return self.prep._transform_numpy(batch)


# ---------------------------------------------------------------------------- batch conversions
def _batch_to_pandas(data: Any) -> "pd.DataFrame":
    """A batch as a DataFrame (a shallow copy of a DataFrame; an ndarray as ``__value__``)."""
    import numpy as np
    import pandas as pd

    from streamdata import block as B
    if isinstance(data, pd.DataFrame):
        return data.copy(deep=False)
    if isinstance(data, np.ndarray):
        data = {"__value__": data}
    if isinstance(data, Mapping):
        data = B.numpy_to_table(data, what="transform_batch")
    return B.to_batch(data, "pandas")


def _batch_to_numpy(data: Any) -> Any:
    """A batch as a dict of ndarrays (an ndarray as it is; a dict's arrays as they are)."""
    import numpy as np
    import pandas as pd

    from streamdata import block as B
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, Mapping):
        return {k: v if isinstance(v, np.ndarray) else np.asarray(v) for k, v in data.items()}
    from streamdata.kept_dictionary import decode_kept
    if isinstance(data, pd.DataFrame):
        data = B.pandas_to_table(data)
    return B.to_numpy(decode_kept(data))


def _to_pandas_like(column: "pa.ChunkedArray", like: Any, *, same_type: bool,
                    frame_is_arrow_backed: bool) -> Any:
    """A column ``_transform_arrow`` wrote, as pandas values backed like ``like`` (the dtype
    of the column it was computed from; None: like the rest of the frame): NumPy, a
    nullable dtype (``Int64``, ``string``) or Arrow (``pd.ArrowDtype``), as Ray's."""
    import pandas as pd
    import pyarrow as pa

    from streamdata import block as B
    if same_type and hasattr(like, "__from_arrow__"):
        return like.__from_arrow__(column)
    as_arrow = frame_is_arrow_backed if like is None else isinstance(like, pd.ArrowDtype)
    if as_arrow and not isinstance(column.type, pa.BaseExtensionType):
        return pd.ArrowDtype(column.type).__from_arrow__(column)
    if not as_arrow and like is not None and getattr(like, "na_value", None) is pd.NA:
        nullable = _nullable_pandas_dtype(column.type)
        if nullable is not None:
            return nullable.__from_arrow__(column)
    return B.to_pandas(pa.table({"c": column}))["c"].array


def _nullable_pandas_dtype(arrow_type: "pa.DataType") -> Any:
    """The pandas nullable dtype (``Int64``, ``Float64``, ...) of ``arrow_type``, if any."""
    import pandas as pd
    import pyarrow as pa

    if pa.types.is_integer(arrow_type):
        prefix = "UInt" if pa.types.is_unsigned_integer(arrow_type) else "Int"
        return pd.api.types.pandas_dtype(f"{prefix}{arrow_type.bit_width}")
    if pa.types.is_float32(arrow_type) or pa.types.is_float64(arrow_type):
        return pd.api.types.pandas_dtype(f"Float{arrow_type.bit_width}")
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype()
    return None


def _drop_stale_pandas_metadata(input_schema: "pa.Schema", table: "pa.Table") -> "pa.Table":
    """``table`` less the pandas metadata of the columns not in ``input_schema`` with the
    same type (``to_pandas`` would rebuild a retyped column's old dtype from it)."""
    metadata = table.schema.metadata or {}
    if b"pandas" not in metadata:
        return table
    stale = {f.name for f in table.schema
             if f.name not in input_schema.names or input_schema.field(f.name).type != f.type}
    if not stale:
        return table
    pandas_metadata = json.loads(metadata[b"pandas"])
    pandas_metadata["columns"] = [c for c in pandas_metadata.get("columns", [])
                                  if c.get("field_name") not in stale]
    return table.replace_schema_metadata({**metadata, b"pandas": json.dumps(pandas_metadata).encode()})


__all__ = ["BatchTypeError", "Preprocessor", "PreprocessorNotFittedException"]
