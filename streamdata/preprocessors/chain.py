"""``Chain`` (Ray's ``ray.data.preprocessors.chain``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streamdata.preprocessor import Preprocessor, PreprocessorNotFittedException
from streamdata.preprocessors._util import PreprocessorArgumentError

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.dataset import Dataset


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


__all__ = ['Chain']
