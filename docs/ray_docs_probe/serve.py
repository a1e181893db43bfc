"""Ray Serve's ``doc/source/serve/doc_code`` examples, each run as a whole script in a fresh
process (exit 0 = pass), and three of them also section by section (docs/ray-compatibility-serve.md)."""
import socket
import subprocess
import sys
import time
from pathlib import Path

from probe import standins
from probe.suite import Suite, main, manifest

D = "doc/source/serve/doc_code/"
FILES = manifest("""  # local name, commit, path under D if not the same
app_builder.py                      6c6f9812ff7f12722d6345db061efe8cd3faa85b
asyncio_best_practices.py           08ff3113ee4053223807713894119af40a24e030
autoscale_model_comp_example.py     e852f9bd5bafc5bbf4c1474af1f04798674ff11d
autoscaling_policy.py               0256d21892786b35b815747b20b95b55fb20bd92
batching_guide.py                   0cf79cd2bce0f91316a8c58f4d4bbcc14e26e0ac
chaining_example.py                 09e9eb1d2d915af49c6dd60dfecc3dfec2c33a22  model_composition/chaining_example.py
create_deployment.py                23d92739383f2c351ba824381eda5979228e550e
deployment_logger.py                8884c7feba336634cfc919399a401e11e7514664  monitoring/deployment_logger.py
deployment_scoped_actors.py         b274eb2d23c498a8aaab4e6f5715649d68ce8a4d
disconnects.py                      18a7d17b25d688a1a51f83e6f9eb5ca1f29efaa9  http_guide/disconnects.py
fastapi_example.py                  d6e7cd846614df72faba4a01ac89a7be0b03ffc9
fastapi_factory_example.py          545a4960d38ee711b40395e146870f1779e2d933
grpc_guide.py                       105028903d7af9a079a296a98385ca283a8bd1dd  grpc_proxy/grpc_guide.py
user_defined_protos.proto           8933485428c0aa0820c7deee42944bf9e8eca948  grpc_proxy/user_defined_protos.proto
http_guide.py                       138b24967ea7938187d25b777da3461066ab927f  http_guide/http_guide.py
http_streaming_example.py           6c6f9812ff7f12722d6345db061efe8cd3faa85b  http_guide/streaming_example.py
language_example.py                 6c6f9812ff7f12722d6345db061efe8cd3faa85b  model_composition/language_example.py
load_shedding.py                    0718d5b02581bfef3960d8e37c4d6484f7c368f9
local_dev.py                        0cf79cd2bce0f91316a8c58f4d4bbcc14e26e0ac
managing_deployments.py             8884c7feba336634cfc919399a401e11e7514664
mc_streaming_example.py             1a71e19b79f21c0bc044b535f799993ee0abd4e4  model_composition/streaming_example.py
multiplexed.py                      21c701a2708c463f66ba0c09a0768a9d10949017
request_id.py                       910c22e886381e7e960a47ca1db3e698635e86e9  monitoring/request_id.py
requests_best_practices.py          083875a300b3441eee3ee700f18203543d8662f1  http_guide/requests_best_practices.py
response_to_object_ref_example.py   4192d7c621516d30e87de8f1e09af710a9482c0d  model_composition/response_to_object_ref_example.py
class_based_autoscaling.py          7cf44582c11b2516ad91162f618ba1f57f81ab06
class_based_autoscaling_policy.py   6a661a85408e5cb7b1842b2b7371ec66e9ef1a40
custom_metrics_autoscaling.py       06696207d5baedb237c9607ea43f273c8e03a416
custom_request_router.py            1a6903ec26d32e019d0e631f0aa4f0b442ddef5f
custom_request_router_app.py        1c5b556cf0d3d745772b4eebe59d0495010d3867
delayed_import.py                   8c4973dc0c9b82d3e96cdabe05d8da7da691fcd8
gang_scheduling.py                  6863feb787e4f9f7e87641f2fee34c78f88ae232
key_concepts.py                     22352c68d79ba1ffe71de4bef5ea664f604a02a9
replica_rank.py                     0718d5b02581bfef3960d8e37c4d6484f7c368f9
application_level_autoscaling.py    0225c41ec6a3768c1fbf390b5c25a6bee4267ca0
counter_repro.py                    58d238144f98dfd3857e084a192b81f97e84e352
custom_metric_snippet.py            910c22e886381e7e960a47ca1db3e698635e86e9  monitoring/custom_metric_snippet.py
external_scaler_predictive.py       19dd0173c5277132368c99b3e9fbf7b098acbabb
logging_config.py                   187a70ef02d63416ac1d1b832db898fd69eba96b  monitoring/logging_config.py
metrics_snippet.py                  95213c5f5aad5c22cff39893fc42f91ad0bf46de  monitoring/metrics_snippet.py
monitor_deployment.py               0718d5b02581bfef3960d8e37c4d6484f7c368f9  monitoring/monitor_deployment.py
monitoring.py                       4192d7c621516d30e87de8f1e09af710a9482c0d  monitoring/monitoring.py
replica_health_check.py             282716945000b041218eb3d7fea972e9dc4157e6  fault_tolerance/replica_health_check.py
response_by_reference_example.py    4cf54c3a45ece1c734ff63924df526536066c96f  model_composition/response_by_reference_example.py
sleepy_pid.py                       4192d7c621516d30e87de8f1e09af710a9482c0d  fault_tolerance/sleepy_pid.py
websockets_example.py               4192d7c621516d30e87de8f1e09af710a9482c0d  http_guide/websockets_example.py
# renamed: a script named websockets.py would shadow the websockets package it imports
http_websockets.py                  17b184372ff6fb65a7057b9850cd7edc197db0ac  http_guide/websockets.py
""", D)
# Not run: examples that download models (t5-small), and old versions of pages (APIs Ray removed).
NOT_RUN = {  # files of doc_code/ (path @ the commit read) not run here -> why
    "async_inference_checkpoint_contract.py @3778680c": "no Ray in it: a pure-Python unittest model of a storage contract",
    "capacity_queue_request_router.py @4384d6d3": "built on Ray's private modules (ray._common, ray.serve._private "
                                                  "long_poll, constants, common), not a public API",
    "configure_serve_deployment/model_deployment.py @3fa1af67, develop_and_deploy.py @2fb2394a":
        "download the t5-small model (transformers pipeline); no network here",
    "data_parallel_deployment.py @a9693d60": "ray.serve.llm with vLLM on 16 GPUs (DeepSeek-V3)",
    "direct_ingress.py @184328c5, handle_guide.py @3586ac0c, migration_example.py @17c085c3, "
    "model_composition/arithmetic.py @17c085c3": "old versions: DAGDriver / InputNode / RayServeSyncHandle / "
                                                 "Deployment.deploy(), APIs Ray removed",
    "not read (time), by their names": "model or accelerator examples (aws_neuron_*, hpu_*, intel_gaudi_*, distilbert, "
        "stable_diffusion, vllm_example, gradio-*, image_classifier_example, object_detection, funasr_asr, "
        "getting_started/translator, production_guide/text_ml, tutorial_*); old deployment-graph pages "
        "(deployment_graph_*, intro_graph_parts, key-concepts-deployment-graph, linear_pipeline, branching_input, "
        "conditional, model_composition/class_nodes, deployment_graph_viz); the rest of the 154 .py files",
}
SECTIONS_TOO = ["batching_guide", "http_guide", "grpc_guide"]
SKIP = {f"grpc_guide (sections)/model_composition_{s}": "network (an image from github.com)"
        for s in ("deployment", "deploy", "client")}
