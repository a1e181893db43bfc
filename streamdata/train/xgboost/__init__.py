"""``streamdata.train.xgboost``: data-parallel XGBoost (Ray's ``ray.train.xgboost``).

:class:`XGBoostTrainer` and :class:`XGBoostConfig` on the driver;
:class:`RayTrainReportCallback` in the loop's ``xgboost.train(callbacks=[...])``.
Needs ``xgboost`` (``pip install 'streamdata[xgboost]'``).

Example:
    >>> from streamdata.train.xgboost import XGBoostConfig
    >>> XGBoostConfig().to_dict()
    {'xgboost_communicator': 'rabit', 'timeout_s': 600}
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("xgboost") is None:  # every name here needs it, as Ray's module does
    raise ImportError("streamdata.train.xgboost needs xgboost: pip install 'streamdata[xgboost]'")

from streamdata.train.xgboost.config import XGBoostConfig
from streamdata.train.xgboost.report_callback import RayTrainReportCallback
from streamdata.train.xgboost.xgboost_trainer import XGBoostTrainer

__all__ = ["RayTrainReportCallback", "XGBoostConfig", "XGBoostTrainer"]
