"""Ray Data's ``doc/source/data/doc_code/*.py`` examples, section by section (docs/ray-compatibility-data.md)."""
from probe import standins
from probe.suite import Suite, main, manifest

D = "doc/source/data/doc_code/"
FILES = manifest("""  # local name, commit, path under D if not the same
batch_formats.py                    121bf8de04c3569208c7a5896e712a7eaa772039
benchmark_local_vs_map_batches_shuffle.py d0c219d291289f1ba90e4330644fe2f3a558055e
consuming_data.py                   54d24fb68d40716572d2f190159ba6c5c6f8484a
custom_datasource.py                a1a63a4012aa9c6ddd2e121985643fec4752fe6b
custom_datasource_example.py        32a74016ea0de36b375297b38dc5f1d66edce25e
database_support.py                 290dff660c9e98595568276f15f1d7de833749ee
hf_quick_start.py                   fcfa9a5ef819f7f1f3528b7b8ca34da58bd05633
key_concepts.py                     afb203cfa5bd48002ef724aa2ae52d9a850d5d88
loading_data.py                     0dbdd13cb8d6edfec3bae7670e0f2528baa34b75
preprocessors.py                    921c166c843da08b66f75be432d16e85d267fc5d
pytorch_quick_start.py              86b95d443b7c663b9d0f0f74403eded6fee3124c
quick_start.py                      0a6d1f2f579affa211f3d97dd857cef2b8f344f7
saving_data.py                      61eed793643e0d9e37a5220f0c874eda38f3cfb0
tensor.py                           b5245649297218784ff024b32e34e500be9b92e6
torch_image_batch_trained.py        01c394959f463b13273a78d8a78ff5c975cae593
transforming_data.py                b943482b44ab3b6b64650f3070ebdc31e22944ed
""", D)
# Not run: working-with-llms/* (vLLM, GPU), dask_on_ray_* (Ray Core's Dask scheduler), and the
# Ray 1.x names of the same pages (creating_datasets*, transforming_datasets, accessing_datasets,
# consuming_datasets, *_datastreams, saving_datasets), whose APIs current Ray removed.
# Not run either: tf_quick_start.py (TensorFlow, not installed: every section) and
# loading_data_untested.py ("Not tested in CI": every section needs a cluster or a cloud store:
# raydp/Spark, a private S3 bucket, HDFS, GCS via gcsfs, Azure via adlfs, Mars).
SKIP_WORDS = {  # a word of a section's name -> reason
    "tf": "TensorFlow", "tfrecords": "TensorFlow (tfrecords)", "spark": "Spark/raydp cluster",
    "mars": "Mars cluster", "hdfs": "HDFS cluster", "s3_with_fs": "private S3 bucket + credentials",
    "modin": "modin not installed",
    "databricks": "Databricks workspace (network + credentials)",
    "snowflake": "Snowflake account (network + credentials)",
}
SKIP = {  # "file/section" -> reason
    "hf_quick_start/hf_quickstart_prediction": "downloads the gpt2 model (no network here)",
    "hf_quick_start/hf_quickstart_air": "downloads a tokenizer from the Hugging Face Hub (no network here)",
    "torch_image_batch_trained/pt_preprocess": "torchvision not installed",
    "torch_image_batch_trained/pt_model": "torchvision not installed",
    "torch_image_batch_trained/pt_prediction": "pretrained ResNet-18 weights (download) on CUDA GPUs",
}
# database_support reads its sqlite3 connect arguments from SQLITE3_* variables (its own way).
ENV = {"SQLITE3_DATABASE": "{work}/sqlite3.db"}
SUITE = Suite(name="data_code", kind="sections", files=FILES, gen=standins.data_code,
              alarm_s=90, timeout_s=180, ray_timeout_s=400, skip_words=SKIP_WORDS, skip=SKIP, env=ENV)

if __name__ == "__main__":
    main(SUITE)
