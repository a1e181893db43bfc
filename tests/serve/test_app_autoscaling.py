"""Application-level autoscaling policies (Ray Serve's application ``autoscaling_policy``):
the decision (:class:`ApplicationScaler`) as pure unit tests with no processes, then one
application of real replicas scaled by one policy over two of its deployments."""

from __future__ import annotations

from typing import Any

import pytest

from streamdata import serve
from streamdata.serve.app_autoscaling import (
    ApplicationScaler,
    DeploymentLoad,
    check_application_policy,
    coerce_application_policy,
)
from streamdata.serve.config import AutoscalingConfig, AutoscalingContext, AutoscalingPolicy, DeploymentID
from streamdata.serve.context import ReplicaID

PRE, MODEL = DeploymentID("Pre", "app"), DeploymentID("Model", "app")
NO_CPU = {"num_cpus": 0}
AT_ONCE = {"upscale_delay_s": 0, "downscale_delay_s": 0}


def loads(pre_load: float = 0, model_load: float = 0, pre_target: int = 1, model_target: int = 1,
          current: int = 1) -> list[DeploymentLoad]:
    """Both deployments' loads, with no up/down delays (so a decision acts at once)."""
    return [DeploymentLoad(deployment_id=PRE, config=AutoscalingConfig(min_replicas=1, max_replicas=10, **AT_ONCE),
                           current=current, target=pre_target, load=pre_load, running=("0-a",)),
            DeploymentLoad(deployment_id=MODEL, config=AutoscalingConfig(min_replicas=2, max_replicas=20, **AT_ONCE),
                           current=current, target=model_target, load=model_load)]


