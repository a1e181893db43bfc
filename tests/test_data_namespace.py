"""``streamdata.data``: Ray Data's names under ``.data`` so ``import streamdata as ray`` works."""

from __future__ import annotations

import subprocess
import sys

import pytest

import streamdata
import streamdata.data


def test_data_names_resolve_to_the_top_level_objects() -> None:
    assert streamdata.data.read_csv is streamdata.read_csv
    assert streamdata.data.Dataset is streamdata.Dataset
    assert streamdata.data.ActorPoolStrategy is streamdata.ActorPoolStrategy
    assert streamdata.data.DatasetContext is streamdata.DataContext
    assert streamdata.data.read_sql is streamdata.read_sql  # a lazy connector too


def test_submodules_as_in_ray() -> None:
    from streamdata.context import DatasetContext
    assert streamdata.data.aggregate.Max is streamdata.aggregate.Max
    assert streamdata.data.preprocessors.MinMaxScaler.__module__ == "streamdata.preprocessors.scaler"
    assert streamdata.data.context.DataContext is DatasetContext


@pytest.mark.parametrize("name", ["remote", "get", "init", "nope"])
def test_core_and_unknown_names_are_not_data_names(name: str) -> None:
    with pytest.raises(AttributeError, match=f"'streamdata.data' has no attribute '{name}'"):
        getattr(streamdata.data, name)


def _printed(tmp_path, source: str) -> list[str]:
    """The lines a program prints, run in a fresh interpreter (it must succeed)."""
    program = tmp_path / "prog.py"
    program.write_text(source)
    out = subprocess.run([sys.executable, str(program)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


def test_a_ray_style_program_runs_with_only_the_import_changed(tmp_path) -> None:
    printed = _printed(tmp_path,
                       "import streamdata as ray\n"
                       "ds = ray.data.from_items([{'x': i} for i in range(6)])\n"
                       "ds = ds.map_batches(lambda b: {'y': b['x'] * 2}, compute=ray.data.TaskPoolStrategy())\n"
                       "print(sorted(r['y'] for r in ray.get(ray.put(ds.take_all()))))\n")
    assert printed[-1] == "[0, 2, 4, 6, 8, 10]"


def test_import_streamdata_does_not_load_the_namespace() -> None:
    code = "import sys, streamdata; print('streamdata.data' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_rays_module_paths_under_data_import() -> None:
    """``from ray.data.<module> import X`` with only ``ray`` changed to ``streamdata``."""
    import importlib

    from streamdata.data import MODULE_PATHS

    for path, origin in MODULE_PATHS.items():
        alias = importlib.import_module(f"streamdata.data.{path}")
        real = importlib.import_module(origin)
        names = getattr(real, "__all__", None) or [n for n in vars(real) if not n.startswith("_")]
        assert names, path
        for name in names:
            assert getattr(alias, name) is getattr(real, name), f"streamdata.data.{path}.{name}"
    from streamdata.data.preprocessors.scaler import MinMaxScaler  # a module below a package
    assert MinMaxScaler is streamdata.preprocessors.MinMaxScaler
    with pytest.raises(ModuleNotFoundError, match="streamdata.data.no_such_module"):
        importlib.import_module("streamdata.data.no_such_module")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("streamdata.data.aggregate.no_such_module")


def test_a_ray_program_with_rays_module_paths_runs(tmp_path) -> None:
    printed = _printed(tmp_path,
                       "import streamdata as ray\n"
                       "from streamdata.data.aggregate import Count, Sum\n"
                       "from streamdata.data.context import DataContext\n"
                       "from streamdata.data.dataset import Dataset\n"
                       "from streamdata.data.preprocessors import StandardScaler\n"
                       "DataContext.get_current().enable_progress_bars = False\n"
                       "ds: Dataset = ray.data.range(10)\n"
                       "print(ds.aggregate(Count(), Sum('id')))\n"
                       "print(StandardScaler(columns=['id']).fit_transform(ds).count())\n")
    assert printed[-2:] == ["{'count()': 10, 'sum(id)': 45}", "10"]


#: Ray 2.60's public ``ray.data.datasource.<module>`` paths and the public names each defines
_RAY_DATASOURCE_MODULES = {
    "partitioning": ["PartitionStyle", "Partitioning", "PathPartitionFilter", "PathPartitionParser"],
    "file_based_datasource": ["FileBasedDatasource", "FileShuffleConfig"],
    "file_datasink": ["BlockBasedFileDatasink", "RowBasedFileDatasink"],
    "filename_provider": ["FilenameProvider"],
    "datasource": ["Datasource", "ReadTask"],
    "datasink": ["Datasink", "WriteResult"],
}


@pytest.mark.parametrize("module", sorted(_RAY_DATASOURCE_MODULES))
def test_rays_datasource_submodules_import(module: str) -> None:
    import importlib

    import streamdata.datasource

    alias = importlib.import_module(f"streamdata.data.datasource.{module}")
    for name in _RAY_DATASOURCE_MODULES[module]:
        assert getattr(alias, name) is getattr(streamdata.datasource, name), f"{module}.{name}"
    assert getattr(streamdata.data.datasource, module) is alias  # as an attribute too, as in Ray


def test_unknown_modules_below_datasource_are_not_found() -> None:
    import importlib

    with pytest.raises(ModuleNotFoundError, match="No module named 'streamdata.data.datasource.path_utils'"):
        importlib.import_module("streamdata.data.datasource.path_utils")
    with pytest.raises(AttributeError):
        streamdata.data.datasource.no_such_name  # noqa: B018


def test_rays_read_images_partitioning_example_runs(tmp_path) -> None:
    """Ray's ``read_images`` docstring: ``from ray.data.datasource.partitioning import
    Partitioning`` and a directory-partitioned read; ``ray.data.range`` used first, so the
    namespace's cached data names (``range`` among them) are in its globals."""
    import numpy as np
    from PIL import Image

    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / label / "0.png")
    printed = _printed(tmp_path,
                       "import streamdata as ray\n"
                       "ray.data.DataContext.get_current().enable_progress_bars = False\n"
                       "print(ray.data.range(2).count())\n"
                       "from streamdata.data.datasource.partitioning import Partitioning\n"
                       f"root = {str(tmp_path)!r}\n"
                       "partitioning = Partitioning('dir', field_names=['class'], base_dir=root)\n"
                       "ds = ray.data.read_images(root, size=(2, 2), partitioning=partitioning)\n"
                       "print(sorted(r['class'] for r in ds.take_all()), ds.schema().names)\n")
    assert printed[-2:] == ["2", "['cat', 'dog'] ['image', 'class']"]
