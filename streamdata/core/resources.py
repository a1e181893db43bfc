"""Resource accounting (pure: no processes), used by the runtime's scheduler.

Amounts are floats; the units of an accelerator resource (GPU, TPU, neuron_cores, ...:
see :mod:`streamdata.core.accelerators`) are also given ids so a task learns *which*
devices it holds (``CUDA_VISIBLE_DEVICES``, ``TPU_VISIBLE_CHIPS``, ...). A whole-device
request takes whole free devices; a fractional one shares a device with others.

Example:
    >>> pool = ResourcePool({"CPU": 2.0, "GPU": 1.0, "TPU": 2.0})
    >>> grant = pool.try_acquire({"CPU": 1.0, "GPU": 0.5, "TPU": 1.0})
    >>> grant.gpu_ids, grant.ids, pool.available["CPU"]
    ([0], {'GPU': [0], 'TPU': [0]}, 1.0)
    >>> pool.release(grant); pool.available["GPU"]
    1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streamdata.core.accelerators import ACCELERATORS
from streamdata.core.validate import check_amount

EPS = 1e-9


@dataclass
class Grant:
    """What one acquisition took, to give back exactly that."""

    amounts: dict[str, float]
    shares: dict[str, dict[int, float]] = field(default_factory=dict)  # accelerator -> device id -> share

    @property
    def ids(self) -> dict[str, list[int]]:
        """The devices granted, per accelerator resource: ``{"GPU": [0]}``."""
        return {name: sorted(devices) for name, devices in self.shares.items() if devices}

    @property
    def gpu_ids(self) -> list[int]:
        return sorted(self.shares.get("GPU", {}))


class ResourcePool:
    """A set of resources with availability, plus device ids with fractional shares for
    the accelerator resources (``device_ids``: the ids to use instead of 0..n-1, as a
    placement group bundle keeps the devices it reserved; ``gpu_ids``: the GPUs')."""

    def __init__(self, total: dict[str, float], gpu_ids: list[int] | None = None,
                 device_ids: dict[str, list[int]] | None = None) -> None:
        self.total = {k: float(v) for k, v in total.items() if v}
        self.available = dict(self.total)
        given = dict(device_ids or {})
        if gpu_ids is not None:
            given["GPU"] = gpu_ids
        self.free: dict[str, dict[int, float]] = {}  # accelerator -> device id -> free share
        for name in ACCELERATORS:
            ids = given.get(name, range(int(self.total.get(name, 0.0) + EPS)))
            if ids:
                self.free[name] = {i: 1.0 for i in ids}

    @property
    def gpu_free(self) -> dict[int, float]:
        return self.free.get("GPU", {})

    def fits(self, demand: dict[str, float]) -> bool:
        """Whether ``demand`` could ever fit (against the totals)."""
        return all(self.total.get(k, 0.0) + EPS >= v for k, v in demand.items() if v > 0)

    def can_acquire(self, demand: dict[str, float]) -> bool:
        if not all(self.available.get(k, 0.0) + EPS >= v for k, v in demand.items() if v > 0):
            return False
        return all(self._pick(name, demand[name]) is not None for name in ACCELERATORS if name in demand)

    def try_acquire(self, demand: dict[str, float]) -> Grant | None:
        if not self.can_acquire(demand):
            return None
        shares = {name: self._pick(name, demand[name]) or {} for name in ACCELERATORS if name in demand}
        amounts = {k: v for k, v in demand.items() if v > 0}
        for k, v in amounts.items():
            self.available[k] = self.available.get(k, 0.0) - v
        for name, picked in shares.items():
            for gid, share in picked.items():
                self.free[name][gid] -= share
        return Grant(amounts, {name: picked for name, picked in shares.items() if picked})

    def release(self, grant: Grant) -> None:
        for k, v in grant.amounts.items():
            self.available[k] = min(self.total.get(k, 0.0), self.available.get(k, 0.0) + v)
        for name, picked in grant.shares.items():
            free = self.free.get(name, {})
            for gid, share in picked.items():
                if gid in free:
                    free[gid] = min(1.0, free[gid] + share)

    def _pick(self, name: str, amount: float) -> dict[int, float] | None:
        """The devices of accelerator ``name`` a request of ``amount`` takes (None: none fit)."""
        if amount <= EPS:
            return {}
        free = self.free.get(name)
        if not free:
            return {} if self.available.get(name, 0.0) + EPS >= amount else None
        if amount >= 1 - EPS:
            whole = [g for g, left in free.items() if left >= 1 - EPS]
            need = int(round(amount))
            return {g: 1.0 for g in whole[:need]} if len(whole) >= need else None
        for g, left in free.items():
            if left + EPS >= amount:
                return {g: amount}
        return None


def infeasible_reason(what: str, demand: dict[str, float], total: dict[str, float]) -> str | None:
    """Why ``demand`` can never fit in ``total`` (None when it can).

    Example:
        >>> why = infeasible_reason("task f", {"CPU": 1.0, "GPU": 1.0}, {"CPU": 2.0})
        >>> "short of: GPU 1 > 0" in why
        True
        >>> infeasible_reason("task f", {"CPU": 1.0}, {"CPU": 2.0}) is None
        True
    """
    short = [f"{k} {v:g} > {total.get(k, 0.0):g}" for k, v in demand.items()
             if v > 0 and total.get(k, 0.0) + EPS < v]
    if not short:
        return None
    return (f"{what} requests {demand} but this machine has {total} (short of: {', '.join(short)}); "
            "no resource here can ever meet it. Declare it in sd.init(num_cpus=..., num_gpus=..., "
            "resources=...), or run on a Ray cluster (sd.init(backend='ray')), which waits for a node "
            "that has it")


def normalize_demand(num_cpus: float | None, num_gpus: float | None, memory: float | None,
                     resources: dict[str, float] | None, *, default_cpus: float) -> dict[str, float]:
    """A task's or actor's demand as one dict, validated.

    Example:
        >>> normalize_demand(None, 1, None, {"accel": 2}, default_cpus=1)
        {'CPU': 1.0, 'GPU': 1.0, 'accel': 2.0}
    """
    num_cpus, num_gpus = check_amount("num_cpus", num_cpus), check_amount("num_gpus", num_gpus)
    memory = check_amount("memory", memory)
    demand: dict[str, float] = {"CPU": float(default_cpus if num_cpus is None else num_cpus)}
    if num_gpus:
        demand["GPU"] = float(num_gpus)
    if memory:
        demand["memory"] = float(memory)
    if resources is not None and not isinstance(resources, dict):
        raise TypeError(f"resources must be a dict of resource name to amount, got {resources!r} "
                        f"({type(resources).__name__})")
    for name, amount in (resources or {}).items():
        if not isinstance(name, str):
            raise TypeError(f"resources keys must be resource names (str), got {name!r}")
        if name in ("CPU", "GPU", "memory"):
            raise ValueError(f"use num_cpus/num_gpus/memory=, not resources={{{name!r}: ...}}")
        demand[name] = check_amount(f"resources[{name!r}]", amount)  # type: ignore[assignment]
    for name, amount in demand.items():
        if amount < 0:
            raise ValueError(f"resource {name!r} must be >= 0, got {amount}")
        if name == "GPU" and amount > 1 and abs(amount - round(amount)) > EPS:
            raise ValueError(f"num_gpus above 1 must be a whole number, got {amount}")
    return demand
