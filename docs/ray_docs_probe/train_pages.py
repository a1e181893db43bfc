"""Ray Train's doc pages (``doc/source/train/*.md``, ``user-guides/*.md``): their testcode/testsetup blocks."""
from probe import standins
from probe.suite import Suite, main, manifest
from probe.units import Fence

D = "doc/source/train/"
FILES = manifest("""  # local name, commit, path under D if not the same (the versions the 2026-12-07 probe read)
getting-started-pytorch.md      060818747e92b54b6d8649bed551448c56189b95
getting-started-pytorch-lightning.md 00e4d53b038f7bce87e9c23bd16bf044db4910d9
getting-started-transformers.md 00e4d53b038f7bce87e9c23bd16bf044db4910d9
torch-configure-train_func.md   060818747e92b54b6d8649bed551448c56189b95 common/torch-configure-train_func.md
torch-configure-run.md          060818747e92b54b6d8649bed551448c56189b95 common/torch-configure-run.md
data-loading-preprocessing.md   15142936e8b2e15b447a19c5ee04581f1fade029 user-guides/data-loading-preprocessing.md
using-accelerators.md           0718d5b02581bfef3960d8e37c4d6484f7c368f9 user-guides/using-accelerators.md
persistent-storage.md           060818747e92b54b6d8649bed551448c56189b95 user-guides/persistent-storage.md
checkpoints.md                  00e4d53b038f7bce87e9c23bd16bf044db4910d9 user-guides/checkpoints.md
experiment-tracking.md          060818747e92b54b6d8649bed551448c56189b95 user-guides/experiment-tracking.md
local-mode.md                   d47b1b1d0d088ae34a312259652f528e90bf5ccf user-guides/local-mode.md
hyperparameter-optimization.md  060818747e92b54b6d8649bed551448c56189b95 user-guides/hyperparameter-optimization.md
""", D)
# The three getting-started pages {include} common/torch-configure-train_func.md and torch-configure-run.md
# (Sphinx runs the included blocks in each page); the probe runs each included file once, as its own page.
NOT_RUN = {  # pages of user-guides/ (user-guides/index.md's toctree) read and not run -> why
    "monitoring-logging.md": "no testcode: its code is literalinclude of doc_code/metric_logging.py (suite train)",
    "results.md": "no testcode: literalinclude of doc_code/key_concepts.py (suite train)",
    "fault-tolerance.md": "no testcode: literalinclude of doc_code/fault_tolerance.py (suite train)",
    "asynchronous-validation.md": "no testcode: literalinclude of doc_code/asynchronous_validation.py "
                                  "(suite train); plain fences are skeletons with `...`",
    "reproducibility.md": "no testcode (a diff)", "monitor-your-application.md": "no code (a metrics table)",
    "elastic-training.md": "no testcode; its plain fences need GPUs or TPUs",
    "configuration-overview.rst": "orphan page (not in the toctree), literalinclude of doc_code/key_concepts.py",
}
SKIP = {  # "page/#block" -> reason; ":skipif: True" blocks skip anyway
    "using-accelerators/#3": "GPU (asserts torch.cuda.is_available(), use_gpu=True)",
    "using-accelerators/#5": "2 GPUs (resources_per_worker={'GPU': 2})",
    "using-accelerators/#10": "its train_func is the one #3 defines (GPU, skipped here): a NameError on both engines",
}
ADDITIONS = {  # the probe's own: CPU examples a page marks ":skipif: True", run after the page's blocks
    "local-mode": [
        Fence("# Your training logic", skipif=True),
        Fence("model = nn.Linear(10, 1)", skipif=True),
        Fence("def test_training_runs", skipif=True), "test_training_runs()",
        Fence('"s3://bucket/data.csv"', skipif=True,  # the page's placeholder bucket -> the iris stand-in
              replace=("s3://bucket/data.csv", "s3://anonymous@ray-example-data/iris.csv")),
    ],
}
# Both engines see a 4-CPU node (serve_env/sitecustomize.py; Ray counts os.cpu_count() with
# RAY_USE_MULTIPROCESSING_CPU_COUNT): on 2 CPUs Ray's two 1-CPU train workers leave no CPU for the
# Ray Data read that feeds them, and the data-loading page's TorchTrainer blocks hang.
SUITE = Suite(name="train_pages", kind="pages", files=FILES, gen=standins.train_pages,
              alarm_s=150, timeout_s=300, ray_timeout_s=400, skip=SKIP, additions=ADDITIONS,
              env={"RAY_DEDUP_LOGS": "0", "RAY_DATA_DISABLE_PROGRESS_BARS": "1", "PROBE_FAKE_CPUS": "4",
                   "RAY_USE_MULTIPROCESSING_CPU_COUNT": "1"},
              pythonpath=["{here}/serve_env"])

if __name__ == "__main__":
    main(SUITE)
