"""``ray.dag.output_node``'s names."""

from streamdata.core.dag import MultiOutputNode

__all__ = ["MultiOutputNode"]
