"""Extract from KubeRay's CRDs the schema of every field the manifests here use (crd-schemas.json).

The full CRDs are ~1 MB each (they embed Kubernetes' pod template); the test only needs the part the
manifests touch. Each schema node keeps its type, required list, enum, pattern and format; its
``properties`` are cut down to the keys the manifests set. A key a manifest sets that the CRD does
not define is an error here, and tests/test_docs.py fails on it too.

Run after changing a manifest (or to move to a new KubeRay release):

    git clone https://github.com/ray-project/kuberay /tmp/kuberay
    python docs/kuberay/prune_crd_schemas.py /tmp/kuberay
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CRDS = {"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml",
        "RayService": "ray.io_rayservices.yaml"}
DROP = {"description", "properties", "items", "additionalProperties"}


def manifests() -> dict[str, list[dict]]:
    """Every ray.io document of the manifests here, by kind."""
    found: dict[str, list[dict]] = {}
    for path in sorted(HERE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and str(doc.get("apiVersion", "")).startswith("ray.io/"):
                found.setdefault(doc["kind"], []).append(doc)
    return found


def prune(schema: dict, instances: list[Any], where: str) -> dict:
    out = {k: v for k, v in schema.items() if k not in DROP}
    dicts = [i for i in instances if isinstance(i, dict)]
    if "properties" in schema:
        used = sorted({k for d in dicts for k in d})
        unknown = [k for k in used if k not in schema["properties"]]
        if unknown and not schema.get("x-kubernetes-preserve-unknown-fields"):
            raise SystemExit(f"{where}: {unknown} are not fields of the CRD (have "
                             f"{sorted(schema['properties'])})")
        out["properties"] = {k: prune(schema["properties"][k], [d[k] for d in dicts if k in d], f"{where}.{k}")
                             for k in used if k in schema["properties"]}
        out["additionalProperties"] = False  # strict: a key outside this list fails the test
    elif isinstance(schema.get("additionalProperties"), dict):
        values = [v for d in dicts for v in d.values()]
        out["additionalProperties"] = prune(schema["additionalProperties"], values, f"{where}.*")
    if isinstance(schema.get("items"), dict):
        items = [x for i in instances if isinstance(i, list) for x in i]
        out["items"] = prune(schema["items"], items, f"{where}[]")
    return out


def main(kuberay: str) -> None:
    repo = Path(kuberay)
    version = subprocess.run(["git", "-C", str(repo), "describe", "--tags", "--always"],
                             capture_output=True, text=True).stdout.strip() or "unknown"
    docs = manifests()
    result: dict[str, Any] = {
        "source": f"github.com/ray-project/kuberay {version}, ray-operator/config/crd/bases",
        "generated_by": "docs/kuberay/prune_crd_schemas.py", "kinds": {}}
    for kind, file in CRDS.items():
        crd = yaml.safe_load((repo / "ray-operator" / "config" / "crd" / "bases" / file).read_text())
        version_entry = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
        schema = version_entry["schema"]["openAPIV3Schema"]
        result["kinds"][kind] = prune(schema, docs.get(kind, []), kind)
    (HERE / "crd-schemas.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"wrote {HERE / 'crd-schemas.json'} from KubeRay {version}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(sys.argv[1])
