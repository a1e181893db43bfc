"""Ray's DAG API under Ray's module names (``ray.dag``); see :mod:`streamdata.core.dag`."""

from streamdata.core.dag import (
    ClassMethodNode,
    ClassNode,
    DAGNode,
    FunctionNode,
    InputAttributeNode,
    InputNode,
    MultiOutputNode,
)

__all__ = ["ClassMethodNode", "ClassNode", "DAGNode", "FunctionNode", "InputAttributeNode", "InputNode",
           "MultiOutputNode"]
