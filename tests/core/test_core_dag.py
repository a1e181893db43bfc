"""The DAG API (``bind``/``execute``) on the local runtime: shared nodes run once per
execute, inputs are selected by key, bound actor calls keep their order."""

from __future__ import annotations

import pytest

import streamdata as sd
from streamdata.dag import InputNode, MultiOutputNode

RUNTIME_INIT = {"num_cpus": 2}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


@sd.remote
class Tally:
    def __init__(self, start: int) -> None:
        self.log = [start]

    def add(self, x: int) -> None:
        self.log.append(x)

    def seen(self) -> list:
        return list(self.log)


@sd.remote
def pair(a, b):
    return (a, b)


@sd.remote
def ident(x):
    return x


def test_a_shared_node_runs_once_per_execute() -> None:
    counter = Tally.remote(0)
    shared = counter.add.bind(1)  # each run of this node appends one entry
    dag = pair.bind(ident.bind(shared), ident.bind(shared))
    assert sd.get(dag.execute()) == (None, None)
    assert sd.get(counter.seen.remote()) == [0, 1]
    sd.get(dag.execute())
    assert sd.get(counter.seen.remote()) == [0, 1, 1]


def test_input_node_selects_by_key_position_and_name() -> None:
    with InputNode() as inp:
        by_key = MultiOutputNode([ident.bind(inp["a"]), ident.bind(inp["b"])])
    assert sd.get(by_key.execute({"a": 1, "b": 2})) == [1, 2]
    with InputNode() as inp:
        mixed = pair.bind(inp[0], inp.k)
    assert sd.get(mixed.execute(7, k=8)) == (7, 8)
    with pytest.raises(ValueError, match="InputNode"):
        mixed.execute()


def test_class_node_makes_a_fresh_actor_and_keeps_call_order() -> None:
    t = Tally.bind(10)
    t.add.bind(1)
    t.add.bind(2)
    dag = pair.bind(t.seen.bind(), [t.seen.bind()])  # a node nested in a list is resolved too
    first, nested = sd.get(dag.execute())
    assert first == [10, 1, 2]
    assert sd.get(nested[0]) == [10, 1, 2]
    again, _ = sd.get(dag.execute())
    assert again == [10, 1, 2]  # a new actor each run


def test_compile_and_bad_outputs_are_named() -> None:
    with pytest.raises(NotImplementedError, match="compiled graphs"):
        ident.bind(1).experimental_compile()
    with pytest.raises(TypeError, match="MultiOutputNode"):
        MultiOutputNode([1, 2])
