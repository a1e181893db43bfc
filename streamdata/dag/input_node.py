"""``ray.dag.input_node``'s names."""

from streamdata.core.dag import InputAttributeNode, InputNode

__all__ = ["InputAttributeNode", "InputNode"]
