"""Ray Data's built-in preprocessors (``ray.data.preprocessors``): scalers, a normalizer, a
power transformer, discretizers, encoders, a tokenizer, vectorizers, a feature hasher, an
imputer, a torchvision transform, a chain and a column concatenator, on :class:`~streamdata.preprocessor.Preprocessor`.

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

from streamdata.preprocessor import Preprocessor, PreprocessorNotFittedException
from streamdata.preprocessors._util import PreprocessorArgumentError
from streamdata.preprocessors.chain import Chain
from streamdata.preprocessors.concatenator import Concatenator
from streamdata.preprocessors.discretizer import CustomKBinsDiscretizer, UniformKBinsDiscretizer
from streamdata.preprocessors.encoder import (
    Categorizer, LabelEncoder, MissingValueError, MultiHotEncoder, OneHotEncoder, OrdinalEncoder,
)
from streamdata.preprocessors.hasher import FeatureHasher
from streamdata.preprocessors.imputer import SimpleImputer
from streamdata.preprocessors.normalizer import Normalizer
from streamdata.preprocessors.scaler import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler
from streamdata.preprocessors.tokenizer import Tokenizer
from streamdata.preprocessors.torch import TorchVisionPreprocessor
from streamdata.preprocessors.transformer import PowerTransformer
from streamdata.preprocessors.vectorizer import CountVectorizer, HashingVectorizer

__all__ = ["Categorizer", "Chain", "Concatenator", "CountVectorizer", "CustomKBinsDiscretizer", "FeatureHasher",
           "HashingVectorizer", "LabelEncoder", "MaxAbsScaler", "MinMaxScaler", "MissingValueError",
           "MultiHotEncoder", "Normalizer", "OneHotEncoder", "OrdinalEncoder", "PowerTransformer", "Preprocessor",
           "PreprocessorArgumentError", "PreprocessorNotFittedException", "RobustScaler", "SimpleImputer",
           "StandardScaler", "Tokenizer", "TorchVisionPreprocessor", "UniformKBinsDiscretizer"]
