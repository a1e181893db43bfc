"""Combine back-to-back repartitions and shuffles: only the last one matters."""

from __future__ import annotations

from streamdata.plan.logical import (
    LogicalNode, LogicalPlan, RandomizeBlockOrder, RandomShuffle, Repartition,
)
from streamdata.plan.rules.base import OptimizerContext, Rule, rewrite_up


class CombineRepartitionsRule(Rule):
    """Adjacent redistributions collapse into the last one.

    Rewrites::

        Repartition(n2, s2)(Repartition(n1, s1)(x))   ⇒ Repartition(n2, s1 or s2)(x)
        RandomShuffle(seed2)(RandomShuffle(seed1)(x)) ⇒ RandomShuffle(seed2)(x)
        RandomizeBlockOrder(b)(RandomizeBlockOrder(a)(x)) ⇒ RandomizeBlockOrder(b)(x)

    (A shuffling repartition followed by a plain one still spreads rows randomly.)
    Nothing is combined with a node that has other consumers.
    """

    name = "CombineRepartitions"

    def apply(self, plan: LogicalPlan, ctx: OptimizerContext) -> LogicalPlan:
        def visit(node: LogicalNode, shared: set[int]) -> LogicalNode:
            for kind in (Repartition, RandomShuffle, RandomizeBlockOrder):
                if isinstance(node, kind):
                    child = node.input
                    while isinstance(child, kind) and id(child) not in shared:
                        if kind is Repartition and child.shuffle and not node.shuffle:
                            node = node.replace(shuffle=True)
                        child = child.input
                    if child is not node.input:
                        return node.with_inputs(child)
            return node

        return rewrite_up(plan, visit)
