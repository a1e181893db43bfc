"""Local stand-ins for the files the examples read (there is no network): same columns and types.

Each suite's function writes its files under ``data`` with the layout of rewrite.PATH_MAP:
``example/`` (Ray's ``example://`` files), ``ray-example-data/``, ``air-example-data/`` and ``air-example-data-2/`` (the
public buckets). Values are random (seeded); outputs that print them differ from the docs'.
"""
import datetime
import gzip
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

N_IRIS = 150
VARIETY = np.repeat(["Setosa", "Versicolor", "Virginica"], 50)
SKLEARN_IRIS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def _iris(rng: np.random.Generator, n: int = N_IRIS) -> dict[str, np.ndarray]:
    """Iris measures with the dotted names of Ray's iris.csv / iris.parquet."""
    return {"sepal.length": np.round(rng.uniform(4.3, 7.9, n), 1),
            "sepal.width": np.round(rng.uniform(2.0, 4.4, n), 1),
            "petal.length": np.round(rng.uniform(1.0, 6.9, n), 1),
            "petal.width": np.round(rng.uniform(0.1, 2.5, n), 1)}


def _sklearn_iris(iris: dict[str, np.ndarray]) -> pa.Table:
    """The bucket's iris.csv: scikit-learn's column names and an integer target."""
    return pa.table({**dict(zip(SKLEARN_IRIS, iris.values())), "target": np.repeat([0, 1, 2], 50)})


def _sms(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(("ham" if i % 3 else "spam") + f"\tmessage number {i}\n" for i in range(10)))


def _images(folder: Path, count: int, shape, ext: str, rng: np.random.Generator, stem: str = "") -> None:
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, shape(i), dtype=np.uint8)).save(folder / f"{stem}{i}.{ext}")


def data_code(data: Path, _src: Path) -> None:
    """Ray Data's doc_code files: iris, mnist, images, tensor Parquet, the taxi file, a gzip CSV,
    the synthetic raw JPEG images of ``air-example-data-2``."""
    from ray.data.extensions import ArrowTensorArray  # Ray's own writer: checks we read Ray-written tensors

    ex, rb, ab = data / "example", data / "ray-example-data", data / "air-example-data"
    for d in (ex, rb, ab):
        d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    iris = _iris(rng)
    t = pa.table({**iris, "variety": VARIETY})
    pcsv.write_csv(t, ex / "iris.csv")
    pq.write_table(t, ex / "iris.parquet")
    (ex / "iris.json").write_text("".join(json.dumps(r) + "\n" for r in t.to_pylist()))
    pcsv.write_csv(_sklearn_iris(iris), rb / "iris.csv")
    pq.write_table(_sklearn_iris(iris), rb / "iris.parquet")
    np.save(ex / "mnist_subset.npy", rng.integers(0, 255, (3, 28, 28), dtype=np.uint8))
    _sms(ex / "sms_spam_collection_subset.txt")
    _images(ex / "image-datasets/simple", 3, lambda i: (32, 32, 3), "png", rng, stem="image")
    shutil.copytree(ex / "image-datasets/simple", rb / "batoidea")
    _images(ex / "mnist_subset_partitioned/0", 1, lambda i: (28, 28), "png", rng)
    (ex / "mnist_subset_partitioned/0/0.png").rename(ex / "mnist_subset_partitioned/0/1.png")
    (ex / "parquet_images_mini").mkdir()
    for i, label in enumerate(["cat", "cat", "dog"]):
        img = rng.integers(0, 255, (1, 128, 128, 3), dtype=np.uint8)
        pq.write_table(pa.table({"image": ArrowTensorArray.from_numpy(img), "label": [label]}),
                       ex / f"parquet_images_mini/{i}.parquet")
    m, t0, minute = 1000, datetime.datetime(2019, 1, 1), datetime.timedelta(minutes=1)
    taxi = pa.table({"vendor_id": pa.array(["1"] * m),
                     "pickup_at": pa.array([t0 + i * minute for i in range(m)], pa.timestamp("us")),
                     "dropoff_at": pa.array([t0 + (i + 7) * minute for i in range(m)], pa.timestamp("us")),
                     "passenger_count": pa.array(rng.integers(1, 5, m), pa.int8()),
                     "trip_distance": pa.array(rng.uniform(0, 10, m), pa.float32()),
                     "rate_code_id": pa.array(["1"] * m), "store_and_fwd_flag": pa.array(["N"] * m)})
    (ab / "ursa-labs-taxi-data/by_year/2019/01").mkdir(parents=True)
    pq.write_table(taxi, ab / "ursa-labs-taxi-data/by_year/2019/01/data.parquet")
    buf = io.BytesIO()
    pcsv.write_csv(t, buf)
    with gzip.open(ab / "gzip_compressed.csv", "wb") as f:
        f.write(buf.getvalue())
    _images(data / "air-example-data-2/1G-image-data-synthetic-raw", 4, lambda i: (64, 64, 3), "jpg", rng)


