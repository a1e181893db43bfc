"""Deployment-scoped actors (Ray Serve's ``DeploymentActorConfig``, ``serve.get_deployment_actor``):
the config's checks (no processes), then through real replica and actor processes: started
before the replicas and shared by them, kept by a config-only redeploy, replaced by a new
code version, started again when killed, gone with the application, and the errors for a
name the deployment does not declare and for a call outside a replica."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

import streamdata as sd
from streamdata import serve
from streamdata.errors import RayServeException
from streamdata.serve.config import DeploymentActorConfig
from streamdata.serve.deployment_actors import deployment_actor_name, parse_deployment_actor_name

NO_CPU = {"num_cpus": 0}


# ---------------------------------------------------------------- the config (no processes)
class Plain:
    def __init__(self, start: int = 0) -> None:
        self.value = start


def test_config_is_checked_and_names_what_is_wrong() -> None:
    cfg = DeploymentActorConfig.from_value({"name": "c", "actor_class": Plain, "init_args": [1]})
    assert cfg.init_args == (1,) and cfg.init_kwargs == {} and cfg.actor_options == {}
    with pytest.raises(ValueError, match="non-empty string"):
        DeploymentActorConfig(name="", actor_class=Plain)
    with pytest.raises(TypeError, match="must be an @sd.remote class"):
        DeploymentActorConfig(name="c", actor_class=42)
    with pytest.raises(ValueError, match="import path"):
        DeploymentActorConfig(name="c", actor_class="no_module_here")
    with pytest.raises(ValueError, match=r"sets \['lifetime', 'name'\]"):
        DeploymentActorConfig(name="c", actor_class=Plain, actor_options={"name": "x", "lifetime": "detached"})
    with pytest.raises(ValueError, match="unknown DeploymentActorConfig field"):
        DeploymentActorConfig.from_value({"name": "c", "actor_class": Plain, "kwargs": {}})
    with pytest.raises(ValueError, match=r"'D' declares the deployment actor name\(s\) \['c'\] more than once"):
        serve.deployment(name="D", deployment_actors=[cfg, {"name": "c", "actor_class": Plain}])(Plain)
    with pytest.raises(ImportError, match="cannot be imported"):
        DeploymentActorConfig(name="c", actor_class="collections:Nope").remote_class()


def test_deployment_and_options_take_deployment_actors() -> None:
    cfg = DeploymentActorConfig(name="c", actor_class=Plain)
    d = serve.deployment(deployment_actors=[cfg])(Plain)
    assert d.config.deployment_actors == (cfg,)
    assert d.options(deployment_actors=None).config.deployment_actors == ()
    assert d.options(num_replicas=2).config.deployment_actors == (cfg,)


def test_names_carry_the_deployment_and_its_version() -> None:
    name = deployment_actor_name("my#app", "Model", "f" * 40, "counter")
    ctx = parse_deployment_actor_name(name)
    assert ctx is not None and (ctx.app_name, ctx.deployment, ctx.actor_name) == ("my#app", "Model", "counter")
    assert parse_deployment_actor_name("SERVE_REPLICA::app#Model#1") is None


def test_outside_a_replica_says_so() -> None:
    with pytest.raises(RayServeException, match=r"get_deployment_actor\('counter'\) may only be called from within "
                                                "a replica"):
        serve.get_deployment_actor("counter")
    with pytest.raises(RayServeException, match="deployment actor"):
        serve.get_deployment_actor_context()


# ---------------------------------------------------------------- through real processes
@pytest.fixture(scope="module", autouse=True)
def runtime() -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    serve.start(http_options={"port": 0}, proxy_location="Disabled")
    yield
    serve.shutdown()
    sd.shutdown()


@pytest.fixture(autouse=True)
def clean_apps() -> Iterator[None]:
    yield
    for name in list(serve.status().applications):
        serve.delete(name)


@sd.remote
class Counter:
    def __init__(self, start: int = 0) -> None:
        self.value = start
        self.pid = os.getpid()

    def increment(self) -> int:
        self.value += 1
        return self.value

    def who(self) -> tuple[str, str, str, str]:
        """Its context, and its runtime name (what sd.get_actor takes)."""
        ctx = serve.get_deployment_actor_context()
        return (ctx.app_name, ctx.deployment, ctx.actor_name,
                deployment_actor_name(ctx.app_name, ctx.deployment, ctx.code_version or "", ctx.actor_name))


def counter_config(start: int = 0) -> DeploymentActorConfig:
    return DeploymentActorConfig(name="counter", actor_class=Counter, init_kwargs={"start": start},
                                 actor_options=NO_CPU)


class Shared:
    def __init__(self) -> None:
        # the actor runs before any replica: its constructor can call it at once
        self.first = sd.get(serve.get_deployment_actor("counter").increment.remote())

    async def __call__(self) -> tuple[int, int]:
        return os.getpid(), await serve.get_deployment_actor("counter").increment.remote()

    def who(self) -> tuple[str, str, str, str]:
        return sd.get(serve.get_deployment_actor("counter").who.remote())

    def lookup(self, name: str) -> Any:
        return serve.get_deployment_actor(name)


def shared(start: int = 0, **options: Any) -> Any:
    return serve.deployment(Shared, ray_actor_options=NO_CPU, deployment_actors=[counter_config(start)],
                            **options)


def _actor_gone(name: str) -> bool:
    try:
        sd.get_actor(name)
    except ValueError:
        return True
    return False


def test_one_actor_is_shared_by_the_replicas_and_knows_its_context() -> None:
    from _serve_util import wait_until

    handle = serve.run(shared(100, num_replicas=2).bind(), name="shared", route_prefix=None)
    app, deployment, actor, runtime_name = handle.who.remote().result(timeout_s=60)
    assert (app, deployment, actor) == ("shared", "Shared", "counter")
    assert runtime_name.startswith("SERVE_DEPLOYMENT_ACTOR::shared#Shared#") and runtime_name.endswith("#counter")
    seen: dict[int, list[int]] = {}

    def both_replicas_counted() -> bool:
        pid, value = handle.remote().result(timeout_s=60)
        seen.setdefault(pid, []).append(value)
        return len(seen) == 2

    wait_until(both_replicas_counted, what="calls served by both replicas")
    values = sorted(v for vs in seen.values() for v in vs)
    # the two constructors took 101 and 102; every call after counts on from there, in one actor
    assert values == list(range(103, 103 + len(values)))


def test_unknown_names_and_deployments_without_actors_get_clear_errors() -> None:
    handle = serve.run(shared().bind(), name="names", route_prefix=None)
    with pytest.raises(ValueError, match=r"deployment 'Shared' of application 'names' has no deployment actor "
                                         r"'countr'; its deployment actors: \['counter'\]"):
        handle.lookup.remote("countr").result(timeout_s=60)

    @serve.deployment(ray_actor_options=NO_CPU)
    class NoActors:
        def __call__(self) -> Any:
            return serve.get_deployment_actor("counter")

    with pytest.raises(ValueError, match=r"'NoActors' of application 'none' has no deployment actor 'counter'; "
                                         r"it declares none"):
        serve.run(NoActors.bind(), name="none", route_prefix=None).remote().result(timeout_s=60)


def test_config_only_redeploy_keeps_the_actor_and_new_code_replaces_it() -> None:
    handle = serve.run(shared(0).bind(), name="redeploy", route_prefix=None)
    old_name = handle.who.remote().result(timeout_s=60)[3]
    assert handle.remote().result(timeout_s=60)[1] == 2  # the constructor took 1
    # num_replicas only: same replicas' code version, same actor, its state kept
    handle = serve.run(shared(0, num_replicas=2).bind(), name="redeploy", route_prefix=None)
    assert handle.who.remote().result(timeout_s=60)[3] == old_name
    assert handle.remote().result(timeout_s=60)[1] == 4  # the second replica's constructor took 3
    # new constructor arguments of the actor: a new code version, a fresh actor, the old one gone
    handle = serve.run(shared(50).bind(), name="redeploy", route_prefix=None)
    new_name = handle.who.remote().result(timeout_s=60)[3]
    assert new_name != old_name and _actor_gone(old_name)
    assert handle.remote().result(timeout_s=60)[1] == 52
    serve.delete("redeploy")
    assert _actor_gone(new_name)


class CachedHandle:
    """Ray's documented pattern: a handle kept, taken again when its actor died."""

    def __init__(self) -> None:
        self.counter = serve.get_deployment_actor("counter")

    async def __call__(self) -> int:
        from streamdata.exceptions import RayActorError

        try:
            return await self.counter.increment.remote()
        except RayActorError:
            self.counter = serve.get_deployment_actor("counter")  # ValueError until the new one runs
            return await self.counter.increment.remote()

    def runtime_name(self) -> str:
        return sd.get(self.counter.who.remote())[3]


