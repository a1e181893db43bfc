"""Generate (with numpy, pyarrow, Pillow and Ray's own ArrowTensorArray for the tensor Parquet files) local stand-ins for Ray's example:// and s3://anonymous@ray-example-data files."""
import json, os
import numpy as np, pyarrow as pa, pyarrow.parquet as pq, pyarrow.csv as pcsv
from PIL import Image
D = os.path.join(os.environ.get("PROBE_DIR", "/tmp/data-docs-probe"), "data")
os.makedirs(D, exist_ok=True)
rng = np.random.default_rng(0)
n = 150
var = np.repeat(["Setosa", "Versicolor", "Virginica"], 50)
cols = {
    "sepal.length": np.round(rng.uniform(4.3, 7.9, n), 1),
    "sepal.width": np.round(rng.uniform(2.0, 4.4, n), 1),
    "petal.length": np.round(rng.uniform(1.0, 6.9, n), 1),
    "petal.width": np.round(rng.uniform(0.1, 2.5, n), 1),
    "variety": var,
}
t = pa.table(cols)
pcsv.write_csv(t, f"{D}/iris.csv")
pq.write_table(t, f"{D}/iris.parquet")
with open(f"{D}/iris.json", "w") as f:
    for r in t.to_pylist():
        f.write(json.dumps(r) + "\n")
# s3://anonymous@ray-example-data/iris.csv has sklearn-style names and integer target
t2 = pa.table({"sepal length (cm)": cols["sepal.length"], "sepal width (cm)": cols["sepal.width"],
               "petal length (cm)": cols["petal.length"], "petal width (cm)": cols["petal.width"],
               "target": np.repeat([0, 1, 2], 50)})
pcsv.write_csv(t2, f"{D}/iris_s3.csv")
pq.write_table(t2, f"{D}/iris_s3.parquet")
np.save(f"{D}/mnist_subset.npy", rng.integers(0, 255, (3, 28, 28), dtype=np.uint8))
with open(f"{D}/sms_spam_collection_subset.txt", "w") as f:
    for i in range(10):
        f.write(("ham" if i % 3 else "spam") + f"\tmessage number {i}\n")
os.makedirs(f"{D}/image-datasets/simple", exist_ok=True)
for i in range(3):
    Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(f"{D}/image-datasets/simple/image{i}.png")
os.makedirs(f"{D}/mnist_subset_partitioned/0", exist_ok=True)
Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8)).save(f"{D}/mnist_subset_partitioned/0/1.png")
# parquet_images_mini: Ray's tensor extension column written by Ray's own (driver-only) ArrowTensorArray
from ray.data.extensions import ArrowTensorArray
os.makedirs(f"{D}/parquet_images_mini", exist_ok=True)
for i, lab in enumerate(["cat", "cat", "dog"]):
    img = rng.integers(0, 255, (1, 128, 128, 3), dtype=np.uint8)
    pq.write_table(pa.table({"image": ArrowTensorArray.from_numpy(img), "label": [lab]}),
                   f"{D}/parquet_images_mini/{i}.parquet")
print("ok")
import gzip, datetime
m = 1000
taxi = pa.table({"vendor_id": pa.array(["1"] * m), "pickup_at": pa.array([datetime.datetime(2019, 1, 1) + datetime.timedelta(minutes=i) for i in range(m)], pa.timestamp("us")),
                 "dropoff_at": pa.array([datetime.datetime(2019, 1, 1) + datetime.timedelta(minutes=i + 7) for i in range(m)], pa.timestamp("us")),
                 "passenger_count": pa.array(rng.integers(1, 5, m), pa.int8()), "trip_distance": pa.array(rng.uniform(0, 10, m), pa.float32()),
                 "rate_code_id": pa.array(["1"] * m), "store_and_fwd_flag": pa.array(["N"] * m)})
pq.write_table(taxi, f"{D}/taxi.parquet")
import io
buf = io.BytesIO(); pcsv.write_csv(t, buf)
with gzip.open(f"{D}/gzip_compressed.csv", "wb") as f: f.write(buf.getvalue())
print("ok2")