def train(data: Path, _src: Path) -> None:
    """Ray Train's doc_code files: iris, SMS text, Dow Jones, breast cancer, iris train/val CSVs."""
    rb, ab = data / "ray-example-data", data / "air-example-data"
    for d in (rb, ab):
        d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    pq.write_table(pa.table({**_iris(rng), "variety": VARIETY}), rb / "iris.parquet")
    _sms(rb / "sms_spam_collection_subset.txt")
    pcsv.write_csv(pa.table({"Date": [f"2020-01-{i + 1:02d}" for i in range(20)], "Close": rng.uniform(100, 200, 20)}),
                   rb / "dow_jones.csv")
    bc = {f"feature_{i}": rng.normal(size=569) for i in range(30)}
    bc["target"] = (bc["feature_0"] + rng.normal(scale=0.5, size=569) > 0).astype(np.int64)
    pcsv.write_csv(pa.table(bc), ab / "breast_cancer.csv")
    for split, m in (("train", 120), ("val", 30)):
        (rb / f"iris/{split}").mkdir(parents=True)
        cols = {"sepal length (cm)": rng.uniform(4.3, 7.9, m), "sepal width (cm)": rng.uniform(2.0, 4.4, m),
                "petal length (cm)": rng.uniform(1.0, 6.9, m), "petal width (cm)": rng.uniform(0.1, 2.5, m),
                "target": rng.integers(0, 3, m)}
        pcsv.write_csv(pa.table(cols), rb / f"iris/{split}/1.csv")


def data_pages(data: Path, _src: Path) -> None:
    """Ray Data's doc pages and dataset.py / read_api.py docstrings (one set for both suites)."""
    from PIL import Image

    rb, ab = data / "ray-example-data", data / "air-example-data"
    for d in (rb, ab):
        d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    iris = _iris(rng)
    t_iris = pa.table({**iris, "variety": VARIETY})
    pq.write_table(t_iris, rb / "iris.parquet")
    t_sk = _sklearn_iris(iris)
    for d in (rb, ab):
        pcsv.write_csv(t_sk, d / "iris.csv")
    buf = io.BytesIO()
    pcsv.write_csv(t_sk, buf)
    with gzip.open(rb / "iris.csv.gz", "wb") as f:
        f.write(buf.getvalue())
    _images(rb / "batoidea/JPEGImages", 4, lambda i: (32, 32, 3), "jpeg", rng)
    _images(rb / "image-datasets/simple", 3, lambda i: (32, 32, 3), "png", rng)
    _images(ab / "digits", 100, lambda i: (28, 28), "png", rng)
    _images(ab / "AnimalDetection", 40, lambda i: (300 + 5 * i, 400 + 3 * i, 3), "jpg", rng)
    (rb / "this.txt").write_text("The Zen of Python, by Tim Peters\nBeautiful is better than ugly.\n"
                                 "Explicit is better than implicit.\nSimple is better than complex.\n")
    _sms(rb / "sms_spam_collection_subset.txt")
    logs = [("2022-02-08 15:43:41", 48261360), ("2011-12-29 00:19:10", 519523), ("2028-09-09 05:06:07", 2163626)]
    (rb / "logs.json").write_text("".join(json.dumps({"timestamp": ts, "size": sz}) + "\n" for ts, sz in logs))
    (rb / "index.html").write_text("<html><body><h1>Batoidea</h1><p>Batoidea is a superorder of "
                                   "cartilaginous fishes...</p></body></html>")
    (rb / "documents").mkdir()
    for i in range(3):
        (rb / f"documents/doc{i}.pdf").write_bytes(b"%PDF-1.4 fake " + bytes(rng.integers(0, 255, 100, dtype=np.uint8)))
    (ab / "cifar-10/parquet").mkdir(parents=True)
    np.save(ab / "cifar-10/images.npy", rng.integers(0, 255, (20, 32, 32, 3), dtype=np.uint8))
    pngs = []
    for _ in range(10):
        b = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(b, format="PNG")
        pngs.append(b.getvalue())
    img = pa.StructArray.from_arrays([pa.array(pngs, pa.binary()), pa.array([f"{i}.png" for i in range(10)])],
                                     names=["bytes", "path"])
    pq.write_table(pa.table({"img": img, "label": pa.array(rng.integers(0, 10, 10), pa.int64())}),
                   ab / "cifar-10/parquet/0.parquet")
    cols = {f"feature_{k}": np.round(rng.normal(0, 1, 200), 4) for k in range(30)}
    cols["target"] = rng.integers(0, 2, 200)
    pcsv.write_csv(pa.table(cols), ab / "breast_cancer.csv")
    for d in ("iris-parquet", "iris-csv"):
        (rb / d).mkdir()
    for i in range(2):
        pq.write_table(t_iris, rb / f"iris-parquet/{i}.parquet")
        pcsv.write_csv(t_sk, rb / f"iris-csv/{i}.csv")
    pcsv.write_csv(t_sk, rb / "iris.tsv", pcsv.WriteOptions(delimiter="\t"))
    (rb / "train.jsonl").write_text("".join(json.dumps({"input": f"q{i}", "output": f"a{i}"}) + "\n"
                                            for i in range(10)))
    (rb / "log.json").write_text("".join(json.dumps({"timestamp": f"2022-02-0{i + 1} 10:00:00", "size": 100 * i}) + "\n"
                                         for i in range(3)))
    sales_dir = rb / "year=2022/month=09"
    sales_dir.mkdir(parents=True)
    sales = pa.table({"order_number": [10107, 10121], "quantity": [30, 34]})
    pcsv.write_csv(sales, sales_dir / "sales.csv")
    (sales_dir / "sales.json").write_text("".join(json.dumps(r) + "\n" for r in sales.to_pylist()))
    pcsv.write_csv(pa.table({"Date": ["2020-01-02", "2020-01-03"], "Open": [28638.97, 28634.88],
                             "Close": [28868.8, 28634.88]}), rb / "dow_jones.csv")
    (rb / "different-extensions").mkdir()
    pcsv.write_csv(pa.table({"a": [1, 2], "b": [3, 4]}), rb / "different-extensions/data.csv")
    (rb / "different-extensions/data.txt").write_text("a,b\n5,6\n")
    for label in ("cat", "dog"):
        _images(rb / f"image-datasets/dir-partitioned/{label}", 2, lambda i: (32, 32, 3), "png", rng)
    (data / "example").mkdir(exist_ok=True)
    (data / "example/image-datasets").symlink_to(rb / "image-datasets")



