"""Read throughput of streamdata's connectors against each format's own library, on the same data.

For every format the data is written once (4 files / fragments / shards unless the format
has one table), then read (a) directly with the format's library, sequentially, in this
process, into one in-memory result, and (b) with ``sd.read_<format>(...).materialize()``
(every block read by the read tasks and held in the object store, Ray's way of timing reads). Each side is timed best
of ``--reps`` after a warm-up (the runtime's workers are started before timing). The
report gives rows/s for each and the ratio streamdata / library (< 1 is faster).

    python benchmarks/formats_bench.py --rows 400000 --reps 3
    python benchmarks/formats_bench.py --quick          # small data, for a smoke run

Peers missing from the environment are skipped with a note (TFRecords has no peer
without TensorFlow; it is timed alone).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import streamdata as sd  # noqa: E402

FILES = 4


def _table(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"id": np.arange(rows, dtype=np.int64), "key": rng.integers(0, 1000, rows),
                     "a": rng.random(rows), "s": pa.array([f"s{i % 50}" for i in range(rows)])})


def _parts(t: pa.Table) -> list[pa.Table]:
    step = -(-t.num_rows // FILES)
    return [t.slice(i, step) for i in range(0, t.num_rows, step)]


def _count(ds: Any) -> int:
    """Read everything into the object store (as Ray's read benchmarks do): the blocks stay in
    shared memory; the driver gets their metadata, not their rows."""
    return ds.materialize().count()


# ---------------------------------------------------------------------------- cases: (setup) -> (peer, ours)


def case_sql(d: Path, t: pa.Table):
    db = str(d / "t.db")
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (id INTEGER, key INTEGER, a REAL, s TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", zip(*[t.column(c).to_pylist() for c in t.column_names]))
    conn.commit()
    conn.close()

    def peer():
        c = sqlite3.connect(db)
        cur = c.execute("SELECT * FROM t")
        names = [x[0] for x in cur.description]
        rows = cur.fetchall()
        out = pa.table(dict(zip(names, map(list, zip(*rows)))))
        c.close()
        return out.num_rows

    def connect():
        return sqlite3.connect(db)

    return peer, lambda: _count(sd.read_sql("SELECT * FROM t", connect))


def case_lance(d: Path, t: pa.Table):
    import lance

    uri = str(d / "t.lance")
    lance.write_dataset(t, uri, max_rows_per_file=-(-t.num_rows // FILES))
    return (lambda: lance.dataset(uri).to_table().num_rows), (lambda: _count(sd.read_lance(uri)))


def case_iceberg(d: Path, t: pa.Table):
    from pyiceberg.catalog import load_catalog

    kw = {"name": "b", "type": "sql", "uri": f"sqlite:///{d}/cat.db", "warehouse": f"file://{d}/wh"}
    cat = load_catalog(**kw)
    cat.create_namespace("db")
    tbl = cat.create_table("db.t", schema=t.schema)
    for p in _parts(t):
        tbl.append(p)
    peer = lambda: load_catalog(**kw).load_table("db.t").scan().to_arrow().num_rows  # noqa: E731
    return peer, lambda: _count(sd.read_iceberg(table_identifier="db.t", catalog_kwargs=kw))


def case_delta(d: Path, t: pa.Table):
    import deltalake

    path = str(d / "delta")
    for p in _parts(t):
        deltalake.write_deltalake(path, p, mode="append")
    return (lambda: deltalake.DeltaTable(path).to_pyarrow_table().num_rows), (lambda: _count(sd.read_delta(path)))


def case_avro(d: Path, t: pa.Table):
    import fastavro

    schema = {"type": "record", "name": "R", "fields": [{"name": "id", "type": "long"}, {"name": "key", "type": "long"},
                                                        {"name": "a", "type": "double"},
                                                        {"name": "s", "type": "string"}]}
    (d / "avro").mkdir()
    for i, p in enumerate(_parts(t)):
        with open(d / "avro" / f"{i}.avro", "wb") as f:
            fastavro.writer(f, schema, p.to_pylist())

    def peer():  # fastavro's records, into Arrow column by column (the fastest plain conversion)
        n = 0
        for f in sorted((d / "avro").iterdir()):
            with open(f, "rb") as fh:
                recs = list(fastavro.reader(fh))
            n += pa.table({c: pa.array([r[c] for r in recs]) for c in t.column_names}).num_rows
        return n

    return peer, lambda: _count(sd.read_avro(str(d / "avro")))


def case_tfrecords(d: Path, t: pa.Table):
    sd.from_arrow(_parts(t)).write_tfrecords(str(d / "tfr"))
    return None, lambda: _count(sd.read_tfrecords(str(d / "tfr")))


def case_webdataset(d: Path, t: pa.Table):
    import tarfile

    n = t.num_rows // 20
    sd.from_items([{"__key__": f"{i:08d}", "txt": f"sample {i}", "cls": i % 10} for i in range(n)],
                  override_num_blocks=FILES).write_webdataset(str(d / "wds"))

    def peer():  # tarfile + the same decoding (txt -> str, cls -> int)
        rows = []
        for f in sorted((d / "wds").iterdir()):
            with tarfile.open(f, "r|") as tar:
                for m in tar:
                    data = tar.extractfile(m).read()
                    rows.append(int(data) if m.name.endswith(".cls") else data.decode())
        return len(rows) // 2

    return peer, lambda: _count(sd.read_webdataset(str(d / "wds")))


def case_audio(d: Path, t: pa.Table):
    import soundfile as sf

    (d / "audio").mkdir()
    for i in range(FILES * 4):
        sf.write(d / "audio" / f"{i}.flac", np.sin(np.linspace(0, 3000, 16000 * 20)).astype(np.float32) * 0.3, 16000)

    def peer():
        return sum(1 for f in sorted((d / "audio").iterdir())
                   if sf.read(io.BytesIO(f.read_bytes()), always_2d=True, dtype="float32")[0].size)

    return peer, lambda: _count(sd.read_audio(str(d / "audio")))


def case_video(d: Path, t: pa.Table):
    import av

    (d / "video").mkdir()
    for k in range(FILES):
        with av.open(str(d / "video" / f"{k}.mp4"), mode="w") as out:
            st = out.add_stream("mpeg4", rate=24)
            st.height, st.width, st.pix_fmt = 128, 128, "yuv420p"
            for i in range(240):
                img = np.full((128, 128, 3), (i * 3 + k) % 256, np.uint8)
                for p in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(p)
            for p in st.encode():
                out.mux(p)

    def peer():
        n = 0
        for f in sorted((d / "video").iterdir()):
            with av.open(str(f)) as c:
                n += sum(1 for fr in c.decode(video=0) if fr.to_ndarray(format="rgb24").size)
        return n

    return peer, lambda: _count(sd.read_videos(str(d / "video")))


def case_huggingface(d: Path, t: pa.Table):
    import datasets

    hf = datasets.Dataset(pa.Table.from_batches(t.to_batches()))
    return (lambda: sum(b.num_rows for b in hf.with_format("arrow").iter(batch_size=65536))), \
        (lambda: _count(sd.from_huggingface(hf)))


CASES: dict[str, Callable] = {"sql": case_sql, "lance": case_lance, "iceberg": case_iceberg, "delta": case_delta,
                              "avro": case_avro, "tfrecords": case_tfrecords, "webdataset": case_webdataset,
                              "audio": case_audio, "video": case_video, "huggingface": case_huggingface}


def _best(fn: Callable[[], int], reps: int) -> tuple[float, int]:
    fn()  # warm-up (imports, page cache, worker start)
    best, n = float("inf"), 0
    for _ in range(reps):
        t0 = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - t0)
    return best, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=400_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--num-cpus", type=int, default=2)
    ap.add_argument("--results-dir", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    rows, reps = (20_000, 1) if args.quick else (args.rows, args.reps)
    only = [c for c in args.only.split(",") if c] or list(CASES)
    sd.init(num_cpus=args.num_cpus)
    sd.range(8, override_num_blocks=4).materialize()  # start the workers before timing
    table = _table(rows)
    results = []
    load = os.getloadavg()[0]
    for name in only:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                peer, ours = CASES[name](Path(tmp), table)
            except ImportError as exc:
                results.append({"format": name, "note": f"skipped: {exc}"})
                continue
            t_ours, n_ours = _best(ours, reps)
            entry: dict[str, Any] = {"format": name, "rows": n_ours, "streamdata_s": round(t_ours, 4)}
            if peer is None:
                entry["note"] = "no peer library installed (TensorFlow): streamdata alone"
            elif name == "huggingface":
                entry["note"] = ("the library side iterates zero-copy views and touches no data; streamdata's "
                                 "moves the rows into the workers and the object store")
            else:
                t_peer, n_peer = _best(peer, reps)
                if n_peer != n_ours:
                    entry["note"] = f"row counts differ: library {n_peer}, streamdata {n_ours}"
                entry.update(library_s=round(t_peer, 4), ratio=round(t_ours / t_peer, 2))
            results.append(entry)
            print(json.dumps(entry), flush=True)
    sd.shutdown()
    stamp = time.strftime("%Y-%m-%d-%H%M%S", time.gmtime())
    out = Path(args.results_dir)
    out.mkdir(parents=True, exist_ok=True)
    cmd = "python benchmarks/formats_bench.py " + " ".join(sys.argv[1:])
    (out / f"formats-{stamp}.json").write_text(json.dumps({"command": cmd, "load_avg_1m": load, "rows": rows,
                                                           "reps": reps, "results": results}, indent=1))
    lines = [f"# formats_bench {stamp}", "", f"Command: `{cmd}` (num_cpus={args.num_cpus}, load average at start "
             f"{load:.1f}; best of {reps} after a warm-up)", "",
             "| format | rows | library s | streamdata s | ratio (streamdata / library) | note |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        lines.append(f"| {r['format']} | {r.get('rows', '')} | {r.get('library_s', '')} | {r.get('streamdata_s', '')} "
                     f"| {r.get('ratio', '')} | {r.get('note', '')} |")
    (out / f"formats-{stamp}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
