"""The logical optimizer: an ordered list of pure rules applied once each.

Example:
    >>> from streamdata.plan.logical import InputData, Limit
    >>> plan = LogicalPlan(Limit(inputs=(Limit(inputs=(InputData(),), limit=5),), limit=3))
    >>> print(optimize(plan, OptimizerContext(num_cpus=2)).explain())
    Limit(3)
    +- InputData
"""

from __future__ import annotations

from typing import Sequence

from streamdata.plan.logical import LogicalPlan
from streamdata.plan.rules.base import OptimizerContext, Rule
from streamdata.plan.rules.combine_repartitions import CombineRepartitionsRule
from streamdata.plan.rules.limit_pushdown import LimitPushdownRule
from streamdata.plan.rules.map_fusion import MapFusionRule
from streamdata.plan.rules.predicate_pushdown import PredicatePushdownRule
from streamdata.plan.rules.projection_pushdown import ProjectionPushdownRule
from streamdata.plan.rules.read_parallelism import ReadParallelismRule


def default_rules() -> list[Rule]:
    """The rules in the order they run.

    Filters go down first (so projections know which columns filters still read in the
    plan), then projections and limits; repartitions combine; maps fuse once nothing else
    needs to see them one by one; read parallelism last, from the sources' final sizes.
    """
    return [PredicatePushdownRule(), ProjectionPushdownRule(), LimitPushdownRule(),
            CombineRepartitionsRule(), MapFusionRule(), ReadParallelismRule()]


def optimize(plan: LogicalPlan, ctx: OptimizerContext,
             rules: Sequence[Rule] | None = None) -> LogicalPlan:
    """Apply ``rules`` (default: :func:`default_rules`) in order, each once.

    Args:
        plan: the plan the Dataset built.
        ctx: what the rules may know (CPUs, block-size targets).
        rules: the rules to run instead of the default list.

    Returns:
        The optimized plan; ``plan`` itself when no rule changed anything.
    """
    for rule in default_rules() if rules is None else rules:
        plan = rule.apply(plan, ctx)
    return plan


__all__ = ["OptimizerContext", "Rule", "default_rules", "optimize"]
