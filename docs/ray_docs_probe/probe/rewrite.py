"""The source rewrite every suite applies: only the imports change, as a user ports a program.

One set of rules for all suites (the module name ``ray`` -> ``streamdata``):

    import ray              -> import streamdata as ray
    import ray.M as N       -> import streamdata.M as N
    import ray.M            -> import streamdata.M; import streamdata as ray   (binds ``ray``, as Python does)
    from ray.M import X     -> from streamdata.M import X   (ray.data.M -> streamdata.data.M too)
    from ray import X       -> from streamdata import X

Code such as ``ray.data.read_csv(...)`` runs as written. Paths are mapped for both engines: the
public buckets and ``example://`` (files of Ray's package) to the suite's local stand-ins, and
quoted ``"/tmp/...`` paths to a fresh folder per file, so runs do not see each other's output.
"""
import re

IMPORT_RULES: list[tuple[str, str]] = [
    (r"^(\s*)import ray\s*$", r"\1import streamdata as ray"),
    (r"^(\s*)import ray\.([\w.]+) as ", r"\1import streamdata.\2 as "),
    (r"^(\s*)import ray\.([\w.]+)\s*$", r"\1import streamdata.\2; import streamdata as ray"),
    (r"^(\s*)from ray\.", r"\1from streamdata."),
    (r"^(\s*)from ray import ", r"\1from streamdata import "),
]

# public location -> folder under the suite's stand-in data (standins.py writes the same layout)
PATH_MAP: list[tuple[str, str]] = [
    ("s3://anonymous@ray-example-data/", "ray-example-data/"),
    ("s3://ray-example-data/", "ray-example-data/"),
    ("s3://anonymous@air-example-data/", "air-example-data/"),
    ("s3://anonymous@air-example-data-2/", "air-example-data-2/"),
    ("example://", "example/"),
]


def rewrite_imports(src: str) -> str:
    """``src`` with its ``ray`` imports turned into ``streamdata`` ones (IMPORT_RULES)."""
    for pattern, repl in IMPORT_RULES:
        src = re.sub(pattern, repl, src, flags=re.M)
    return src


def rewrite_paths(src: str, data: str, tmp: str) -> str:
    """``src`` reading the stand-ins under ``data`` and writing ``/tmp/...`` under ``tmp``."""
    for public, local in PATH_MAP:
        src = src.replace(public, f"{data}/{local}")
    return re.sub(r"([\"'])/tmp/", lambda m: m.group(1) + tmp + "/", src)
