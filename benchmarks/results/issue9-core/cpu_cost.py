"""Driver CPU time per operation (user+sys of this process), less sensitive to machine load than wall time."""
import time, resource, sys
import streamdata as sd
sd.init(num_cpus=2)
@sd.remote
def f(x): return x
@sd.remote
class A:
    def m(self, x): return x
sd.get([f.remote(i) for i in range(200)])
a = A.remote(); sd.get([a.m.remote(i) for i in range(200)])
def cpu(): r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
def workers_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN); return r.ru_utime + r.ru_stime
out = {}
for name, fn, n in [("task_async", lambda n: sd.get([f.remote(i) for i in range(n)]), 3000),
                    ("task_sync", lambda n: [sd.get(f.remote(i)) for i in range(n)], 1000),
                    ("actor_async", lambda n: sd.get([a.m.remote(i) for i in range(n)]), 3000),
                    ("put_get", lambda n: [sd.get(sd.put(i)) for i in range(n)], 5000)]:
    c0, w0 = cpu(), time.perf_counter(); fn(n); c1, w1 = cpu(), time.perf_counter()
    out[name] = (round((c1 - c0) / n * 1e6, 1), round((w1 - w0) / n * 1e6, 1))
print(sys.argv[1], "driver_cpu_us/op, wall_us/op:", out)
sd.shutdown()
