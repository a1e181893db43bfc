"""Lowering of the streaming nodes and in-memory inputs: ``InputData``, ``Limit``,
``Union``, ``Mix``, ``Zip``, ``StreamingSplit`` (one operator each).

Example:
    >>> from streamdata.context import DataContext
    >>> from streamdata.plan.cluster import ClusterInfo
    >>> from streamdata.plan.logical import InputData, LogicalPlan, Union
    >>> from streamdata.plan.lowering.lowerer import Lowerer
    >>> node = Union(inputs=(InputData(), InputData()))
    >>> type(lower_union(Lowerer(LogicalPlan(node), DataContext(), ClusterInfo(num_cpus=1)), node)).__name__
    'UnionOperator'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamdata.exec.interfaces import PhysicalOperator
from streamdata.exec.operators.input_data import InputDataOperator
from streamdata.exec.operators.limit import LimitOperator
from streamdata.exec.operators.output_splitter import OutputSplitterOperator
from streamdata.exec.operators.mix import MixOperator
from streamdata.exec.operators.union import UnionOperator
from streamdata.exec.operators.zip import ZipOperator
from streamdata.plan import logical as L

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.plan.lowering.walk import LoweringWalk


def lower_input_data(lowerer: LoweringWalk, node: L.InputData) -> PhysicalOperator:
    """Bundles already in the object store."""
    return InputDataOperator("InputData", bundles=list(node.bundles))


def lower_limit(lowerer: LoweringWalk, node: L.Limit) -> PhysicalOperator:
    """The first ``limit`` rows of its input."""
    return LimitOperator(node.limit, lowerer.lower(node.input))


def lower_union(lowerer: LoweringWalk, node: L.Union) -> PhysicalOperator:
    """Every input's blocks, in input order."""
    return UnionOperator([lowerer.lower(i) for i in node.inputs])


def lower_mix(lowerer: LoweringWalk, node: L.Mix) -> PhysicalOperator:
    """The inputs' blocks interleaved by weight."""
    return MixOperator([lowerer.lower(i) for i in node.inputs], node.weights,
                       stop_on_shortest=node.stop_on_shortest)


def lower_zip(lowerer: LoweringWalk, node: L.Zip) -> PhysicalOperator:
    """The inputs' columns side by side, row by row."""
    return ZipOperator(*(lowerer.lower(i) for i in node.inputs))


def lower_streaming_split(lowerer: LoweringWalk, node: L.StreamingSplit) -> PhysicalOperator:
    """``streaming_split``: an output splitter tagging each bundle with its split."""
    return OutputSplitterOperator(lowerer.lower(node.input), node.n, equal=node.equal)
