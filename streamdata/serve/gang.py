"""Gang scheduling (Ray Serve's ``GangSchedulingConfig``, ``ray.serve.gang.GangContext``): a
deployment's replicas started, placed and restarted in groups of ``gang_size``.

Each gang reserves one placement group of ``gang_size`` replicas' bundles (a replica's
``placement_group_bundles``, or its ``ray_actor_options`` resources as one bundle), and its
replica of rank ``i`` runs in the first of its own bundles. Under ``RESTART_GANG`` (the only
policy Ray runs) a member that dies takes its whole gang down, and a new gang is started.
The rules here are pure: the controller's :class:`~.deployment_state.DeploymentState` uses them.

Example:
    >>> config = GangSchedulingConfig(gang_size=2)
    >>> config.gang_placement_strategy, config.runtime_failure_policy
    (<GangPlacementStrategy.PACK: 'PACK'>, <GangRuntimeFailurePolicy.RESTART_GANG: 'RESTART_GANG'>)
    >>> gang_bundles(2, None, {"num_cpus": 0.5})
    [{'CPU': 0.5}, {'CPU': 0.5}]
    >>> round_up_to_gang(3, 2), gangs_to_start(1, 4, 2)
    (4, 1)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class GangPlacementStrategy(str, Enum):
    """How a gang's replicas are placed: ``PACK`` (few nodes) or ``SPREAD`` (many), best effort."""

    PACK = "PACK"
    SPREAD = "SPREAD"


class GangRuntimeFailurePolicy(str, Enum):
    """What a replica of a running gang dying does: ``RESTART_GANG`` restarts the whole gang
    (``RESTART_REPLICA``, one replica alone, is refused: Ray has not implemented it either)."""

    RESTART_GANG = "RESTART_GANG"
    RESTART_REPLICA = "RESTART_REPLICA"


def _enum(kind: type[Enum], name: str, value: Any) -> Any:
    if isinstance(value, kind):
        return value
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"GangSchedulingConfig.{name} must be one of {[m.value for m in kind]}, "
                         f"got {value!r}") from None


@dataclass(frozen=True, slots=True)
class GangSchedulingConfig:
    """``@serve.deployment(gang_scheduling_config=...)``: replicas in gangs of ``gang_size``
    (``num_replicas`` must be a multiple of it; autoscaling rounds up to whole gangs).

    Example:
        >>> GangSchedulingConfig.from_value({"gang_size": 4, "gang_placement_strategy": "SPREAD"}).gang_size
        4
        >>> GangSchedulingConfig(gang_size=0)
        Traceback (most recent call last):
        ...
        ValueError: GangSchedulingConfig.gang_size must be an int >= 1, got 0
    """

    gang_size: int
    gang_placement_strategy: GangPlacementStrategy = GangPlacementStrategy.PACK
    runtime_failure_policy: GangRuntimeFailurePolicy = GangRuntimeFailurePolicy.RESTART_GANG

    def __post_init__(self) -> None:
        size = self.gang_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"GangSchedulingConfig.gang_size must be an int >= 1, got {size!r}")
        object.__setattr__(self, "gang_placement_strategy",
                           _enum(GangPlacementStrategy, "gang_placement_strategy", self.gang_placement_strategy))
        policy = _enum(GangRuntimeFailurePolicy, "runtime_failure_policy", self.runtime_failure_policy)
        if policy is GangRuntimeFailurePolicy.RESTART_REPLICA:
            raise NotImplementedError("RESTART_REPLICA policy is not yet implemented (in Ray Serve either); "
                                      "use RESTART_GANG")
        object.__setattr__(self, "runtime_failure_policy", policy)

    @classmethod
    def from_value(cls, value: Any) -> GangSchedulingConfig | None:
        """A config from itself, a dict of its fields, an object with them (Ray's model), or None."""
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {"gang_size", "gang_placement_strategy", "runtime_failure_policy"})
            if unknown:
                raise ValueError(f"unknown GangSchedulingConfig field(s) {unknown}")
            return cls(**value)
        if hasattr(value, "gang_size"):
            return cls(value.gang_size, getattr(value, "gang_placement_strategy", GangPlacementStrategy.PACK),
                       getattr(value, "runtime_failure_policy", GangRuntimeFailurePolicy.RESTART_GANG))
        raise TypeError(f"gang_scheduling_config must be a GangSchedulingConfig or a dict, "
                        f"got {type(value).__name__}")

    def model_dump(self) -> dict[str, Any]:
        """Its fields as a dict (the enums as their names)."""
        return {"gang_size": self.gang_size, "gang_placement_strategy": self.gang_placement_strategy.value,
                "runtime_failure_policy": self.runtime_failure_policy.value}


