"""The docs stay true: the configuration reference is regenerated from the docstrings, links point at
files a clone has, the code on the pages runs and prints what the comments say, every `sd.` name they
use exists, and the KubeRay manifests match KubeRay's CRD schema for every field they set."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import streamdata as sd

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md")) + [ROOT / "README.md"]
KUBERAY = DOCS / "kuberay"


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_config_reference", DOCS / "gen_config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


# ---------------------------------------------------------------- configuration reference
def test_configuration_reference_is_up_to_date() -> None:
    gen = _load_generator()
    assert (DOCS / "configuration.md").read_text() == gen.render(), (
        "docs/configuration.md is stale: run python docs/gen_config_reference.py")
    assert gen.main(["--check"]) == 0


def test_every_knob_is_documented() -> None:
    gen = _load_generator()
    missing = [row[0] for row in gen.data_context_rows() + gen.init_rows() if row[3] == "**undocumented**"]
    assert not missing, f"no docstring entry for {missing} (DataContext Attributes: / sd.init Args:)"


def test_generator_reads_google_sections() -> None:
    gen = _load_generator()

    def f(a, b=2):
        """Doc.

        Args:
            a: the first
                line continues.
            b (int): the second.

        Returns:
            nothing.
        """

    assert gen.docstring_section(f, "Args") == {"a": "the first line continues.", "b": "the second."}


# ---------------------------------------------------------------- links
def _slug(heading: str) -> str:
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=[p.name if p.parent == DOCS else "README.md" for p in PAGES])
def test_links_resolve_inside_the_repository(page: Path) -> None:
    text = page.read_text()
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        try:
            file.relative_to(ROOT)
        except ValueError:
            bad.append(f"{target} (outside the repository)")
            continue
        if not file.exists():
            bad.append(f"{target} (no such file)")
        elif anchor and file.suffix == ".md":
            slugs = {_slug(h) for h in re.findall(r"^#+ (.+)$", file.read_text(), flags=re.M)}
            if anchor not in slugs:
                bad.append(f"{target} (no heading #{anchor})")
    assert not bad, f"{page.name}: broken links {bad}"


def test_readme_links_the_docs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "../" not in readme, "README points outside the repository"
    assert "(docs/quickstart.md)" in readme and "(LICENSE)" in readme
    named = re.findall(r"`((?:examples|docs|benchmarks|streamdata|tests)/[\w./-]+)`", readme)
    assert named and not [p for p in named if not (ROOT / p).exists()], named


# ---------------------------------------------------------------- names and code on the pages
def _resolve(name: str) -> bool:
    obj = sd
    for part in name.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def test_every_sd_name_on_the_pages_exists() -> None:
    missing = set()
    for page in PAGES:
        for name in re.findall(r"(?<![\w.])sd\.([A-Za-z_][\w.]*[A-Za-z_\d])", page.read_text()):
            if not _resolve(name):
                missing.add(f"{page.name}: sd.{name}")
    assert not missing, sorted(missing)


def _expected_outputs(code: str) -> list[str]:
    """The values that ``print(...)  # value`` lines promise (a literal, or the text before ':')."""
    out = []
    for line in code.splitlines():
        match = re.match(r"\s*print\(.*\)\s+# (.+)$", line)
        if not match or "..." in match.group(1):
            continue
        comment = match.group(1).strip()
        try:
            out.append(str(ast.literal_eval(comment)))
        except (ValueError, SyntaxError):
            out.append(comment.split(":")[0].strip())
    return out


@pytest.mark.parametrize("page", ["quickstart.md", "coming-from-ray.md"])
def test_code_on_the_page_runs_and_prints_what_it_says(page: str, tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.S)
    assert blocks
    script = tmp_path / "page.py"
    script.write_text("\n\n".join(blocks))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STREAMDATA_PROGRESS_BARS": "0", "TMPDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    expected = [e for block in blocks for e in _expected_outputs(block)]
    assert expected, "the page promises no output: the check would prove nothing"
    for value in expected:
        assert value in lines, f"{page}: expected a line {value!r}, got {lines}"


# ---------------------------------------------------------------- KubeRay manifests
yaml = pytest.importorskip("yaml")
jsonschema = pytest.importorskip("jsonschema")
SCHEMAS = json.loads((KUBERAY / "crd-schemas.json").read_text())
MANIFESTS = sorted(KUBERAY.glob("*.yaml"))


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _ray_version() -> str:
    pins = (ROOT / "constraints.txt").read_text()
    return re.search(r"^ray==([\d.]+)$", pins, flags=re.M).group(1)


