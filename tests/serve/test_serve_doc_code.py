"""What the ``serve`` probe's wider run of Ray Serve's ``doc_code/`` files found missing
(docs/ray_docs_probe/serve.py): replica ranks (``replica_rank.py``: ``serve.get_replica_context()``'s
``rank`` as a ``serve.schema.ReplicaRank`` and ``world_size``, and ``reconfigure(user_config, rank)``),
and an autoscaling policy given as ``{"name": "module:fn"}`` (``custom_metrics_autoscaling.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from streamdata import serve
from streamdata.serve.schema import ReplicaRank

from _serve_util import wait_until

NO_CPU = {"num_cpus": 0}


def _ranks_seen(handle: Any, want: int) -> dict[int, Any]:
    """Call the deployment until ``want`` different ranks answered (poll with a deadline)."""
    seen: dict[int, Any] = {}

    def all_seen() -> bool:
        reply = handle.remote().result(timeout_s=30)
        seen[reply["rank"]] = reply
        return len(seen) >= want

    wait_until(all_seen, timeout=60, what=f"{want} replica ranks")
    return seen


def test_replica_context_rank_and_world_size(serve_no_proxy: None) -> None:
    @serve.deployment(num_replicas=3, ray_actor_options=NO_CPU)
    class Shard:
        def __call__(self) -> dict[str, Any]:
            ctx = serve.get_replica_context()
            return {"rank": ctx.rank.rank, "is_rank": isinstance(ctx.rank, ReplicaRank),
                    "local_rank": ctx.rank.local_rank, "node_rank": ctx.rank.node_rank,
                    "world_size": ctx.world_size}

    handle = serve.run(Shard.bind(), name="ranks", route_prefix=None)
    seen = _ranks_seen(handle, 3)
    assert sorted(seen) == [0, 1, 2]
    for rank, reply in seen.items():
        assert reply == {"rank": rank, "is_rank": True, "local_rank": rank, "node_rank": 0, "world_size": 3}
    serve.delete("ranks")


def test_reconfigure_gets_the_rank_when_it_takes_one(serve_no_proxy: None) -> None:
    @serve.deployment(num_replicas=2, user_config={"name": "model_v1"}, ray_actor_options=NO_CPU)
    class RankAware:
        def __init__(self) -> None:
            self.rank = self.model = None
            self.ctor_rank = serve.get_replica_context().rank.rank

        async def reconfigure(self, user_config: Any, rank: ReplicaRank) -> None:
            self.rank, self.model = rank.rank, user_config["name"]

        def __call__(self) -> dict[str, Any]:
            return {"rank": self.rank, "ctor_rank": self.ctor_rank, "model": self.model}

    handle = serve.run(RankAware.bind(), name="rank_reconfigure", route_prefix=None)
    seen = _ranks_seen(handle, 2)
    assert seen == {r: {"rank": r, "ctor_rank": r, "model": "model_v1"} for r in (0, 1)}
    serve.delete("rank_reconfigure")


def test_rank_of_a_replaced_replica_is_reused(serve_no_proxy: None) -> None:
    @serve.deployment(num_replicas=2, ray_actor_options=NO_CPU)
    class Two:
        def __call__(self) -> dict[str, Any]:
            return {"rank": serve.get_replica_context().rank.rank}

    handle = serve.run(Two.bind(), name="rank_reuse", route_prefix=None)
    assert sorted(_ranks_seen(handle, 2)) == [0, 1]
    handle = serve.run(Two.options(num_replicas=1).bind(), name="rank_reuse", route_prefix=None)
    handle = serve.run(Two.options(num_replicas=2).bind(), name="rank_reuse", route_prefix=None)
    assert sorted(_ranks_seen(handle, 2)) == [0, 1]
    serve.delete("rank_reuse")


def test_autoscaling_policy_by_its_older_key_name() -> None:
    @serve.deployment(autoscaling_config={"min_replicas": 1, "max_replicas": 5,
                                          "policy": {"name": "math:floor"}})
    def f() -> None:
        return None

    assert f.config.autoscaling_config.policy.policy_function == "math:floor"
    with pytest.raises(ValueError, match="not both"):
        serve.deployment(autoscaling_config={"min_replicas": 1, "max_replicas": 2, "policy": {
            "name": "math:floor", "policy_function": "math:ceil"}})(f.func_or_class)


def test_serve_metrics_counter_in_a_replica(serve_no_proxy: None) -> None:
    from streamdata.serve import metrics

    @serve.deployment(ray_actor_options=NO_CPU)
    class Counted:
        def __init__(self) -> None:
            self.counter = metrics.Counter("doc_code_counter", description="odd requests", tag_keys=("model",))
            self.counter.set_default_tags({"model": "123"})

        def __call__(self) -> dict[str, str]:
            self.counter.inc()
            return dict(self.counter._default_tags)

    tags = serve.run(Counted.bind(), name="metrics_app", route_prefix=None).remote().result(timeout_s=30)
    assert tags["model"] == "123"
    assert (tags["deployment"], tags["application"]) == ("Counted", "metrics_app")
    assert tags["replica"]
    with pytest.raises(ValueError, match="set by serve"):
        metrics.Gauge("g", tag_keys=("replica",))
    serve.delete("metrics_app")
