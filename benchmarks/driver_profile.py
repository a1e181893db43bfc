"""The driver's Python cost per task and per actor call, counted rather than timed.

Wall-clock throughput on a shared 2-core machine swings 3x between runs of the same
code; the number of Python function calls the driver makes per operation does not, and
its profiled CPU time per operation moves far less. Both threads of the driver (the
caller and the runtime's I/O loop) are profiled, with yappi (``pip install yappi``).

    PYTHONPATH=$PWD python benchmarks/driver_profile.py tasks      # or: tasks_sync, actor
    PYTHONPATH=$PWD python benchmarks/driver_profile.py actor 40   # the 40 costliest functions

Run it from two checkouts (before/after a change) and compare the first line.
"""

from __future__ import annotations

import sys

import streamdata as sd

N = 3000


@sd.remote
def noop() -> int:
    return 0


@sd.remote
class Echo:
    def noop(self) -> int:
        return 0


def main(argv: list[str]) -> None:
    import yappi

    which = argv[0] if argv else "tasks"
    top = int(argv[1]) if len(argv) > 1 else 20
    sd.init(num_cpus=2)
    actor = Echo.remote()
    sd.get([noop.remote() for _ in range(300)])  # warm: workers started, functions shipped
    sd.get([actor.noop.remote() for _ in range(300)])
    yappi.set_clock_type("cpu")
    yappi.start(builtins=False)
    if which == "tasks":
        sd.get([noop.remote() for _ in range(N)])
    elif which == "tasks_sync":
        for _ in range(N):
            sd.get(noop.remote())
    else:
        sd.get([actor.noop.remote() for _ in range(N)])
    yappi.stop()
    stats = list(yappi.get_func_stats())
    calls = sum(s.ncall for s in stats) / N
    cpu_us = sum(s.tsub for s in stats) / N * 1e6
    print(f"{which}: {calls:.1f} Python calls and {cpu_us:.0f} us profiled CPU per operation (driver)")
    for s in sorted(stats, key=lambda s: -s.tsub)[:top]:
        print(f"{s.tsub / N * 1e6:8.2f} us {s.ncall / N:6.2f}x  {s.module.rsplit('/', 1)[-1]}:{s.name}")
    sd.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
