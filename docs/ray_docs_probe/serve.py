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
# renamed: a script named websockets.py would shadow the websockets package it imports
http_websockets.py                  17b184372ff6fb65a7057b9850cd7edc197db0ac  http_guide/websockets.py
""", D)
# Not run: examples that download models (t5-small), and old versions of pages (APIs Ray removed).
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
