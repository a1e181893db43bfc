"""Scheduling strategies of tasks and actors (Ray's ``ray.util.scheduling_strategies`` names).

The local runtime is one node: node affinity to this node's id (or a soft one to
any id) and label constraints this node's labels meet are honoured; a hard
constraint no node here meets fails when the task or actor is submitted, with an
error naming the strategy.

Example:
    >>> import streamdata as sd
    >>> here = sd.get_runtime_context().get_node_id()
    >>> @sd.remote
    ... def where():
    ...     return sd.get_runtime_context().get_node_id()
    >>> strategy = NodeAffinitySchedulingStrategy(node_id=here, soft=False)
    >>> sd.get(where.options(scheduling_strategy=strategy).remote()) == here
    True
"""

from __future__ import annotations

from typing import Any

from streamdata.core.placement_group import PlacementGroupSchedulingStrategy
from streamdata.errors import InfeasibleResourceError

__all__ = [
    "PlacementGroupSchedulingStrategy", "NodeAffinitySchedulingStrategy", "NodeLabelSchedulingStrategy",
    "In", "NotIn", "Exists", "DoesNotExist", "SchedulingStrategyT",
]


class NodeAffinitySchedulingStrategy:
    """Run on the node ``node_id``; with ``soft=True`` anywhere if that node cannot.

    Args:
        node_id: the node's hex id (``get_runtime_context().get_node_id()``).
        soft: whether another node may run it when ``node_id`` is not there.
    """

    def __init__(self, node_id: str, soft: bool, _spill_on_unavailable: bool = False,
                 _fail_on_unavailable: bool = False) -> None:
        if not isinstance(node_id, str):
            raise TypeError(f"NodeAffinitySchedulingStrategy(node_id=...) must be a hex str, got "
                            f"{type(node_id).__name__}")
        if not isinstance(soft, bool):
            raise TypeError(f"NodeAffinitySchedulingStrategy(soft=...) must be a bool, got {soft!r}")
        self.node_id = node_id
        self.soft = soft
        self._spill_on_unavailable = _spill_on_unavailable
        self._fail_on_unavailable = _fail_on_unavailable

    def check_node(self, node_id: str, labels: dict[str, str]) -> None:
        """Raise ``InfeasibleResourceError`` if a node with ``node_id`` cannot run it."""
        if self.node_id != node_id and not self.soft:
            raise InfeasibleResourceError(
                f"scheduling_strategy=NodeAffinitySchedulingStrategy(node_id={self.node_id!r}, soft=False): "
                f"no such node; the local runtime has one node, {node_id!r} (pass soft=True to run anywhere)")

    def __repr__(self) -> str:
        return f"NodeAffinitySchedulingStrategy(node_id={self.node_id!r}, soft={self.soft})"


class _LabelOperator:
    """One label constraint: ``In("a", "b")``, ``NotIn(...)``, ``Exists()``, ``DoesNotExist()``."""

    def __init__(self, *values: str) -> None:
        for value in values:
            if not isinstance(value, str):
                raise TypeError(f"{type(self).__name__}(...) takes str values, got {value!r}")
        self.values = list(values)

    def matches(self, value: str | None) -> bool:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(map(repr, self.values))})"


class In(_LabelOperator):
    """The label's value is one of ``values``."""

    def __init__(self, *values: str) -> None:
        if not values:
            raise ValueError("In(...) needs at least one value")
        super().__init__(*values)

    def matches(self, value: str | None) -> bool:
        return value in self.values


class NotIn(_LabelOperator):
    """The label is absent or its value is none of ``values``."""

    def __init__(self, *values: str) -> None:
        if not values:
            raise ValueError("NotIn(...) needs at least one value")
        super().__init__(*values)

    def matches(self, value: str | None) -> bool:
        return value not in self.values


class Exists(_LabelOperator):
    """The node has the label."""

    def __init__(self) -> None:
        super().__init__()

    def matches(self, value: str | None) -> bool:
        return value is not None


class DoesNotExist(_LabelOperator):
    """The node has not the label."""

    def __init__(self) -> None:
        super().__init__()

    def matches(self, value: str | None) -> bool:
        return value is None


def _check_constraints(what: str, constraints: Any) -> dict[str, _LabelOperator]:
    if constraints is None:
        return {}
    if not isinstance(constraints, dict):
        raise TypeError(f"NodeLabelSchedulingStrategy({what}=...) must be a dict of label -> In/NotIn/Exists/"
                        f"DoesNotExist, got {type(constraints).__name__}")
    for key, op in constraints.items():
        if not isinstance(key, str) or not isinstance(op, _LabelOperator):
            raise TypeError(f"NodeLabelSchedulingStrategy({what}=...): {key!r}: {op!r} is not a str label "
                            "and an In/NotIn/Exists/DoesNotExist")
    return dict(constraints)


class NodeLabelSchedulingStrategy:
    """Run on a node whose labels meet ``hard`` (and preferably ``soft``).

    Args:
        hard: label -> constraint that the node must meet.
        soft: label -> constraint preferred (a preference: never fails here).
    """

    def __init__(self, hard: dict[str, _LabelOperator], *, soft: dict[str, _LabelOperator] | None = None) -> None:
        self.hard = _check_constraints("hard", hard)
        self.soft = _check_constraints("soft", soft)
        if not self.hard and not self.soft:
            raise ValueError("NodeLabelSchedulingStrategy needs a hard or a soft constraint")

    def check_node(self, node_id: str, labels: dict[str, str]) -> None:
        """Raise ``InfeasibleResourceError`` if a node with ``labels`` does not meet ``hard``."""
        unmet = {k: op for k, op in self.hard.items() if not op.matches(labels.get(k))}
        if unmet:
            raise InfeasibleResourceError(
                f"scheduling_strategy=NodeLabelSchedulingStrategy(hard={unmet!r}): the local runtime's node "
                f"has labels {labels!r}, which do not meet it")

    def __repr__(self) -> str:
        return f"NodeLabelSchedulingStrategy(hard={self.hard!r}, soft={self.soft!r})"


#: what ``scheduling_strategy=`` accepts
SchedulingStrategyT = Any
