"""Run one Ray doc_code example against streamdata, section by section.

Only the imports are changed, the plain way a user does it (the module name ray -> streamdata):
import ray -> import streamdata as ray; from ray.data import X -> from streamdata.data import X;
from ray.data.M import X -> from streamdata.data.M import X; from ray.M import X -> from streamdata.M
import X; from ray import X -> from streamdata import X; import ray.M as N -> import streamdata.M as N.
Also example:// and public-bucket paths -> local stand-ins.
Prints one line per section: NAME<TAB>pass|fail: first error line|skip: reason.
"""
import re, signal, sys, traceback
import os
D = os.path.join(os.environ.get("PROBE_DIR", "/tmp/data-docs-probe"), "data")
SKIP_MARKERS = {  # section-name substring -> reason
    "tf": "TensorFlow", "spark": "Spark/raydp cluster", "mars": "Mars cluster", "hdfs": "HDFS cluster",
    "tfrecords": "TensorFlow (tfrecords)", "s3_with_fs": "private S3 bucket + credentials",
    "modin": "modin not installed",
}
def rewrite(src):
    src = re.sub(r"^(\s*)import ray\s*$", r"\1import streamdata as ray", src, flags=re.M)
    src = re.sub(r"^(\s*)from ray\.", r"\1from streamdata.", src, flags=re.M)  # ray.data.M -> streamdata.data.M too
    src = re.sub(r"^(\s*)from ray import ", r"\1from streamdata import ", src, flags=re.M)
    src = re.sub(r"^(\s*)import ray\.(\S+) as ", r"\1import streamdata.\2 as ", src, flags=re.M)
    src = src.replace("example://", D + "/")
    src = src.replace("s3://anonymous@ray-example-data/iris.csv", D + "/iris_s3.csv")
    src = src.replace("s3://anonymous@ray-example-data/iris.parquet", D + "/iris_s3.parquet")
    src = src.replace("s3://anonymous@ray-example-data/batoidea", D + "/image-datasets/simple")
    src = src.replace("s3://anonymous@air-example-data/ursa-labs-taxi-data/by_year/2019/01/data.parquet", D + "/taxi.parquet")
    src = src.replace("s3://anonymous@air-example-data/gzip_compressed.csv", D + "/gzip_compressed.csv")
    return src
def sections(src):
    out, cur, name = [], [], "preamble"
    for line in src.splitlines():
        m = re.match(r"#\s*__(\w+?)_(begin|start)_*\s*$", line.strip())
        if m:
            if any(l.strip() and not l.strip().startswith("#") for l in cur):
                out.append((name, "\n".join(cur)))
            cur, name = [], m.group(1)
            continue
        cur.append(line)
    if any(l.strip() and not l.strip().startswith("#") for l in cur):
        out.append((name, "\n".join(cur)))
    merged = []  # a section that continues a class body (indented) joins the one before
    for name, code in out:
        first = next(l for l in code.splitlines() if l.strip() and not l.strip().startswith("#"))
        if merged and first[:1] in " \t":
            merged[-1] = (merged[-1][0] + "+" + name, merged[-1][1] + "\n" + code)
        else:
            merged.append((name, code))
    return merged
def main(path, skip_extra=()):
    src = rewrite(open(path).read())
    ns = {"__name__": "__main__"}
    def alarm(*a): raise TimeoutError("section ran over 90 s")
    signal.signal(signal.SIGALRM, alarm)
    for name, code in sections(src):
        reason = next((r for k, r in SKIP_MARKERS.items() if re.search(rf"(^|_){k}(_|$)", name)), None)
        reason = reason or dict(skip_extra).get(name)
        if reason:
            print(f"RESULT\t{name}\tskip: {reason}", flush=True); continue
        signal.alarm(90)
        try:
            exec(compile(code, f"{path}:{name}", "exec"), ns)
            print(f"RESULT\t{name}\tpass", flush=True)
        except BaseException as e:
            msg = (f"{type(e).__name__}: {e}").splitlines()[0][:160]
            print(f"RESULT\t{name}\tfail: {msg}", flush=True)
            traceback.print_exc(limit=-3, file=sys.stderr)
        finally:
            signal.alarm(0)
if __name__ == "__main__":
    main(sys.argv[1])
