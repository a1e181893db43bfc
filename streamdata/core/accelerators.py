"""Ray's accelerator resources: the resource names whose units are devices with ids, and
the variable in which a task or actor granted some finds its devices.

As in Ray, a task granted ``{"TPU": 1}`` on a node started with
``init(resources={"TPU": 2})`` runs with ``TPU_VISIBLE_CHIPS`` set to its chip, and
``get_runtime_context().get_accelerator_ids()`` lists its ids for every accelerator
resource (``[]`` for the ones it holds none of).

Example:
    >>> visible_env({"GPU": [0, 2], "FURIOSA": [1]})
    {'CUDA_VISIBLE_DEVICES': '0,2', 'FURIOSA_DEVICES': 'npu:1'}
    >>> accelerator_ids({"TPU": [1]})["TPU"], accelerator_ids({})["GPU"]
    (['1'], [])
"""

from __future__ import annotations

#: accelerator resource name -> the variable Ray sets to the devices granted (Ray 2.60's
#: accelerator managers; AMD/Intel/METAX GPUs are "GPU" too, seen through CUDA_VISIBLE_DEVICES here)
VISIBLE_ENV: dict[str, str] = {
    "GPU": "CUDA_VISIBLE_DEVICES",
    "neuron_cores": "NEURON_RT_VISIBLE_CORES",
    "TPU": "TPU_VISIBLE_CHIPS",
    "HPU": "HABANA_VISIBLE_MODULES",
    "NPU": "ASCEND_RT_VISIBLE_DEVICES",
    "RBLN": "RBLN_DEVICES",
    "FURIOSA": "FURIOSA_DEVICES",
    "MBLT": "QBRUNTIME_VISIBLE_DEVICES",
    "TTNPU": "TT_VISIBLE_DEVICES",
}

#: the resources whose units are devices with ids (0, 1, ... on this node)
ACCELERATORS: tuple[str, ...] = tuple(VISIBLE_ENV)

_PREFIX = {"FURIOSA": "npu:"}  # FuriosaAI's runtime names its devices npu:<id>


def visible_env(ids: dict[str, list[int]]) -> dict[str, str]:
    """The variables that show a process the devices ``ids`` (accelerator -> device ids)."""
    return {VISIBLE_ENV[name]: ",".join(f"{_PREFIX.get(name, '')}{i}" for i in devices)
            for name, devices in ids.items() if devices and name in VISIBLE_ENV}


def accelerator_ids(ids: dict[str, list[int]] | None) -> dict[str, list[str]]:
    """``get_accelerator_ids()``'s answer: every accelerator resource, with the ids held as str."""
    ids = ids or {}
    return {name: [str(i) for i in ids.get(name, [])] for name in ACCELERATORS}
