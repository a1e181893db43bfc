"""The consumer side of ``iter_batches`` / ``iter_torch_batches`` and the Parquet sink's write,
in-process and measured in CPU time (a shared machine's load moves wall time, much less CPU).

Blocks are the quick benchmark data read into memory (4 blocks of 4 files, as streamdata's
read tasks make them); no runtime is started. Each row: median and min CPU milliseconds over
3 × 5 passes.

- ``per_batch_*``: each batch cut with ``iterator.batch_tables`` and converted on its own (the
  path before issue 14's wave 4; still the path of a local shuffle);
- ``segment_*``: ``batch_stream.format_batches`` (what ``iter_batches`` does now);
- ``pyarrow_*``: the suite's hand-written pyarrow loop (``engines.common.rebatch_as``);
- ``sink_write``: ``ParquetDatasink.write`` of one task's 4 blocks (200k rows, with ``c``);
  ``pq_write_table``: ``pyarrow.parquet.write_table`` of the same 4 tables, one file each.

Example::

    PYTHONPATH=$PWD python benchmarks/micro_iter_write.py
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from engines.common import rebatch_as  # noqa: E402
from streamdata import block as B  # noqa: E402
from streamdata.batch_stream import TorchFormatter, format_batches, formatter_for  # noqa: E402
from streamdata.iterator import batch_tables  # noqa: E402

DATA = HERE / "data" / "scale-0.05" / "parquet"
BATCH = 4096


def main() -> None:
    import torch

    files = sorted(DATA.glob("*.parquet"))
    if len(files) < 16:
        raise SystemExit(f"no benchmark data under {DATA}: run python benchmarks/datagen.py --scale 0.05")
    blocks = [pa.concat_tables([pq.read_table(f) for f in files[i:i + 4]]) for i in range(0, 16, 4)]
    numeric = [b.select(["id", "key", "a", "b"]) for b in blocks]
    cpu = torch.device("cpu")

    def ids(batches) -> int:  # noqa: ANN001 - what the suite's loop reads: one column
        return sum(len(b["id"]) for b in batches)

    def torch_loop() -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ids({k: torch.as_tensor(v) for k, v in b.items()}
                       for b in rebatch_as(iter(numeric), BATCH, "numpy"))

    def per_batch_torch() -> int:
        """The path before wave 4: a numpy batch per batch, then a tensor (copied) per column."""
        def tensors(batch):  # noqa: ANN001, ANN202
            return {k: torch.as_tensor(v if v.flags.writeable else v.copy()) for k, v in batch.items()}
        return ids(tensors(B.to_batch(t, "numpy", zero_copy=True))
                   for t in batch_tables(iter(numeric), batch_size=BATCH))

    out_dir = Path(tempfile.mkdtemp(prefix="micro-iter-write-"))
    with_c = [pq.read_table(f) for f in files[:4]]
    with_c = [t.append_column("c", pc.add(pc.multiply(t["a"], 2), t["b"])) for t in with_c]

    def sink_write() -> int:
        from streamdata.io.parquet import ParquetDatasink
        from streamdata.write_context import WriteContext

        shutil.rmtree(out_dir / "sink", ignore_errors=True)
        sink = ParquetDatasink(str(out_dir / "sink"))
        sink.on_write_start()
        result = sink.write(iter(with_c), WriteContext("w", 0))
        sink.on_write_complete([result])
        return result["num_rows"]

    def pq_write_table() -> int:
        for i, t in enumerate(with_c):
            pq.write_table(t, str(out_dir / f"pq-{i}.parquet"))
        return sum(t.num_rows for t in with_c)

    cases = {
        "per_batch_numpy": lambda: ids(B.to_batch(t, "numpy", zero_copy=True)
                                       for t in batch_tables(iter(blocks), batch_size=BATCH)),
        "segment_numpy": lambda: ids(format_batches(iter(blocks), formatter_for("numpy"), batch_size=BATCH)),
        "pyarrow_numpy": lambda: ids(rebatch_as(iter(blocks), BATCH, "numpy")),
        "per_batch_pandas": lambda: ids(B.to_pandas(t) for t in batch_tables(iter(blocks), batch_size=BATCH)),
        "segment_pandas": lambda: ids(format_batches(iter(blocks), formatter_for("pandas"), batch_size=BATCH)),
        "pyarrow_pandas": lambda: ids(rebatch_as(iter(blocks), BATCH, "pandas")),
        "per_batch_torch": per_batch_torch,
        "segment_torch": lambda: ids(format_batches(iter(numeric), TorchFormatter(torch, None, cpu),
                                                    batch_size=BATCH)),
        "pyarrow_torch": torch_loop,
        "sink_write": sink_write,
        "pq_write_table": pq_write_table,
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for _ in range(3):
            for name, fn in cases.items():
                fn()
                for _ in range(5):
                    began = time.process_time()
                    fn()
                    times[name].append(time.process_time() - began)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    for name, values in times.items():
        print(f"{name:18s} CPU ms: median {statistics.median(values) * 1e3:7.2f}  min {min(values) * 1e3:7.2f}")


if __name__ == "__main__":
    main()
