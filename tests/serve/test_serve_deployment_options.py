"""``@serve.deployment`` options beyond the basics, against real replica actors:
``init_args``/``init_kwargs``, ``max_constructor_retry_count`` (a failing constructor is
tried again, then the deployment is DEPLOY_FAILED with the error in ``serve.status()``),
and ``logging_config`` on deployments, ``serve.run`` and ``serve.start`` (level,
TEXT/JSON, ``logs_dir``, the access log), ``Deployment.set_logging_config``."""

from __future__ import annotations

import gc
import json
import logging
import os
from pathlib import Path
from typing import Iterator

import pytest

import streamdata as sd
from _serve_util import wait_until
from streamdata import serve
from streamdata.serve.schema import LoggingConfig

NO_CPU = {"num_cpus": 0}


@serve.deployment(ray_actor_options=NO_CPU)
class Model:
    def __init__(self, scale: int, *, offset: int = 0) -> None:
        self.scale, self.offset = scale, offset

    def __call__(self, x: int) -> int:
        return x * self.scale + self.offset


@serve.deployment(ray_actor_options=NO_CPU)
class Flaky:
    """Fails its first ``fail_times`` constructions (counted in a file)."""

    def __init__(self, counter: str, fail_times: int) -> None:
        with open(counter, "a") as f:
            f.write("x")
        tries = len(Path(counter).read_text())
        if tries <= fail_times:
            raise ValueError(f"constructor failure number {tries}")

    def __call__(self) -> str:
        return "up"


@serve.deployment(ray_actor_options={"num_cpus": 1}, placement_group_bundles=[{"CPU": 1}, {"CPU": 0.5}],
                  placement_group_strategy="STRICT_PACK")
class Placed:
    def __init__(self) -> None:
        self.at_start = sd.util.get_current_placement_group()

    def __call__(self) -> tuple:
        group = sd.util.get_current_placement_group()  # a task in its second bundle
        strategy = sd.util.scheduling_strategies.PlacementGroupSchedulingStrategy(group, 1)
        child = sd.get(_current_group.options(scheduling_strategy=strategy).remote())
        return self.at_start.id, self.at_start.bundle_specs, child


@sd.remote(num_cpus=0.5)
def _current_group() -> str | None:
    group = sd.util.get_current_placement_group()
    return None if group is None else group.id


@serve.deployment(ray_actor_options=NO_CPU)
class Chatty:
    def __call__(self, x: int) -> int:
        log = logging.getLogger("ray.serve")  # where Ray Serve programs log
        log.debug("debug line %s", x)
        log.info("info line %s", x)
        log.warning("warning line %s", x)
        return x


def test_init_args_logging_config_and_retry_count_options() -> None:
    assert (Model.init_args, Model.init_kwargs, Model.logging_config) == ((), {}, None)
    app = Model.bind(3, offset=1)
    assert (app.deployment.init_args, app.deployment.init_kwargs) == ((3,), {"offset": 1})
    assert Model.init_args == ()  # bind() leaves the deployment itself alone
    assert app.deployment.options(num_replicas=2).init_args == (3,)
    jsonish = Model.options(logging_config=LoggingConfig(encoding="JSON", log_level="DEBUG"))
    assert jsonish.logging_config["encoding"] == "JSON" and jsonish.logging_config["enable_access_log"] is True
    assert Model.options(logging_config={"logs_dir": "/tmp/x"}).logging_config["logs_dir"] == "/tmp/x"
    changed = Model.options()
    changed.set_logging_config({"log_level": "WARNING"})
    assert changed.logging_config["log_level"] == "WARNING" and Model.logging_config is None
    assert changed.bind(1).deployment.logging_config["log_level"] == "WARNING"
    assert Model.config.max_constructor_retry_count == 20  # Ray's default
    assert Model.options(max_constructor_retry_count=4).config.max_constructor_retry_count == 4
    with pytest.raises(ValueError, match="max_constructor_retry_count must be an int >= 1, got 0"):
        Model.options(max_constructor_retry_count=0)
    with pytest.raises(TypeError, match=r"unknown field\(s\) \['level'\]"):
        serve.deployment(logging_config={"level": "INFO"})(Model.func_or_class)
    with pytest.raises(ValueError, match="encoding='XML'"):
        Model.options(logging_config={"encoding": "XML"})
    with pytest.raises(ValueError, match="log_level='LOUD'"):
        changed.set_logging_config({"log_level": "LOUD"})
    with pytest.raises(TypeError, match="serve.run\\(logging_config\\)"):
        serve.run(Model.bind(1), logging_config=3)
    assert Model.options(request_router_config={}).config.request_router_config.is_default_request_router()
    assert Model.options(placement_group_bundles=[{"CPU": 1}]).config.placement_strategy() == "PACK"
    two = Model.options(placement_group_bundles=[{"CPU": 1}, {"CPU": 1}], placement_group_bundle_label_selector=[
        {"zone": "a"}])
    assert two.config.placement_group_bundle_label_selector == [{"zone": "a"}, {"zone": "a"}]  # one for all, as Ray
    with pytest.raises(ValueError, match="`placement_group_bundles` must also be provided"):
        Model.options(placement_group_strategy="SPREAD")
    with pytest.raises(ValueError, match="must fit in it: it asks CPU=1, the first bundle"):
        Model.options(ray_actor_options={"num_cpus": 1}, placement_group_bundles=[{"GPU": 1}, {"CPU": 4}])
    with pytest.raises(ValueError, match="strategy"):
        Model.options(placement_group_bundles=[{"CPU": 0.5}], placement_group_strategy="TIGHT")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("serve_logs")
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    serve.start(proxy_location="Disabled", logging_config={"encoding": "JSON", "logs_dir": str(directory / "system")})
    yield directory
    serve.shutdown()
    gc.collect()
    sd.shutdown()


