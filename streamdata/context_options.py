"""Ray Data's ``ExecutionOptions`` and ``ExecutionResources``: what
``DataContext.get_current().execution_options`` holds, and how its limits narrow the
cluster's resources for one execution (:func:`effective_limits`, a pure policy).

A base module (imports nothing of streamdata but errors).

Example:
    >>> opts = ExecutionOptions(resource_limits=ExecutionResources(cpu=2))
    >>> effective_limits(opts, cpu=8, gpu=0, object_store_memory=1e9)
    (2.0, 0.0, 1000000000.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from streamdata.errors import PlanError

_INF = float("inf")


def _amount(what: str, value: Any, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise PlanError(f"ExecutionResources {what} must be a number >= 0 or None, got {value!r}")
    return float(value)


@dataclass
class ExecutionResources:
    """An amount of CPU, GPU, heap memory and object-store memory (bytes).

    As a limit (``resource_limits``), a field left None means "no limit" (infinity); as
    an amount to set aside (``exclude_resources``), None means zero.

    Example:
        >>> ExecutionResources(cpu=2).cpu, ExecutionResources().gpu
        (2.0, inf)
        >>> ExecutionResources.zero().cpu
        0.0
    """

    cpu: float | None = None
    gpu: float | None = None
    object_store_memory: float | None = None
    memory: float | None = None

    def __post_init__(self) -> None:
        for name in ("cpu", "gpu", "object_store_memory", "memory"):
            setattr(self, name, _amount(name, getattr(self, name), _INF))

    @classmethod
    def zero(cls) -> "ExecutionResources":
        """No resources at all."""
        return cls(cpu=0, gpu=0, object_store_memory=0, memory=0)

    @classmethod
    def inf(cls) -> "ExecutionResources":
        """No limit on anything."""
        return cls()

    @classmethod
    def for_limits(cls, cpu: float | None = None, gpu: float | None = None,
                   object_store_memory: float | None = None,
                   memory: float | None = None) -> "ExecutionResources":
        """A limit: None fields are unlimited."""
        return cls(cpu=cpu, gpu=gpu, object_store_memory=object_store_memory, memory=memory)

    def copy(self, cpu: float | None = None, gpu: float | None = None,
             memory: float | None = None,
             object_store_memory: float | None = None) -> "ExecutionResources":
        """A copy, with the amounts given here (not None) in place of these (as Ray).

        Example:
            >>> r = ExecutionResources(cpu=1, gpu=2, object_store_memory=4, memory=3)
            >>> r.copy(cpu=10, object_store_memory=10e9)
            ExecutionResources(cpu=10.0, gpu=2.0, object_store_memory=10000000000.0, memory=3.0)
        """
        return ExecutionResources(
            self.cpu if cpu is None else cpu, self.gpu if gpu is None else gpu,
            self.object_store_memory if object_store_memory is None else object_store_memory,
            self.memory if memory is None else memory)

    def add(self, other: "ExecutionResources") -> "ExecutionResources":
        return ExecutionResources(self.cpu + other.cpu, self.gpu + other.gpu,  # type: ignore[operator]
                                  self.object_store_memory + other.object_store_memory,  # type: ignore[operator]
                                  self.memory + other.memory)  # type: ignore[operator]

    def subtract(self, other: "ExecutionResources") -> "ExecutionResources":
        """``self - other``, floored at zero."""
        def sub(a: Any, b: Any) -> float:
            return max(0.0, a - b) if not math.isinf(a) else a
        return ExecutionResources(sub(self.cpu, other.cpu), sub(self.gpu, other.gpu),
                                  sub(self.object_store_memory, other.object_store_memory),
                                  sub(self.memory, other.memory))

    def min(self, other: "ExecutionResources") -> "ExecutionResources":
        return ExecutionResources(min(self.cpu, other.cpu), min(self.gpu, other.gpu),  # type: ignore[type-var]
                                  min(self.object_store_memory, other.object_store_memory),  # type: ignore[type-var]
                                  min(self.memory, other.memory))  # type: ignore[type-var]

    def satisfies_limit(self, limit: "ExecutionResources") -> bool:
        """Whether every amount is within ``limit``."""
        return (self.cpu <= limit.cpu and self.gpu <= limit.gpu  # type: ignore[operator]
                and self.object_store_memory <= limit.object_store_memory  # type: ignore[operator]
                and self.memory <= limit.memory)  # type: ignore[operator]

    def is_zero(self) -> bool:
        return self.cpu == self.gpu == self.object_store_memory == self.memory == 0


@dataclass
class ExecutionOptions:
    """Options of every execution the context runs (``DataContext.execution_options``).

    Attributes:
        resource_limits: at most these resources for one execution (honoured: the
            executor runs no more CPU/GPU tasks at once and holds no more object-store
            bytes in flight than these; default unlimited, i.e. the cluster's).
        exclude_resources: resources set aside for other work (e.g. a trainer): the
            executor's limits are the cluster's (or ``resource_limits``) minus these.
        preserve_order: keep the order of the input in every operator's output
            (honoured; streamdata preserves order anyway unless
            ``DataContext.preserve_order`` is False).
        actor_locality_enabled: Ray's locality scheduling of actor tasks (one machine
            here: accepted, nothing to do).
        locality_with_output: Ray's scheduling near the consumer (accepted, as above).
        verbose_progress: per-operator detail in the progress output (accepted).
        label_selector: node labels for the executions' tasks (one machine: accepted).

    Example:
        >>> ExecutionOptions(preserve_order=True).preserve_order
        True
    """

    resource_limits: ExecutionResources = field(default_factory=ExecutionResources)
    exclude_resources: ExecutionResources = field(default_factory=ExecutionResources.zero)
    preserve_order: bool = False
    actor_locality_enabled: bool = True
    verbose_progress: bool | None = True
    label_selector: dict[str, str] | None = None
    locality_with_output: Any = False

    def validate(self) -> None:
        """Raise when the options cannot hold together (as Ray does: a resource may be
        limited or excluded, not both)."""
        if not isinstance(self.resource_limits, ExecutionResources):
            raise PlanError(f"execution_options.resource_limits must be an ExecutionResources, "
                            f"got {self.resource_limits!r}")
        if not isinstance(self.exclude_resources, ExecutionResources):
            raise PlanError(f"execution_options.exclude_resources must be an ExecutionResources, "
                            f"got {self.exclude_resources!r}")
        for attr in ("cpu", "gpu", "object_store_memory"):
            limit = getattr(self.resource_limits, attr)
            excluded = getattr(self.exclude_resources, attr)
            if not math.isinf(limit) and excluded > 0 and not math.isinf(excluded):
                raise PlanError(f"execution_options: resource_limits and exclude_resources cannot "
                                f"both be set for {attr}")
        if not isinstance(self.preserve_order, bool):
            raise PlanError(f"execution_options.preserve_order must be a bool, "
                            f"got {self.preserve_order!r}")

    def is_resource_limits_default(self) -> bool:
        """Whether no resource limit was set."""
        r = self.resource_limits
        return all(math.isinf(v) for v in (r.cpu, r.gpu, r.object_store_memory))  # type: ignore[arg-type]


def effective_limits(options: ExecutionOptions | None, *, cpu: float, gpu: float,
                     object_store_memory: float) -> tuple[float, float, float]:
    """The (cpu, gpu, object-store bytes) one execution may use: the cluster's amounts
    narrowed by ``resource_limits``, minus ``exclude_resources``.

    Example:
        >>> opts = ExecutionOptions(exclude_resources=ExecutionResources(cpu=1, gpu=0,
        ...                         object_store_memory=0, memory=0))
        >>> effective_limits(opts, cpu=4, gpu=1, object_store_memory=100.0)
        (3.0, 1.0, 100.0)
    """
    if options is None:
        return float(cpu), float(gpu), float(object_store_memory)
    options.validate()
    lim, exc = options.resource_limits, options.exclude_resources
    out = []
    for have, limit, excluded in ((cpu, lim.cpu, exc.cpu), (gpu, lim.gpu, exc.gpu),
                                  (object_store_memory, lim.object_store_memory,
                                   exc.object_store_memory)):
        value = min(float(have), float(limit))  # type: ignore[arg-type]
        if not math.isinf(excluded):  # type: ignore[arg-type]
            value = max(0.0, value - float(excluded))  # type: ignore[arg-type]
        out.append(value)
    return out[0], out[1], out[2]


__all__ = ["ExecutionOptions", "ExecutionResources", "effective_limits"]
