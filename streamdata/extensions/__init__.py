"""Ray's ``ray.data.extensions`` names (tensor columns); see :mod:`.tensor_extension`.

Example:
    >>> from streamdata.extensions import ArrowTensorArray
    >>> ArrowTensorArray.from_numpy(__import__("numpy").ones((2, 3))).type.shape
    [3]
"""

from __future__ import annotations

from typing import Any

from streamdata.extensions import tensor_extension
from streamdata.extensions.tensor_extension import (
    ArrowTensorArray, ArrowTensorType, ArrowVariableShapedTensorArray, ArrowVariableShapedTensorType,
    TensorExtensionError,
)


def __getattr__(name: str) -> Any:
    return getattr(tensor_extension, name)  # Ray's pandas names (TensorArray, ...): loaded there on first use


__all__ = ["ArrowTensorArray", "ArrowTensorType", "ArrowVariableShapedTensorArray",
           "ArrowVariableShapedTensorType", "TensorArray", "TensorArrayElement", "TensorDtype",
           "TensorExtensionError"]