def test_constructor_retries_then_deploy_failed(logs: Path, tmp_path: Path) -> None:
    counter = tmp_path / "tries"
    handle = serve.run(Flaky.options(max_constructor_retry_count=3).bind(str(counter), 2), name="flaky",
                       route_prefix=None)
    assert handle.remote().result(timeout_s=60) == "up" and len(counter.read_text()) == 3
    serve.delete("flaky")

    always = tmp_path / "always"
    with pytest.raises(RuntimeError, match="constructor failure number 2"):
        serve.run(Flaky.options(max_constructor_retry_count=2).bind(str(always), 99), name="broken",
                  route_prefix=None)
    assert len(always.read_text()) == 2  # tried exactly max_constructor_retry_count times
    status = serve.status().applications["broken"]
    assert status.status == "DEPLOY_FAILED" and "constructor failure number 2" in status.message
    deployment = status.deployments["Flaky"]
    assert deployment.status == "DEPLOY_FAILED" and "constructor failure number 2" in deployment.message

    capped = tmp_path / "capped"
    with pytest.raises(RuntimeError, match="constructor failure number 3"):
        serve.run(Flaky.options(max_constructor_retry_count=5).bind(str(capped), 99), name="capped",
                  route_prefix=None)
    assert len(capped.read_text()) == 3  # at most 3 tries per replica, as Ray
    serve.delete("broken")
    serve.delete("capped")


def _lines(directory: Path, prefix: str) -> list[str]:
    out: list[str] = []
    for path in sorted(directory.glob(f"{prefix}*.log")) if directory.is_dir() else []:
        out += path.read_text().splitlines()
    return out


def test_logging_config_in_the_replicas_logs(logs: Path) -> None:
    loud = logs / "loud"
    handle = serve.run(Chatty.options(logging_config=LoggingConfig(
        encoding="JSON", log_level="DEBUG", logs_dir=str(loud))).bind(), name="loud", route_prefix=None)
    response = handle.remote(7)
    assert response.result(timeout_s=60) == 7
    wait_until(lambda: any("OK" in line for line in _lines(loud, "replica_loud_Chatty")), 30, "the access log")
    records = [json.loads(line) for line in _lines(loud, "replica_loud_Chatty")]
    messages = {r["message"]: r for r in records}
    assert {"debug line 7", "info line 7", "warning line 7"} <= set(messages)
    assert messages["debug line 7"]["levelname"] == "DEBUG"
    assert messages["info line 7"]["deployment"] == "Chatty" and messages["info line 7"]["application"] == "loud"
    access = [r for r in records if r["message"].startswith("CALL __call__ OK")]
    assert len(access) == 1 and access[0]["request_id"] == response.request_id

    quiet = logs / "quiet"  # the application's config, for deployments that set none
    handle = serve.run(Chatty.bind(), name="quiet", route_prefix=None, logging_config={
        "log_level": "WARNING", "logs_dir": str(quiet), "enable_access_log": False})
    assert handle.remote(8).result(timeout_s=60) == 8
    wait_until(lambda: any("warning line 8" in line for line in _lines(quiet, "replica_quiet_Chatty")), 30)
    text = "\n".join(_lines(quiet, "replica_quiet_Chatty"))
    assert "WARNING" in text and "info line 8" not in text and "debug line 8" not in text
    assert "CALL __call__" not in text and not text.lstrip().startswith("{")  # TEXT, no access log

    system = [json.loads(line) for line in _lines(logs / "system", "controller_")]  # serve.start's config
    assert any(r["message"].startswith("serve controller started") for r in system)
    assert any("started" in r["message"] and "Chatty" in r["message"] for r in system)
    serve.delete("loud")
    serve.delete("quiet")
    assert os.listdir(loud)


def test_placement_group_bundles_reserved_per_replica(logs: Path) -> None:
    handle = serve.run(Placed.bind(), name="placed", route_prefix=None)
    group_id, bundles, child_group = handle.remote().result(timeout_s=60)
    assert bundles == [{"CPU": 1.0}, {"CPU": 0.5}] and child_group == group_id
    table = sd.util.placement_group_table()
    assert table[group_id]["strategy"] == "STRICT_PACK" and table[group_id]["state"] == "CREATED"
    serve.delete("placed")
    assert sd.util.placement_group_table()[group_id]["state"] == "REMOVED"  # released with its replica

    with pytest.raises(RuntimeError, match="cannot be reserved"):
        serve.run(Placed.options(placement_group_bundles=[{"CPU": 64}], max_constructor_retry_count=1).bind(),
                  name="too_big", route_prefix=None)
    status = serve.status().applications["too_big"]
    assert status.status == "DEPLOY_FAILED" and "placement_group_bundles=[{'CPU': 64.0}]" in status.message
    serve.delete("too_big")
