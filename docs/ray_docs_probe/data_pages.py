"""Ray Data's MyST doc pages (``doc/source/data/*.md``): their testcode/testsetup/doctest blocks."""
from probe import standins
from probe.suite import Suite, main
from probe.units import Fence

PAGES = {  # page -> commit of doc/source/data/<page>.md (the version the 2026-12-07 probe read)
    "aggregating-data": "06e56350a888d82d5b5e1a0e4760c33dc82b038e",
    "batch-inference": "13a7318477821f42b3c225b134ea72ea62b119d3",
    "execution-configurations": "106c83e148e103b85cc66592f430a59ab8bf6923",
    "inspecting-data": "0365b56ea0057c86498f6df18d2075eb7010d31e",
    "iterating-over-data": "052094972899faeb5de2c8d1f984ee4d8882518f",
    "joining-data": "1730b7367f5443b5c36a4be791634a52781751f3",
    "key-concepts": "3f026ee18ff72c30aa74167915bb46186c1f5798",
    "loading-data": "0b5e139aff41711d4d43cb2ce28d4138e6ce71fd",
    "mixing-data": "0365b56ea0057c86498f6df18d2075eb7010d31e",
    "performance-tips": "0bae8bfb9d44be1a33bdaea9bd1185cabcb6d02a",
    "quickstart": "2fcb66f21d5762068c8905c3e31fa6d1bfc1b950",
    "saving-data": "0cbd5409b7867896ef4b32e4c8b3e16df0ee24f2",
    "scaling-collation-functions": "0b2199d3d570ef8a10a687ec5d138142d81536a5",
    "shuffling-data": "0cbd5409b7867896ef4b32e4c8b3e16df0ee24f2",
    "transforming-data": "28a6210fe228b334ff4d8d22c29bab484d247c43",
    "working-with-images": "2561bca31e1cd701d35e193ea509dc5f2dfb5049",
    "working-with-pytorch": "0365b56ea0057c86498f6df18d2075eb7010d31e",
    "working-with-tensors": "022f7d283e708520331ec15ab34f4490b2730fda",
    "working-with-text": "0cdd8af1140d3ba5c9290ec89ae2f86dc3352fb2",
}
FILES = {f"{p}.md": (f"doc/source/data/{p}.md", c) for p, c in PAGES.items()}
# Not run: monitoring-your-workload (no testcode in the half read), working-with-llms and
# working-with-zarr (vLLM/GPU, network), internals and how-to-avoid-ooms (not read).
SKIP = {  # "page/#block" (testsetup blocks first, then page order) -> reason; ":skipif: True" blocks skip anyway
    "batch-inference/#0": "network model (transformers gpt2 download)",
    "batch-inference/#2": "TensorFlow (keras)",
    "batch-inference/#4": "GPU + network model (gpt2 on cuda:0)",
    "batch-inference/#5": "GPU (torch .cuda(), num_gpus=1)",
    "batch-inference/#6": "TensorFlow + GPU",
    "iterating-over-data/#4": "TensorFlow",
    "iterating-over-data/#9": "TensorFlow",
    "loading-data/#5": "TensorFlow (tfrecords)",
    "loading-data/#11": "network (pyarrow S3FileSystem download of image URLs)",
    "loading-data/#21": "modin not installed",
    "saving-data/#6": "modin not installed",
    "transforming-data/#12": "GPU",
    "working-with-images/#1": "network (pyarrow S3FileSystem download of image URLs)",
    "working-with-images/#3": "TensorFlow (tfrecords)",
    "working-with-images/#7": "network model (torchvision ResNet18 weights download)",
    "working-with-images/#8": "needs the ResNet18 classifier above (network model)",
    "working-with-pytorch/#8": "network (boto3 S3 listing in ImageDataset.__init__)",
    "working-with-text/#2": "bs4 not installed",
    "working-with-text/#4": "network model (transformers pipeline download)",
}
RAY_SKIP = {"working-with-pytorch/#1": "TorchTrainer hangs on Ray 2.60 with 2 CPUs (the rest of the page then runs)"}
ADDITIONS = {  # blocks the probe runs after a page's own: lazy examples executed, untested fences
    "aggregating-data": ['import ray\nprint(ray.data.range(10).aggregate(Mean(on="id")))  # the custom Mean above'],
    "joining-data": ['print(sorted(doubles_and_squares_ds.take_all(), key=lambda r: r["id"]))'],
    "key-concepts": [Fence("GPUClass", replace=("ds.show(5)", "print(ds)"))],  # plan only: no GPU here
    "performance-tips": [Fence("resource_limits.copy(")],
    "working-with-pytorch": ['print(ds.take(1)[0]["transformed_image"].shape)'],
}
SUITE = Suite(name="data_pages", kind="pages", files=FILES, gen=standins.data_pages,
              alarm_s=45, timeout_s=60, ray_timeout_s=240, skip=SKIP, ray_skip=RAY_SKIP, additions=ADDITIONS,
              env={"RAY_DEDUP_LOGS": "0", "RAY_DATA_DISABLE_PROGRESS_BARS": "1"})

if __name__ == "__main__":
    main(SUITE)