def api_docstrings(data: Path, src: Path) -> None:
    """The API docstrings beyond dataset.py: data_pages' files, an ``images.parquet`` of image
    tensors, CIFAR-10 images in per-class folders."""
    from ray.data.extensions import ArrowTensorArray

    data_pages(data, src)
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (4, 32, 32, 3), dtype=np.uint8)
    pq.write_table(pa.table({"image": ArrowTensorArray.from_numpy(img)}),
                   data / "ray-example-data/images.parquet")
    for label in ("airplane", "cat"):
        _images(data / f"air-example-data/cifar-10/images/{label}", 2, lambda i: (32, 32, 3), "png", rng)

BREAST_CANCER = [f"{kind} {m}" for kind in ("mean", "worst") for m in (
    "radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity", "concave points",
    "symmetry", "fractal dimension")] + [f"{m} error" for m in (
    "radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity", "concave points",
    "symmetry", "fractal dimension")]


def train_pages(data: Path, _src: Path) -> None:
    """Ray Train's doc pages: SMS text, breast cancer (scikit-learn's column names), iris."""
    rb, ab = data / "ray-example-data", data / "air-example-data"
    for d in (rb, ab):
        d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    iris = _iris(rng)
    pq.write_table(pa.table({**iris, "variety": VARIETY}), rb / "iris.parquet")
    pcsv.write_csv(_sklearn_iris(iris), rb / "iris.csv")
    _sms(rb / "sms_spam_collection_subset.txt")
    cols = {c: np.round(rng.normal(0, 1, 569), 4) for c in BREAST_CANCER}
    cols["target"] = rng.integers(0, 2, 569)
    pcsv.write_csv(pa.table(cols), ab / "breast_cancer.csv")


def serve(data: Path, src: Path) -> None:
    """Ray Serve's gRPC guide: its ``user_defined_protos.proto`` compiled (grpcio-tools) into ``data``."""
    proto = src / "user_defined_protos.proto"
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{src}", f"--python_out={data}",
                    f"--grpc_python_out={data}", str(proto)], check=True)
