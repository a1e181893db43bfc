"""Ray AIR's key names (``ray.air.constants``), with Ray's values, for code that stores or
reads them (a checkpoint's preprocessor key, the dataset names a trainer is given).

Example:
    >>> PREPROCESSOR_KEY, TRAIN_DATASET_KEY
    ('_preprocessor', 'train')
"""

from __future__ import annotations

#: a checkpoint's model entry
MODEL_KEY = "model"
#: a checkpoint's preprocessor entry
PREPROCESSOR_KEY = "_preprocessor"
#: the names of the datasets a trainer is given
TRAIN_DATASET_KEY = "train"
EVALUATION_DATASET_KEY = "evaluation"
#: the column of a dataset made from a bare array
TENSOR_COLUMN_NAME = "__value__"
#: keys of a reported result
TIMESTAMP = "timestamp"
TIME_THIS_ITER_S = "time_this_iter_s"
TRAINING_ITERATION = "training_iteration"

__all__ = ["EVALUATION_DATASET_KEY", "MODEL_KEY", "PREPROCESSOR_KEY", "TENSOR_COLUMN_NAME", "TIME_THIS_ITER_S",
           "TIMESTAMP", "TRAINING_ITERATION", "TRAIN_DATASET_KEY"]