def test_a_killed_actor_is_started_again() -> None:
    from _serve_util import wait_until

    deployment = serve.deployment(CachedHandle, ray_actor_options=NO_CPU, health_check_period_s=0.1,
                                  deployment_actors=[counter_config(7)])
    handle = serve.run(deployment.bind(), name="restart", route_prefix=None)
    assert handle.remote().result(timeout_s=60) == 8
    sd.kill(sd.get_actor(handle.runtime_name.remote().result(timeout_s=60)))

    def fresh_counter() -> bool:
        return handle.remote().result(timeout_s=60) == 8  # the new actor starts from 7 again

    wait_until(fresh_counter, timeout=60, what="a new counter actor after the kill")
    assert serve.status().applications["restart"].status.value == "RUNNING"


@sd.remote
class Broken:
    def __init__(self) -> None:
        raise RuntimeError("no backend to connect to")


def test_an_actor_whose_constructor_fails_fails_the_deploy() -> None:
    deployment = serve.deployment(Shared, name="WithBroken", ray_actor_options=NO_CPU, max_constructor_retry_count=1,
                                  deployment_actors=[DeploymentActorConfig(name="broken", actor_class=Broken)])
    with pytest.raises(RuntimeError, match=r"deployment actor 'broken'(.|\n)*no backend to connect to"):
        serve.run(deployment.bind(), name="broken", route_prefix=None)
    app = serve.status().applications["broken"]
    assert app.status.value == "DEPLOY_FAILED" and app.deployments["WithBroken"].replica_states == {}
