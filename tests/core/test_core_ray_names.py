"""Ray's names for Core features work on the local runtime: exception aliases,
``get_or_create``, ObjectRef ids as bytes/hex, ``num_returns="dynamic"`` and generator
functions with a fixed ``num_returns``."""

from __future__ import annotations

import os

import pytest

import streamdata as sd
from streamdata import exceptions

RUNTIME_INIT = {"num_cpus": 2}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


class Boom(RuntimeError):
    pass


@sd.remote
def fail(msg: str) -> None:
    raise Boom(msg)


@sd.remote(max_restarts=0)
class Box:
    def __init__(self, value: str) -> None:
        self.value = value

    def read(self) -> str:
        return self.value

    def die(self) -> None:
        os._exit(1)


def test_ray_exception_names_catch_the_errors_get_raises() -> None:
    with pytest.raises(exceptions.RayTaskError) as info:
        sd.get(fail.remote("x1"))
    assert isinstance(info.value, Boom) and isinstance(info.value.cause, Boom)
    assert isinstance(info.value, exceptions.RayError)
    box = Box.remote("v")
    box.die.remote()
    with pytest.raises(exceptions.RayActorError):
        sd.get(box.read.remote(), timeout=60)
    assert issubclass(exceptions.ActorUnavailableError, exceptions.RayActorError)
    assert not issubclass(exceptions.RayTaskError, exceptions.RaySystemError)


def test_get_or_create_returns_the_named_actor_or_makes_it() -> None:
    first = Box.options(name="names-box").get_or_create("made")
    again = Box.options(name="names-box").get_or_create("ignored")
    assert sd.get(again.read.remote()) == "made"
    assert sd.get(first.read.remote()) == "made"
    with pytest.raises(ValueError, match="needs a name"):
        Box.get_or_create("no name")


@sd.remote
def wait_on(hex_id: str) -> int:
    ref = sd.ObjectRef(bytes.fromhex(hex_id))
    ready, _ = sd.wait([ref], timeout=30)
    return sd.get(ready[0]) if ready else -1


def test_object_ref_id_round_trips_through_bytes_and_hex() -> None:
    ref = sd.put(41)
    assert sd.ObjectRef(ref.binary()) == ref
    assert sd.ObjectRef.from_hex(ref.hex()) == ref
    assert all(c in "0123456789abcdef" for c in ref.hex())
    assert sd.get(wait_on.remote(ref.hex())) == 41


@sd.remote(num_returns="dynamic")
def chunks(n: int, fail_at: int = -1):
    for i in range(n):
        if i == fail_at:
            raise Boom(f"at {i}")
        yield [i] * (i + 1)


@sd.remote
def total_len(gen: sd.DynamicObjectRefGenerator) -> int:
    return sum(len(sd.get(ref)) for ref in gen)


def test_dynamic_returns_one_ref_to_all_the_items() -> None:
    ref = chunks.remote(4)
    assert isinstance(ref, sd.ObjectRef)
    gen = sd.get(ref)
    assert isinstance(gen, sd.DynamicObjectRefGenerator) and len(gen) == 4
    assert [sd.get(r) for r in gen] == [[0], [1, 1], [2, 2, 2], [3, 3, 3, 3]]
    # passed to a task: the top-level ref is resolved to the generator, as Ray does
    assert sd.get(total_len.remote(ref)) == 10
    assert sd.get(total_len.remote(gen)) == 10


def test_dynamic_error_lands_in_the_last_ref() -> None:
    refs = list(sd.get(chunks.remote(5, fail_at=2)))
    assert len(refs) == 3
    assert sd.get(refs[:2]) == [[0], [1, 1]]
    with pytest.raises(Boom, match="at 2"):
        sd.get(refs[2])


@sd.remote(num_returns=3)
def three(fail_after: int = 99):
    for i in range(3):
        if i == fail_after:
            raise Boom(f"after {i}")
        yield i * 10


@sd.remote(num_returns=2)
def too_many():
    yield from range(3)


def test_generator_with_fixed_num_returns_gives_its_items() -> None:
    a, b, c = three.remote()
    assert sd.get([a, b, c]) == [0, 10, 20]
    a, b, c = three.remote(fail_after=1)
    assert sd.get(a) == 0
    for ref in (b, c):
        with pytest.raises(Boom, match="after 1"):
            sd.get(ref)
    x, y = too_many.remote()
    with pytest.raises(ValueError, match="num_returns=2 .*yielded more"):
        sd.get(x)


@sd.remote
class Gen:
    @sd.method(num_returns=2)
    def pair(self):
        yield "l"
        yield "r"


def test_actor_generator_method_with_fixed_num_returns() -> None:
    left, right = Gen.remote().pair.remote()
    assert sd.get([left, right]) == ["l", "r"]


@sd.remote(num_cpus=1)
def child_group() -> str | None:
    return sd.get_runtime_context().get_placement_group_id()


@sd.remote(num_cpus=1)
def parent_group() -> tuple:
    ctx = sd.get_runtime_context()
    return ctx.get_placement_group_id(), ctx.should_capture_child_tasks_in_placement_group(), \
        sd.get(child_group.remote(), timeout=60)


def test_placement_group_captures_child_tasks_only_when_asked() -> None:
    from streamdata.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    pg = sd.placement_group([{"CPU": 2}])
    sd.get(pg.ready(), timeout=60)
    try:
        # the group holds both CPUs: a child outside it could never start
        captured = parent_group.options(scheduling_strategy=PlacementGroupSchedulingStrategy(
            placement_group=pg, placement_group_capture_child_tasks=True)).remote()
        assert sd.get(captured, timeout=60) == (pg.id, True, pg.id)
        plain = parent_group.options(scheduling_strategy=PlacementGroupSchedulingStrategy(
            placement_group=pg)).remote()
        with pytest.raises(exceptions.GetTimeoutError):
            sd.get(plain, timeout=3)
        sd.cancel(plain, force=True)
    finally:
        sd.remove_placement_group(pg)


def test_runtime_env_class_is_a_runtime_env_dict() -> None:
    from streamdata.runtime_env import RuntimeEnv

    env = RuntimeEnv(env_vars={"NAMES_FLAG": "on"})
    assert env == {"env_vars": {"NAMES_FLAG": "on"}}

    @sd.remote(runtime_env=env)
    def flag() -> str | None:
        return os.environ.get("NAMES_FLAG")

    assert sd.get(flag.remote()) == "on"
    ref = flag.options(runtime_env=RuntimeEnv(conda={"dependencies": ["x"]})).remote()
    with pytest.raises(sd.exceptions.RuntimeEnvSetupError, match="conda"):  # at get, as on Ray
        sd.get(ref)


@sd.remote
def call_pickled(blob: bytes, arg: int) -> int:
    return sd.cloudpickle.loads(blob)(arg)


def test_ray_cloudpickle_is_streamdatas_cloudpickle() -> None:
    """``ray.cloudpickle.dumps`` / ``loads`` (Ray's docs pickle functions and refs out of band
    with them): the same library under streamdata's name, usable in a worker too."""
    import cloudpickle

    offset = 40
    blob = sd.cloudpickle.dumps(lambda x: x + offset)
    assert sd.get(call_pickled.remote(blob, 2)) == 42
    assert sd.cloudpickle.CloudPickler is cloudpickle.CloudPickler
    assert "cloudpickle" in dir(sd)
