"""Probe environment only (on PYTHONPATH for the serve suite): this machine has 2 CPUs and Serve
replicas default to num_cpus=1, so examples with several replicas could never be scheduled.
With PROBE_FAKE_CPUS set (streamdata runs), the node reports that many CPUs, as
``ray start --head --num-cpus=16`` does for the runs on Ray. The train_pages suite sets it for
both engines (with RAY_USE_MULTIPROCESSING_CPU_COUNT=1, Ray's in-process node counts the same)."""
import os

if os.environ.get("PROBE_FAKE_CPUS"):
    _n = int(os.environ["PROBE_FAKE_CPUS"])
    os.cpu_count = lambda: _n
