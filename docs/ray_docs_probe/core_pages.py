"""Ray Core's user-guide pages (``doc/source/ray-core/**.md``): their testcode / testoutput / doctest blocks.

Only inline code runs: blocks that ``literalinclude`` ``doc_code/*.py`` were probed as whole scripts
(docs/ray-compatibility-core.md). A testcode's stdout is checked against the ``{testoutput}`` after
it, as Sphinx does (``:options: +MOCK`` outputs are not compared, as in Ray's docs build).
"""

from probe.suite import Suite, main, manifest

D = "doc/source/ray-core/"
FILES = manifest("""  # local name, commit, path under D if not the same (the versions the 2026-12-07 probe read)
actors.md                   f0111c4d66924102e605e576c6d4c155f2330c08
named-actors.md             80bcd3d5c28ed01d126449c626d722825184475f actors/named-actors.md
terminating-actors.md       4ba59fe89cbf3eee8cac6c6f0fe6a306182434ef actors/terminating-actors.md
async_api.md                7cf44582c11b2516ad91162f618ba1f57f81ab06 actors/async_api.md
concurrency_group_api.md    15a98bbb7963163b4ea7f8914e952bc59c51305b actors/concurrency_group_api.md
task-orders.md              80bcd3d5c28ed01d126449c626d722825184475f actors/task-orders.md
objects.md                  682b7af3d4820b39a1cb0b5440dc3db9d2eab54b
serialization.md            17d4ad010636e30838d281785996a25335e5ba55 objects/serialization.md
object-spilling.md          4f5551f55540fdfcc68c864c84741c932d21daae objects/object-spilling.md
accelerators.md             00a08d05e9ec81068af33e9aa7a6b65ae934f3bf scheduling/accelerators.md
memory-management.md        8e0ebe4c0a46c977281f28ca9c5a3736857faccc scheduling/memory-management.md
handling-dependencies.md    222c533775483de974495ea23b39aa0cf3a6b7ed
starting-ray.md             6e091c807a1145361d752fd0e1cad1422d5b38d0
tips-for-first-time.md      544e480214b3631dbb1ac3111649d450131a6be4
miscellaneous.md            f0111c4d66924102e605e576c6d4c155f2330c08
user-spawn-processes.md     4f5551f55540fdfcc68c864c84741c932d21daae
""", D)
NOT_RUN = {  # pages read (path under D @ commit) that have no inline testcode -> why
    "walkthrough.md @0b21289e": "literalinclude of doc_code/getting_started.py only",
    "tasks.md @aff843b5": "literalinclude of doc_code/tasks.py; Java/C++ tabs",
    "tasks/nested-tasks.md @09607ec5": "literalinclude of doc_code/nested-tasks.py; a ```bash >>> transcript "
                                       "(not a doctest)",
    "tasks/dynamic_generators.md @4db69edd": "literalinclude of doc_code/generator.py, pattern_generators.py",
    "ray-generator.md @730094ef": "literalinclude of doc_code/streaming_generator.py; a ```diff fence",
    "actors/actor-utils.md @544e4802": "literalinclude of doc_code/actor-pool.py, actor-queue.py",
    "actors/out-of-band-communication.md @377505dc": "literalinclude of doc_code/actor-http-server.py",
    "namespaces.md @ec8cb109": "literalinclude of doc_code/namespaces.py; Java/C++ tabs",
    "scheduling/index.md @1d92fd45": "literalinclude of doc_code/scheduling.py",
    "scheduling/resources.md @5159bbb4": "literalinclude of doc_code/resources.py",
    "scheduling/placement-group.md @8104c4fa": "literalinclude of doc_code/placement_group_*.py; plain fences "
                                               "(topology_strategy) need labelled multi-node clusters",
    "scheduling/ray-oom-prevention.md @cebd5f05": "literalinclude of doc_code/ray_oom_prevention.py",
    "scheduling/labels.md @01624ad4": "no testcode: plain ```python fences",
    "fault-tolerance.md @0c3983a1": "literalinclude of doc_code/fault_tolerance_tips.py",
    "fault_tolerance/tasks.md @9de73e83": "literalinclude of doc_code/task_exceptions.py, tasks_fault_tolerance.py",
    "fault_tolerance/actors.md @a5521b2f": "literalinclude of doc_code/actor_restart.py, actor_checkpointing.py, "
                                          "actor_creator_failure.py",
    "fault_tolerance/objects.md @a5521b2f": "literalinclude of doc_code/owners.py",
    "fault_tolerance/nodes.md @a5521b2f": "no code", "fault_tolerance/gcs.md @a369e0c1": "no code (cluster setup)",
    "patterns/*.md (21 pages)": "literalinclude of doc_code/pattern_*.py, anti_pattern_*.py only",
    "type-hint.md @0718d5b0": "no testcode: plain ```python fences",
    "ray-dag.md @17f9d8ed": "literalinclude of doc_code/ray-dag.py",
    "runtime_env_auth.md @01108ed0, head-node-memory-management.md @bec3e1f0, using-ray-with-jupyter.md @559d34e0":
        "no testcode", "cross-language.md": "out of scope (Java/C++)",
}
SKIP = {  # "page/#block" (testsetup first, then page order) -> reason; ":skipif: True" blocks skip anyway
    "handling-dependencies/#1": "network (runtime_env pip installs emoji from PyPI)",
    "handling-dependencies/#6": "network (requests.get of https://www.ray.io/)",
    "object-spilling/#0": "{doctest} without a >>> prompt: Sphinx runs nothing (the block shows a "
                          "ray.init(object_spilling_directory=...) call)",
    "object-spilling/#1": "{doctest} without a >>> prompt: a `ray start` shell command",
}
RAY_SKIP = {  # only with --ray: blocks that hang Ray on this 2-CPU machine (the rest of the page then runs)
    "accelerators/#33": "Ray 2.60 on 2 CPUs places 2 of the 3 FractionalGPUActor (num_gpus=0.5 on "
                        "init(num_gpus=3)); the third never starts and get waits (unit and process timeout)",
}
SUITE = Suite(name="core_pages", kind="pages", files=FILES, gen=lambda data, src: None,
              alarm_s=150, timeout_s=600, skip=SKIP, ray_skip=RAY_SKIP, check_output=True,
              env={"RAY_DEDUP_LOGS": "0"})

if __name__ == "__main__":
    main(SUITE)
