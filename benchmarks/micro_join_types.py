"""``join_tables`` of every join type on the suite's data, in process: 16 files' ``(id, a)``
(800k rows) with the first 4 files' ``(id, b)`` (200k). Median CPU ms of 9 calls.

    PYTHONPATH=<checkout> python benchmarks/micro_join_types.py [<parquet dir>]
"""

import sys

import time, glob, numpy as np, pyarrow as pa, pyarrow.parquet as pq
from streamdata.exec.shuffle.join import join_tables
DATA = sys.argv[1] if len(sys.argv) > 1 else "benchmarks/data/scale-0.05/parquet"
fs = sorted(glob.glob(f"{DATA}/*.parquet"))
L = pa.concat_tables([pq.read_table(f, columns=["id", "a"]) for f in fs])
R = pa.concat_tables([pq.read_table(f, columns=["id", "b"]) for f in fs[:4]])
def bench(name, f, n=9):
    f(); ts=[]
    for _ in range(n):
        c=time.process_time(); f(); ts.append(time.process_time()-c)
    ts.sort(); print('%-30s %.2f ms' % (name, ts[n//2]*1e3))
for how in ["inner", "left_outer", "right_outer", "left_semi", "left_anti", "full_outer"]:
    bench(how, lambda: join_tables(L, R, ["id"], ["id"], how))
