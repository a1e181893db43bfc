"""``streamdata.util``'s scheduling strategies, placement-group look-ups and helpers on the local runtime."""

from __future__ import annotations

import io
import subprocess
import sys
import threading

import pytest

import streamdata as sd
import streamdata.util as util
from streamdata.errors import InfeasiblePlacementGroupError, InfeasibleResourceError
from streamdata.util.placement_group import (
    get_current_placement_group,
    get_placement_group,
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from streamdata.util.scheduling_strategies import (
    DoesNotExist,
    Exists,
    In,
    NodeAffinitySchedulingStrategy,
    NodeLabelSchedulingStrategy,
    NotIn,
    PlacementGroupSchedulingStrategy,
)

pytestmark = pytest.mark.usefixtures("runtime")

OTHER_NODE = "f" * 56


@sd.remote
def node_and_group():
    pg = get_current_placement_group()
    return (sd.get_runtime_context().get_node_id(), pg.id if pg else None,
            sd.get_runtime_context().get_placement_group_id())


@sd.remote
class Where:
    def group(self):
        pg = get_current_placement_group()
        return (pg.id, pg.bundle_specs) if pg else None


def test_the_strategies_are_the_runtimes() -> None:
    assert PlacementGroupSchedulingStrategy is sd.PlacementGroupSchedulingStrategy
    assert util.scheduling_strategies.NodeAffinitySchedulingStrategy is NodeAffinitySchedulingStrategy


def test_node_affinity_to_the_local_node_runs_and_another_fails_unless_soft() -> None:
    here = sd.get_runtime_context().get_node_id()
    hard = node_and_group.options(scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False))
    assert sd.get(hard.remote())[0] == here
    with pytest.raises(InfeasibleResourceError, match="NodeAffinitySchedulingStrategy.*no such node"):
        node_and_group.options(scheduling_strategy=NodeAffinitySchedulingStrategy(OTHER_NODE, soft=False)).remote()
    soft = node_and_group.options(scheduling_strategy=NodeAffinitySchedulingStrategy(OTHER_NODE, soft=True))
    assert sd.get(soft.remote())[0] == here
    with pytest.raises(InfeasibleResourceError, match="no such node"):
        Where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(OTHER_NODE, soft=False)).remote()


def test_node_labels_the_local_node_meets_run() -> None:
    here = sd.get_runtime_context().get_node_id()
    for hard in ({"ray.io/node-id": In(here)}, {"ray.io/node-id": Exists()}, {"zone": DoesNotExist()},
                 {"ray.io/node-id": NotIn(OTHER_NODE)}):
        strategy = NodeLabelSchedulingStrategy(hard)
        assert sd.get(node_and_group.options(scheduling_strategy=strategy).remote())[0] == here
    with pytest.raises(InfeasibleResourceError, match="NodeLabelSchedulingStrategy"):
        node_and_group.options(scheduling_strategy=NodeLabelSchedulingStrategy({"zone": In("us-1")})).remote()
    soft_only = NodeLabelSchedulingStrategy({}, soft={"zone": In("us-1")})  # a preference never fails
    assert sd.get(node_and_group.options(scheduling_strategy=soft_only).remote())[0] == here


def test_strategy_bad_input_names_the_argument() -> None:
    with pytest.raises(TypeError, match="node_id"):
        NodeAffinitySchedulingStrategy(3, soft=False)
    with pytest.raises(TypeError, match="soft"):
        NodeAffinitySchedulingStrategy("abc", soft="no")
    with pytest.raises(TypeError, match="hard"):
        NodeLabelSchedulingStrategy(["zone"])
    with pytest.raises(TypeError, match="zone"):
        NodeLabelSchedulingStrategy({"zone": "us-1"})
    with pytest.raises(ValueError, match="at least one value"):
        In()
    with pytest.raises(ValueError, match="scheduling_strategy"):
        node_and_group.options(scheduling_strategy="NEAREST").remote()


def test_current_placement_group_inside_tasks_and_actors() -> None:
    pg = placement_group([{"CPU": 1}], name="util-pg")
    assert sd.get(pg.ready(), timeout=30)
    assert get_current_placement_group() is None  # the driver
    strategy = PlacementGroupSchedulingStrategy(pg)
    _, group_id, context_id = sd.get(node_and_group.options(scheduling_strategy=strategy).remote())
    assert group_id == context_id == pg.id
    assert sd.get(node_and_group.remote())[1:] == (None, None)
    actor = Where.options(placement_group=pg).remote()
    assert sd.get(actor.group.remote()) == (pg.id, [{"CPU": 1.0}])
    assert get_placement_group("util-pg").id == pg.id
    assert get_placement_group("util-pg").bundle_specs == [{"CPU": 1.0}]
    table = placement_group_table()
    assert table[pg.id]["state"] == "CREATED" and table[pg.id]["name"] == "util-pg"
    assert placement_group_table(pg)["state"] == "CREATED"
    remove_placement_group(placement_group=pg)
    assert placement_group_table()[pg.id]["state"] == "REMOVED"
    with pytest.raises(ValueError, match="no placement group named 'util-pg'"):
        get_placement_group("util-pg")



@sd.remote
def current_group():
    return get_current_placement_group()


def test_the_group_a_task_gets_back_equals_the_drivers_handle() -> None:
    """Ray's get_current_placement_group docstring: ``ray.get(f.options(...).remote()) == pg``."""
    pg = placement_group([{"CPU": 1}])
    assert sd.get(pg.ready(), timeout=30)
    inside = sd.get(current_group.options(scheduling_strategy=PlacementGroupSchedulingStrategy(pg)).remote())
    assert inside == pg and hash(inside) == hash(pg) and len({inside, pg}) == 1
    assert inside != placement_group([{"CPU": 1}]) and inside != pg.id
    remove_placement_group(pg)

