"""Ray Serve's doc pages (``doc/source/serve/**.md``): their inline code.

Ray Serve's pages hold no ``{testcode}`` blocks any more: nearly all their code is ``literalinclude``
of ``doc_code/`` files (probed as whole scripts by ``serve.py``). What stays inline are plain
```` ```python ```` fences; the ones that run as written (given ``from ray import serve`` where the
page leaves it out) run here as probe additions, in page order, one namespace per page.

The pages were read from the search index's stored copies of ``ray-project/ray`` (the snapshot was
over the fetch limit); a stored copy is not always the newest, and the commit of each is the one read.
"""
from probe.suite import Suite, main, manifest
from probe.units import Fence

D = "doc/source/serve/"
FILES = manifest("""  # local name, commit, path under D if not the same (the versions the 2026-12-07 probe read)
resource-allocation.md          029e4a906e20dc6471ed153c69931089a5062c86
configure-serve-deployment.md   017deaf1a5285baab3d3d15503e30003111cb1b2
asynchronous-inference.md       0189f71b5dbd37770e2313f71a3ee8843401c6e6
""", D)
NOT_RUN = {  # pages read (path under D @ commit) whose inline code does not run here -> why
    "getting_started.md @0a6d1f2f": "literalinclude of doc_code/getting_started/*.py (t5-small, a download); "
                                    "plain fences are fragments (`...`, `ray.get(translation_ref)`)",
    "key-concepts.md @022e2a2c": "stored copy is a Ray 1.x page (Deployment.deploy, serve.list_deployments: "
                                 "APIs Ray removed); literalinclude of create_deployment.py (suite serve)",
    "develop-and-deploy.md @0060635a": "literalinclude of doc_code/getting_started, develop_and_deploy/*.py",
    "model_composition.md @02be1408": "literalinclude of doc_code/model_composition/*.py (suite serve); one "
                                      "plain fence is a fragment (self.spanish_responder...)",
    "multi-app.md @0cf79cd2": "literalinclude of image_classifier_example.py, translator_example.py; yaml",
    "model-multiplexing.md @0bdce4bd": "literalinclude of doc_code/multiplexed.py (suite serve)",
    "http-guide.md @03e91e12": "literalinclude of doc_code/http_guide/*.py (suite serve); console output",
    "monitoring.md @042b2a5e": "stored copy is an old page (literalinclude of python/ray/serve/examples/doc/"
                               "*.py); its fences (serve.start(), a logger) are fragments of that walkthrough",
    "autoscaling-guide.md @011fb94c": "stored copy is an old page: yaml, literalinclude of resnet50_example.py",
    "production-guide/index.md @0a669e49": "literalinclude of production_fruit_example.py; yaml, console",
    "production-guide/best-practices.md @0759c9e2": "literalinclude of requests_best_practices.py (suite serve)",
    "advanced-guides/index.md @0a375d44": "toctree only",
    "advanced-guides/app-builder-guide.md @05d92bf7": "literalinclude of doc_code/app_builder.py (suite serve)",
    "advanced-guides/dev-workflow.md @0718d5b0": "literalinclude of doc_code/local_dev.py (suite serve); bash",
    "advanced-guides/performance.md @048ac82f": "no code (environment variables, options)",
    "advanced-guides/advanced-autoscaling.md @00cd3f30": "first 16,000 of 45,443 characters read: no Python "
                                                         "fence there (a diagram, parameter lists)",
    "advanced-guides/custom-request-router.md @0269119b": "first 16,000 of 22,673 characters read: literalinclude "
                                                          "of custom_request_router*.py; bash",
    "advanced-guides/replica-scheduling.md @05db432e": "first 16,000 of 18,419 characters read: literalinclude "
                                                       "of doc_code/replica_scheduling.py; yaml, diagrams",
}
ADDITIONS = {  # the pages' plain fences, run in page order after a setup line the page leaves out
    "resource-allocation": [
        "from ray import serve",
        Fence('ray_actor_options={"num_gpus": 1}'), Fence('"HPU": 1'), Fence("func_2"),
        Fence("gpu_memory"), Fence('"custom_resource": 2'),
    ],
    "configure-serve-deployment": ["from ray import serve", Fence("class ExampleDeployment")],
    "asynchronous-inference": [
        Fence("processor_config = TaskProcessorConfig("), Fence("class SimpleConsumer:\n    pass"),
        Fence("def process_request(self, data)"), Fence("adapter.enqueue_task_sync(task_name"),
        Fence("Async PDF Processing API"),
    ],
}
SUITE = Suite(name="serve_pages", kind="pages", files=FILES, gen=lambda data, src: None,
              alarm_s=60, timeout_s=180, additions=ADDITIONS, env={"RAY_DEDUP_LOGS": "0"})

if __name__ == "__main__":
    main(SUITE)
