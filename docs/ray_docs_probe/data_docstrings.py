"""The docstring examples of the installed Ray's ``ray/data/dataset.py`` and ``read_api.py``.

Every ``>>>`` transcript (output checked with doctest's ELLIPSIS | NORMALIZE_WHITESPACE,
``# doctest: +SKIP`` honoured) and ``.. testcode::`` block, extracted at run time from the
installed ``ray`` package (found, not imported); each docstring runs in a fresh namespace, all of
them in one process (a new one after a hang).
"""
from probe import standins
from probe.suite import Suite, main

RAY_VERSION = "2.60.0"  # the version the counts in docs/ray-compatibility-data.md were taken with
FILES = {  # group prefix -> (module file in the ray package, Ray version)
    "dataset": ("ray/data/dataset.py", RAY_VERSION),
    "read_api": ("ray/data/read_api.py", RAY_VERSION),
}
SUITE = Suite(name="data_docstrings", kind="docstrings", files=FILES, gen=standins.data_pages,
              alarm_s=40, timeout_s=120, env={"RAY_DEDUP_LOGS": "0", "RAY_DATA_DISABLE_PROGRESS_BARS": "1"})

if __name__ == "__main__":
    main(SUITE)