def test_placement_group_arguments() -> None:
    here = sd.get_runtime_context().get_node_id()
    pg = placement_group([{"CPU": 1}], strategy=None, lifetime="detached",
                         bundle_label_selector=[{"ray.io/node-id": here}])
    assert pg.strategy == "PACK" and not pg.is_empty and sd.get(pg.ready(), timeout=30)
    remove_placement_group(pg)
    with pytest.raises(InfeasiblePlacementGroupError, match="bundle 0 needs labels"):
        placement_group([{"CPU": 1}], bundle_label_selector=[{"zone": "us-1"}])
    with pytest.raises(ValueError, match="bundle_label_selector"):
        placement_group([{"CPU": 1}], bundle_label_selector=[{}, {}])
    with pytest.raises(NotImplementedError, match="topology_strategy"):
        placement_group([{"CPU": 1}], topology_strategy={"topology": "2x2"})
    with pytest.raises(ValueError, match="lifetime"):
        placement_group([{"CPU": 1}], lifetime="forever")
    with pytest.raises(TypeError, match="placement_group_name"):
        get_placement_group(None)
    with pytest.raises(TypeError, match="PlacementGroup"):
        placement_group_table("pg1")
    assert sd.PlacementGroup.empty().is_empty


@sd.remote
def square(x):
    return x * x


def test_as_completed_and_map_unordered() -> None:
    refs = [square.remote(i) for i in range(7)]
    assert sorted(util.as_completed(refs, chunk_size=3)) == [i * i for i in range(7)]
    assert set(util.as_completed(refs, yield_obj_refs=True)) == set(refs)
    assert sorted(util.map_unordered(square, iter(range(9)), backpressure_size=2, chunk_size=1)) == [
        i * i for i in range(9)]
    assert sorted(sd.get(list(util.map_unordered(square, range(3), yield_obj_refs=True)))) == [0, 1, 4]
    with pytest.raises(TypeError, match="refs"):
        list(util.as_completed(refs[0]))
    with pytest.raises(TypeError, match="chunk_size"):
        list(util.as_completed(refs, chunk_size=0.5))
    with pytest.raises(TypeError, match="remote function"):
        list(util.map_unordered(lambda x: x, [1]))
    with pytest.raises(ValueError, match="backpressure_size"):
        list(util.map_unordered(square, [1], backpressure_size=0))


@sd.remote
class Named:
    def ping(self):
        return True


def test_list_named_actors_and_node_address() -> None:
    actor = Named.options(name="util-named").remote()
    assert sd.get(actor.ping.remote())
    assert "util-named" in util.list_named_actors()
    namespace = sd.get_runtime_context().namespace
    assert {"name": "util-named", "namespace": namespace} in util.list_named_actors(all_namespaces=True)
    sd.kill(actor)
    with pytest.raises(TypeError, match="all_namespaces"):
        util.list_named_actors("yes")
    assert util.get_node_ip_address() == "127.0.0.1"
    assert util.get_node_instance_id() == ""


def test_inspect_serializability_finds_the_member_at_fault() -> None:
    lock = threading.Lock()

    class Holder:
        def __init__(self):
            self.ok = [1, 2]
            self.lock = lock

    out = io.StringIO()
    ok, failures = util.inspect_serializability(Holder(), name="holder", print_file=out)
    assert not ok and [f.name for f in failures] == ["lock"]
    assert "NOT serializable" in out.getvalue()
    assert util.inspect_serializability({"a": 1}, print_file=None) == (True, set())
    with pytest.raises(ValueError, match="depth"):
        util.inspect_serializability(1, depth=0)


def test_log_once() -> None:
    assert util.log_once("util-test-key") and not util.log_once("util-test-key")
    util.enable_periodic_logging()
    assert util.log_once("util-test-key")


def test_import_is_lazy_and_unknown_names_are_attribute_errors() -> None:
    code = ("import sys, streamdata.util as u; "
            "assert not any(m in sys.modules for m in ('streamdata.util.queue', 'streamdata.util.actor_pool', "
            "'streamdata.util.multiprocessing')), sorted(sys.modules); "
            "from streamdata.util.placement_group import placement_group; "
            "assert u.placement_group is placement_group; "
            "import streamdata as sd; assert sd.util is u and sd.util.ActorPool.__name__ == 'ActorPool'; "
            "print('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "ok"
    assert not hasattr(util, "no_such_name")
    assert "ActorPool" in dir(util)


class Unpicklable:
    def __init__(self, value):
        self.value = value
        self.lock = threading.Lock()


@sd.remote
def value_of(obj):
    return obj.value, type(obj.lock).__name__


def test_register_serializer_reaches_tasks() -> None:
    with pytest.raises(TypeError, match="pickle"):
        sd.put(Unpicklable(1))
    util.register_serializer(Unpicklable, serializer=lambda o: o.value, deserializer=Unpicklable)
    try:
        assert sd.get(value_of.remote(Unpicklable(5))) == (5, "lock")
        assert sd.get(sd.put(Unpicklable(6))).value == 6
    finally:
        util.deregister_serializer(Unpicklable)
    with pytest.raises(TypeError, match="pickle"):
        sd.put(Unpicklable(1))
    with pytest.raises(TypeError, match="cls"):
        util.register_serializer("Unpicklable", serializer=str, deserializer=str)
    with pytest.raises(TypeError, match="deserializer"):
        util.register_serializer(Unpicklable, serializer=str, deserializer=None)
