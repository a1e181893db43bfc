"""``join_tables`` on sparse int64 keys (800k probing 200k), in process: shuffled keys,
both sides sorted, a sorted probe with a shuffled build side. Median CPU ms of 7 calls.

    PYTHONPATH=<checkout> python benchmarks/micro_join_keys.py
"""

import time, numpy as np, pyarrow as pa
from streamdata.exec.shuffle.join import join_tables
rng = np.random.default_rng(0)
def bench(name, f, n=7):
    f(); ts=[]
    for _ in range(n):
        c=time.process_time(); f(); ts.append(time.process_time()-c)
    ts.sort(); print('%-40s %.2f ms' % (name, ts[n//2]*1e3))
ids = rng.integers(0, 2**62, 800_000)
L = pa.table({"id": ids}); R = pa.table({"id": rng.permutation(ids[:200_000]), "b": rng.random(200_000)})
bench("sparse random keys: join_tables", lambda: join_tables(L, R, ["id"], ["id"]))
Ls = pa.table({"id": np.sort(ids)}); Rs = pa.table({"id": np.sort(ids[:200_000]), "b": rng.random(200_000)})
bench("sparse sorted keys: join_tables", lambda: join_tables(Ls, Rs, ["id"], ["id"]))
Rr = pa.table({"id": rng.permutation(ids[:200_000]), "b": rng.random(200_000)})
bench("sparse sorted probe, random build", lambda: join_tables(Ls, Rr, ["id"], ["id"]))
