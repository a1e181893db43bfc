"""Ray Train's ``doc/source/train/doc_code/*.py`` examples, section by section (docs/ray-compatibility-train.md)."""
from probe import standins
from probe.suite import Suite, main, manifest

D = "doc/source/train/doc_code/"
FILES = manifest("""  # local name, commit, path under D if not the same
accelerate_trainer.py               9e719730351e31a649eab9f973714e3f4a5cfb5e
air_ingest_migration.py             dcba7da21afe00ab39613187da83e2ca720e7f4a
air_ingest_new.py                   88c6d22d2d9ec03eacf3434037282f728a3a1310
asynchronous_validation.py          aa2d66c89e60fc57268512d584f0c276305f732b
checkpoints.py                      378aac43677421a97b2d1cb0b96dc4b52cfab759
collate_utils.py                    0718d5b02581bfef3960d8e37c4d6484f7c368f9
data_ingest_torch_new.py            07018036fbcb2b0918ad3be0ecac3f067428117c
dl_guide.py                         6ee9026640c4034d48500e0b9d5bc047e0e0d552
fault_tolerance.py                  95213c5f5aad5c22cff39893fc42f91ad0bf46de
gbdt_user_guide.py                  8884c7feba336634cfc919399a401e11e7514664
key_concepts.py                     8bfa7504c640ad30aef81f92ede792e4979a3385
lightning_experiment_tracking.py    ba250b9d2fb8cc27ea2ad44343794cc6dcff2ef1
metric_logging.py                   95000af10ac7ea86a64659f735708763afb0c499
random_text_generator.py            205081dc566e9453bc35f6e1e4edce7e1b7f5c0c
torchmetrics.py                     db4d2aa3ad5649ad0f72d3227a29a746fe0c76d6
torchmetrics_example.py             d96115ea86a078c9d541e40fcdc0af0b2c2d0cd5
xgboost_quickstart.py               f40f1e2451b36fb308f1fcc3312345817f360774
xgboost_train_predict.py            1ace89f963a032aa5c88a0d0ab16dee72ec50691
""", D)
NOT_RUN = {  # files of the same folder that were read and not run -> why
    "accelerate_torch_trainer.py": "HF hub downloads (glue/bert), evaluate missing, 4 GPUs",
    "deepspeed_torch_trainer.py": "DeepSpeed", "hvd_trainer.py": "Horovod", "tf_starter.py": "TensorFlow",
    "predictors.py": "TensorFlow", "lightgbm_quickstart.py": "LightGBM", "train_tune_interop.py": "Ray Tune",
    "tuner.py": "Ray Tune", "torchft.py": "torchft, NCCL, GPU",
    "getting_started_lightning.py": "torchvision missing, FashionMNIST download, use_gpu",
    "getting_started_pytorch.py": "torchvision missing, FashionMNIST download, use_gpu",
    "getting_started_transformers.py": "HF hub downloads", "hf_trainer.py": "HF hub downloads",
    "mlflow_torch_mnist.py": "mlflow, torchvision missing; FashionMNIST download",
    "wandb_torch_mnist.py": "wandb, torchvision missing; FashionMNIST download",
    "torch_experiement_tracking.py": "mlflow/wandb, torchvision missing; FashionMNIST download",
    "statsmodel_predictor.py": "statsmodels missing, get_rdataset downloads",
}
SKIP_WORDS = {  # a word of a section's name -> reason
    "lightgbm": "LightGBM not installed", "lgbm_detail_training": "LightGBM not installed",
    "lgbm_detail_fit": "LightGBM not installed", "wandb": "wandb not installed + W&B API key/network",
    "comet": "comet_ml not installed + API key/network", "mlflow": "mlflow not installed",
    "sync_config": "Ray Tune (ray.tune.SyncConfig)",
}
SUITE = Suite(name="train", kind="sections", files=FILES, gen=standins.train,
              alarm_s=150, timeout_s=300, ray_timeout_s=400, skip_words=SKIP_WORDS,
              env={"SHARED_STORAGE_PATH": "{work}/shared"},  # lightning_experiment_tracking asks for it
              clean=["~/ray_results/dl_trainer_restore", "~/ray_results/dl_restore_autoresume"])  # made by dl_guide

if __name__ == "__main__":
    main(SUITE)