def test_the_three_kinds_are_covered() -> None:
    kinds = {d["kind"] for p in MANIFESTS for d in _docs(p) if d.get("apiVersion") == "ray.io/v1"}
    assert kinds == {"RayCluster", "RayJob", "RayService"}
    assert set(SCHEMAS["kinds"]) == kinds


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifest_matches_the_kuberay_crd_schema(path: Path) -> None:
    for doc in _docs(path):
        if doc["apiVersion"] == "v1":
            assert doc["kind"] == "ConfigMap" and doc["metadata"]["name"] and doc["data"]
            continue
        assert doc["apiVersion"] == "ray.io/v1", doc["apiVersion"]
        schema = SCHEMAS["kinds"][doc["kind"]]
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
        assert not errors, (f"{path.name}: " + "; ".join(f"{'.'.join(map(str, e.path))}: {e.message}"
                                                         for e in errors)
                            + " (a field the CRD has but crd-schemas.json lacks? rerun "
                              "docs/kuberay/prune_crd_schemas.py)")


def _cluster_specs(doc: dict) -> list[dict]:
    spec = doc["spec"]
    return [{"RayCluster": spec, "RayJob": spec.get("rayClusterSpec"),
             "RayService": spec.get("rayClusterConfig")}[doc["kind"]]]


@pytest.mark.parametrize("path", MANIFESTS, ids=[p.name for p in MANIFESTS])
def test_manifest_fields_make_sense_together(path: Path) -> None:
    version = _ray_version()
    for doc in _docs(path):
        if doc["apiVersion"] != "ray.io/v1":
            continue
        assert doc["metadata"]["name"]
        for cluster in _cluster_specs(doc):
            assert cluster is not None, f"{doc['kind']} has no cluster spec"
            assert cluster["rayVersion"] == version, "rayVersion must equal the Ray pinned in constraints.txt"
            head = cluster["headGroupSpec"]["template"]["spec"]["containers"]
            assert head and all(c["image"] == "streamdata-ray:0.1.0" for c in head)
            assert {p["containerPort"] for p in head[0]["ports"]} >= {6379, 8265, 10001}
            for group in cluster.get("workerGroupSpecs", []):
                assert group["groupName"]
                assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"], group["groupName"]
                for c in group["template"]["spec"]["containers"]:
                    assert c["image"] == "streamdata-ray:0.1.0"
                    assert c["resources"]["requests"] == c["resources"]["limits"], "requests = limits (Ray)"
        if doc["kind"] == "RayJob":
            script = doc["spec"]["entrypoint"].split()[-1]
            mounts = {m["mountPath"]: m["name"] for m in
                      doc["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
                      ["volumeMounts"]}
            assert str(Path(script).parent) in mounts, f"{script} is not in a mounted volume"
            yaml.safe_load(doc["spec"]["runtimeEnvYAML"])
        if doc["kind"] == "RayService":
            config = yaml.safe_load(doc["spec"]["serveConfigV2"])
            for app in config["applications"]:
                assert re.fullmatch(r"[\w.]+:\w+", app["import_path"]), app["import_path"]
                assert app["route_prefix"].startswith("/")


def test_dockerfile_uses_the_same_ray() -> None:
    base = re.search(r"^FROM rayproject/ray:([\d.]+)-py3\d+$", (KUBERAY / "Dockerfile").read_text(), flags=re.M)
    assert base and base.group(1) == _ray_version()


def test_rayjob_script_runs(tmp_path: Path) -> None:
    """The job's pipeline runs as written, on the local runtime instead of a Ray cluster."""
    config_map = next(d for d in _docs(KUBERAY / "rayjob.yaml") if d["kind"] == "ConfigMap")
    code = config_map["data"]["pipeline.py"]
    assert 'sd.init(backend="ray")' in code
    script = tmp_path / "pipeline.py"
    script.write_text(code.replace('sd.init(backend="ray")', "sd.init(num_cpus=2)"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STREAMDATA_PROGRESS_BARS": "0"}
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ("[{'key': 0, 'sum(value)': 9999000000}, {'key': 1, 'sum(value)': 9999020000}, "
                                   "{'key': 2, 'sum(value)': 9999040000}]"), proc.stdout
