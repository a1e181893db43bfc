"""``ray.air.config``: the training configs under the module path older Ray programs
import them from (``from ray.air.config import ScalingConfig``); the same classes as
:mod:`streamdata.train`'s.

Example:
    >>> from streamdata.air.config import RunConfig
    >>> import streamdata.train
    >>> RunConfig is streamdata.train.RunConfig
    True
"""

from __future__ import annotations

from streamdata.train import CheckpointConfig, DataConfig, FailureConfig, RunConfig, ScalingConfig

__all__ = ["CheckpointConfig", "DataConfig", "FailureConfig", "RunConfig", "ScalingConfig"]