# ---------------------------------------------------------------- the decision (no processes)
def test_one_policy_decides_for_every_deployment_from_their_contexts() -> None:
    seen: list[dict[DeploymentID, AutoscalingContext]] = []

    def coordinated(contexts: dict[DeploymentID, AutoscalingContext]) -> tuple[dict, dict]:
        seen.append(contexts)
        pre = max(1, int(contexts[PRE].total_num_requests // 10))
        return {PRE: pre, MODEL: pre * 2}, {}

    scaler = ApplicationScaler(coordinated, "app")
    assert scaler.decide(now=5.0, loads=loads(pre_load=40)) == {PRE: 4, MODEL: 8}
    ctx = seen[0][PRE]
    assert (ctx.deployment_name, ctx.app_name, ctx.current_num_replicas, ctx.target_num_replicas,
            ctx.total_num_requests, ctx.running_replicas, ctx.capacity_adjusted_min_replicas,
            ctx.capacity_adjusted_max_replicas, ctx.current_time) == (
        "Pre", "app", 1, 1, 40, [ReplicaID("0-a", PRE)], 1, 10, 5.0)
    assert seen[0][MODEL].capacity_adjusted_min_replicas == 2
    # bounded per deployment: Pre's max is 10, Model's min is 2
    assert scaler.decide(now=6.0, loads=loads(pre_load=500)) == {PRE: 10, MODEL: 20}
    assert scaler.decide(now=7.0, loads=loads(pre_load=0)) == {PRE: 1, MODEL: 2}
    assert seen[-1][PRE].last_scale_up_time == 6.0 and seen[-1][MODEL].last_scale_up_time == 6.0


def test_names_work_as_keys_floats_round_up_and_a_deployment_left_out_keeps_its_target() -> None:
    scaler = ApplicationScaler(lambda contexts: ({"Pre": 2.2}, None), "app")
    assert scaler.decide(now=0.0, loads=loads(model_target=7)) == {PRE: 3, MODEL: 7}
    only = ApplicationScaler(lambda contexts: {MODEL: 4}, "app")  # decisions alone, no state
    assert only.decide(now=0.0, loads=loads(pre_target=5)) == {PRE: 5, MODEL: 4}
    assert ApplicationScaler(lambda contexts: ({}, {}), "app").decide(now=0.0, loads=[]) == {}


def test_each_deployment_gets_its_own_policy_state_back() -> None:
    def counting(contexts: dict[DeploymentID, AutoscalingContext]) -> tuple[dict, dict]:
        state = {i: {"calls": c.policy_state.get("calls", 0) + 1} for i, c in contexts.items()}
        state[MODEL]["model_only"] = True
        return {i: s["calls"] + 1 for i, s in state.items()}, state

    scaler = ApplicationScaler(AutoscalingPolicy(policy_function=counting), "app")
    assert scaler.decide(now=0.0, loads=loads()) == {PRE: 2, MODEL: 2}
    assert scaler.decide(now=1.0, loads=loads()) == {PRE: 3, MODEL: 3}
    assert scaler.state == {PRE: {"calls": 2}, MODEL: {"calls": 2, "model_only": True}}
    forgetful = ApplicationScaler(lambda contexts: ({}, None), "app")
    forgetful.state = {PRE: {"calls": 9}}
    forgetful.decide(now=0.0, loads=loads())
    assert forgetful.state == {}  # None: every deployment's state is empty next time


class ClassPolicy:
    """A class-based policy: built once with policy_kwargs, then called at every look."""

    built = 0

    def __init__(self, replicas: int) -> None:
        ClassPolicy.built += 1
        self.replicas = replicas

    def __call__(self, contexts: dict[DeploymentID, AutoscalingContext]) -> tuple[dict, dict]:
        return {i: self.replicas for i in contexts}, {}


def test_the_policy_may_be_an_import_path_a_dict_or_a_class() -> None:
    by_path = ApplicationScaler({"policy_function": f"{__name__}:ClassPolicy", "policy_kwargs": {"replicas": 3}},
                                "app")
    assert by_path.decide(now=0.0, loads=loads()) == {PRE: 3, MODEL: 3}
    by_path.decide(now=1.0, loads=loads())
    assert ClassPolicy.built == 1
    assert coerce_application_policy(f"{__name__}:ClassPolicy").policy_function == f"{__name__}:ClassPolicy"
    assert coerce_application_policy(None) is None


def test_bad_policies_and_bad_answers_say_what_is_wrong() -> None:
    with pytest.raises(TypeError, match="autoscaling_policy must be a function"):
        coerce_application_policy(42)
    with pytest.raises(ValueError, match="needs a policy_function"):
        coerce_application_policy(AutoscalingPolicy())
    with pytest.raises(ValueError, match=r"unknown autoscaling_policy key\(s\) \['function'\]"):
        coerce_application_policy({"function": "m:f"})
    with pytest.raises(ModuleNotFoundError):
        ApplicationScaler("no_such_module_here:policy", "app")
    cases = [
        (lambda c: ({DeploymentID("Driver", "app"): 2}, {}), ValueError,
         r"returned a decision for .*'Driver'.*not one of its autoscaling deployments \['Model', 'Pre'\]"),
        (lambda c: ({"Pre": "many"}, {}), TypeError, r"decided 'many' replicas for 'Pre'"),
        (lambda c: ({"Pre": -1}, {}), TypeError, "must be a number >= 0"),
        (lambda c: 3, TypeError, r"returned 3; it must return \(decisions, policy_state\)"),
        (lambda c: ({}, {"Pre": 5}), TypeError, "each deployment's state must be a dict"),
        (lambda c: ({}, {DeploymentID("Pre", "other_app"): {}}), ValueError, "returned a policy_state for"),
    ]
    for policy, error, match in cases:
        with pytest.raises(error, match=match):
            ApplicationScaler(policy, "app").decide(now=0.0, loads=loads())


def test_an_application_without_autoscaling_deployments_is_refused_before_deploying() -> None:
    check_application_policy("app", {"Driver": None, "Pre": AutoscalingConfig()})
    with pytest.raises(ValueError, match=r"no deployment of application 'fixed' has an autoscaling_config, .*"
                                         r"its deployments: \['Fixed'\]"):
        serve.run(serve.deployment(lambda: "ok", name="Fixed").bind(), name="fixed",
                  autoscaling_policy=lambda contexts: ({}, {}))


# ---------------------------------------------------------------- real replicas


def model_policy_of_its_own(ctx: AutoscalingContext) -> int:
    return 1  # never used: the application's policy takes precedence


def staged_policy(contexts: dict[DeploymentID, AutoscalingContext]) -> tuple[dict, dict]:
    """Pre: 2 replicas; Model: 1 + the looks counted in its policy_state (so it reaches its
    max, 3, only if the state comes back)."""
    decisions, state = {}, {}
    for deployment_id, ctx in contexts.items():
        looks = ctx.policy_state.get("looks", 0) + 1
        state[deployment_id] = {"looks": looks}
        decisions[deployment_id] = 2 if deployment_id.name == "Pre" else 1 + looks
    return decisions, state


@serve.deployment(ray_actor_options=NO_CPU, autoscaling_config={"min_replicas": 1, "max_replicas": 2, **AT_ONCE})
class Pre:
    def __call__(self, x: str) -> str:
        return f"pre({x})"


@serve.deployment(ray_actor_options=NO_CPU, autoscaling_config={
    "min_replicas": 1, "max_replicas": 3, **AT_ONCE, "policy": {"policy_function": model_policy_of_its_own}})
class Model:
    def __call__(self, x: str) -> str:
        return f"model({x})"


@serve.deployment(ray_actor_options=NO_CPU)
class Driver:
    def __init__(self, pre: Any, model: Any) -> None:
        self.pre, self.model = pre, model

    async def __call__(self, x: str) -> str:
        return await self.model.remote(await self.pre.remote(x))


def test_one_policy_scales_two_deployments_of_a_running_application(serve_no_proxy: None) -> None:
    from _serve_util import wait_until

    handle = serve.run(Driver.bind(Pre.bind(), Model.bind()), name="coordinated", route_prefix=None,
                       autoscaling_policy=staged_policy)

    def replicas() -> dict[str, int]:
        deployments = serve.status().applications["coordinated"].deployments
        return {name: d.replica_states.get("RUNNING", 0) for name, d in deployments.items()}

    wait_until(lambda: replicas() == {"Driver": 1, "Pre": 2, "Model": 3}, timeout=60,
               what=lambda: f"Pre at 2 and Model at 3 replicas, Driver at 1; now {replicas()}")
    assert handle.remote("x").result(timeout_s=60) == "model(pre(x))"

    def failing(contexts: dict) -> Any:
        raise RuntimeError("metrics backend down")

    serve.run(Pre.bind(), name="failing", route_prefix=None, autoscaling_policy=failing)
    wait_until(lambda: "metrics backend down" in serve.status().applications["failing"].message, timeout=60,
               what="the policy's error in the application's status message")
    assert serve.status().applications["failing"].deployments["Pre"].replica_states == {"RUNNING": 1}
    serve.delete("failing")
    serve.delete("coordinated")