@dataclass(slots=True)
class GangContext:
    """The gang a replica belongs to (``serve.get_replica_context().gang_context``)."""

    gang_id: str
    rank: int  # within the gang, from 0
    world_size: int  # the gang's size
    member_replica_ids: list[str] = field(default_factory=list)  # ordered by rank
    pg_name: str = ""  # the gang's placement group


def check_gang_options(config: Any) -> None:
    """Ray's rules for a deployment with a gang config (``config``: a ``DeploymentConfig``).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> check_gang_options(NS(gang_scheduling_config=GangSchedulingConfig(2), num_replicas=3,
        ...     autoscaling_config=None, max_replicas_per_node=None, placement_group_strategy=None))
        Traceback (most recent call last):
        ...
        ValueError: num_replicas (3) must be a multiple of gang_size (2).
    """
    gang = config.gang_scheduling_config
    if gang is None:
        return
    if config.max_replicas_per_node is not None:
        raise ValueError("Setting max_replicas_per_node is not allowed when gang_scheduling_config is provided. "
                         "Please set max_replicas_per_node to None.")
    if config.placement_group_strategy is not None:
        raise ValueError("Setting placement_group_strategy is not allowed when gang_scheduling_config is "
                         "provided. Use gang_scheduling_config.gang_placement_strategy instead.")
    if config.autoscaling_config is None and config.num_replicas % gang.gang_size:
        raise ValueError(f"num_replicas ({config.num_replicas}) must be a multiple of "
                         f"gang_size ({gang.gang_size}).")


def round_up_to_gang(num_replicas: int, gang_size: int) -> int:
    """The replica count in whole gangs: ``num_replicas`` rounded up (0 stays 0), as Ray's
    autoscaling does for gang deployments."""
    if num_replicas <= 0 or gang_size <= 1:
        return max(0, num_replicas)
    return math.ceil(num_replicas / gang_size) * gang_size


def gangs_to_start(live: int, target: int, gang_size: int) -> int:
    """How many whole gangs to start to go from ``live`` replicas toward ``target``."""
    return max(0, target - live) // gang_size


def gang_bundles(gang_size: int, replica_bundles: list[dict[str, float]] | None,
                 actor_options: Mapping[str, Any]) -> list[dict[str, float]]:
    """One gang's placement group: each replica's bundles, ``gang_size`` times over (replica
    ``i`` runs in bundle ``i * len(replica_bundles)``); without ``placement_group_bundles``,
    one bundle per replica of its ``ray_actor_options`` resources."""
    if replica_bundles:
        return [dict(b) for _ in range(gang_size) for b in replica_bundles]
    one: dict[str, float] = {}
    for key, resource in (("num_cpus", "CPU"), ("num_gpus", "GPU"), ("memory", "memory")):
        if actor_options.get(key):
            one[resource] = float(actor_options[key])
    one.update({k: float(v) for k, v in (actor_options.get("resources") or {}).items() if v})
    return [dict(one) for _ in range(gang_size)]


def incomplete_gangs(members: Iterable[tuple[str, GangContext | None]]) -> set[str]:
    """The gangs missing a member: ``members`` are the live replicas' (id, gang context).

    Example:
        >>> a = GangContext("g1", 0, 2, ["r1", "r2"]); b = GangContext("g2", 0, 2, ["r3", "r4"])
        >>> sorted(incomplete_gangs([("r1", a), ("r2", a), ("r3", b)]))
        ['g2']
    """
    live: dict[str, set[str]] = {}
    expected: dict[str, set[str]] = {}
    for replica_id, gang in members:
        if gang is None:
            continue
        live.setdefault(gang.gang_id, set()).add(replica_id)
        expected[gang.gang_id] = set(gang.member_replica_ids)
    return {gang_id for gang_id, ids in expected.items() if not ids <= live[gang_id]}


def gangs_to_stop(gangs: Mapping[str, list[tuple[bool, str]]], extra: int, gang_size: int) -> list[str]:
    """Which gangs a downscale of ``extra`` replicas stops: whole gangs, those not fully
    running first (``gangs``: gang id -> its members' (running, replica id)).

    Example:
        >>> gangs_to_stop({"a": [(True, "1"), (True, "2")], "b": [(False, "3"), (True, "4")]}, 2, 2)
        ['b']
    """
    order = sorted(gangs, key=lambda g: (all(running for running, _ in gangs[g]), g))
    return order[:max(0, extra) // gang_size]


__all__ = ["GangContext", "GangPlacementStrategy", "GangRuntimeFailurePolicy", "GangSchedulingConfig",
           "check_gang_options", "gang_bundles", "gangs_to_start", "gangs_to_stop", "incomplete_gangs",
           "round_up_to_gang"]
