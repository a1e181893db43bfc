"""Ray AIR's names (``ray.air``), which older Ray programs import: the training configs
(the same classes as :mod:`streamdata.train`'s, also as :mod:`~streamdata.air.config`),
:mod:`~streamdata.air.session` (the per-worker session functions) and
:mod:`~streamdata.air.constants`.

Example:
    >>> from streamdata.air import ScalingConfig
    >>> import streamdata.train
    >>> ScalingConfig is streamdata.train.ScalingConfig
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Union

from streamdata.train import CheckpointConfig, FailureConfig, Result, RunConfig, ScalingConfig

if TYPE_CHECKING:  # pragma: no cover
    import numpy
    import pandas
    import pyarrow

#: a batch of data, in any of the batch formats
DataBatchType = Union["numpy.ndarray", "pyarrow.Table", "pandas.DataFrame", dict[str, "numpy.ndarray"]]

__all__ = ["CheckpointConfig", "DataBatchType", "FailureConfig", "Result", "RunConfig", "ScalingConfig"]