PORTS = (8000, 9000)  # HTTP and gRPC proxies
RAY = str(Path(sys.executable).parent / "ray")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Hooks:
    """Free ports before each file; a 16-CPU Ray cluster around it for ``--ray``; listeners left after."""

    def before(self, engine: str) -> dict[str, str]:
        for _ in range(30):
            if not any(_listening(p) for p in PORTS):
                break
            time.sleep(0.5)
        if engine != "ray":
            return {}
        subprocess.run([RAY, "stop", "--force"], capture_output=True)
        subprocess.run([RAY, "start", "--head", "--num-cpus=16", "--disable-usage-stats",
                        "--include-dashboard=false"], capture_output=True, check=True)
        return {"RAY_ADDRESS": "auto"}

    def after(self, engine: str) -> str:
        left = [p for p in PORTS if _listening(p)]
        if engine == "ray":
            subprocess.run([RAY, "stop", "--force"], capture_output=True)
        return f"left listening on {left}" if left else ""


SUITE = Suite(name="serve", kind="scripts", files=FILES, gen=standins.serve, script_timeout_s=180,
              alarm_s=60, timeout_s=400, skip=SKIP, sections_too=SECTIONS_TOO, hooks=Hooks(),
              pythonpath=["{here}/serve_env", "{work}/data"], streamdata_env={"PROBE_FAKE_CPUS": "16"})

if __name__ == "__main__":
    main(SUITE)
