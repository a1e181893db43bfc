"""What the plan knows of the machine (or cluster) it will run on.

The execution layer reads the runtime's resources once per compilation and passes a
:class:`ClusterInfo` down; the optimizer and the lowering never ask the runtime.

Example:
    >>> ClusterInfo(num_cpus=2.0).num_gpus
    0.0
    >>> ClusterInfo.from_resources({"CPU": 4.0, "GPU": 1.0, "object_store_memory": 2e9}).num_gpus
    1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterInfo:
    """The resources a plan is compiled for.

    Attributes:
        num_cpus: logical CPUs of the cluster (``sd.cluster_resources()["CPU"]``).
        num_gpus: GPUs of the cluster (0 when none).
        object_store_memory: bytes of the object store, when known.
    """

    num_cpus: float
    num_gpus: float = 0.0
    object_store_memory: int | None = None

    def __post_init__(self) -> None:
        if self.num_cpus < 0 or self.num_gpus < 0:
            raise ValueError(f"ClusterInfo: negative resources (num_cpus={self.num_cpus}, "
                             f"num_gpus={self.num_gpus})")

    @staticmethod
    def from_resources(resources: Mapping[str, float]) -> "ClusterInfo":
        """From a ``cluster_resources()`` mapping (``CPU``, ``GPU``, ``object_store_memory``)."""
        store = resources.get("object_store_memory")
        return ClusterInfo(num_cpus=float(resources.get("CPU", 1.0)),
                           num_gpus=float(resources.get("GPU", 0.0)),
                           object_store_memory=int(store) if store else None)
