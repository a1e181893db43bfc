"""The docstring examples of the rest of the installed Ray's public API modules (beyond
``data_docstrings``' dataset.py and read_api.py): Ray Data's other modules, Ray Train, Ray Serve and
Ray Core, as the API reference shows them.

Every ``>>>`` transcript (output checked with doctest's ELLIPSIS | NORMALIZE_WHITESPACE,
``# doctest: +SKIP`` honoured) and ``.. testcode::`` block, extracted at run time from the
installed ``ray`` package (found, not imported); ``.. code-block::`` examples are not run (Ray's
docs build does not test them). Each docstring runs in a fresh namespace, all of them in one
process (a new one after a hang). Core's worker.py comes first (``ray.init()``'s example must be
the engine's first start in its process, as in a fresh interpreter) and ray.util's modules last
(their placement groups and actors keep CPUs reserved until the process ends, which would starve
the train workers and Data tasks of the examples after them).

Read and holding no testable example (only ``code-block`` ones, or none): serve/handle.py,
config.py, schema.py, batching.py, multiplex.py; remote_function.py; util/scheduling_strategies.py;
train/v2/api/config.py, data_parallel_trainer.py, report_config.py, result.py, callback.py,
exceptions.py; train/torch/config.py. Left out: Train V1's modules (``train/torch/torch_trainer.py``,
``train_loop_utils.py``, ``base_trainer.py``, ``data_parallel_trainer.py``: Ray 2.60 runs V2 by
default and ``ray.train.torch`` exports V2's), and ``ray/data/_internal/``.
"""
from probe import standins
from probe.suite import Suite, main

RAY_VERSION = "2.60.0"  # the version the counts in docs/ray-compatibility-*.md were taken with
MODULES = """
_private/worker actor remote_function
train/_checkpoint train/v2/api/context train/v2/api/train_fn_utils train/v2/api/config
train/v2/api/data_parallel_trainer train/v2/api/report_config train/v2/api/result
train/v2/api/callback train/v2/api/exceptions
train/v2/torch/torch_trainer train/v2/torch/train_loop_utils train/torch/torch_checkpoint train/torch/config
data/grouped_data data/iterator data/aggregate data/expressions data/context data/datatype
data/datasource/datasink data/datasource/datasource data/datasource/file_based_datasource
data/datasource/file_datasink data/datasource/filename_provider data/datasource/partitioning
data/datasource/path_util data/preprocessor
data/preprocessors/chain data/preprocessors/concatenator data/preprocessors/discretizer
data/preprocessors/encoder data/preprocessors/hasher data/preprocessors/imputer
data/preprocessors/normalizer data/preprocessors/scaler data/preprocessors/tokenizer
data/preprocessors/torch data/preprocessors/vectorizer data/llm
serve/api serve/handle serve/config serve/schema serve/batching serve/multiplex
util/actor_pool util/queue util/scheduling_strategies util/placement_group
"""
# group prefix (the module path, dotted; _private/worker -> worker) -> (file in the ray package, version)
FILES = {m.replace("_private/", "").replace("/", "."): (f"ray/{m}.py", RAY_VERSION) for m in MODULES.split()}
SKIP = {  # "module.qualname/#block" -> reason
    "serve.api.get_deployment_handle/#0": "starts Serve's HTTP proxy on port 8000 (suite serve runs Serve)",
    "serve.api.get_deployment_handle/#1": "starts Serve's HTTP proxy on port 8000 (suite serve runs Serve)",
}
# Both engines see a 4-CPU node, as in train_pages: two 1-CPU train workers and the Data read feeding them.
SUITE = Suite(name="api_docstrings", kind="docstrings", files=FILES, gen=standins.api_docstrings,
              alarm_s=120, timeout_s=240, skip=SKIP,
              env={"RAY_DEDUP_LOGS": "0", "RAY_DATA_DISABLE_PROGRESS_BARS": "1", "PROBE_FAKE_CPUS": "4",
                   "RAY_USE_MULTIPROCESSING_CPU_COUNT": "1"},
              pythonpath=["{here}/serve_env"])

if __name__ == "__main__":
    main(SUITE)
