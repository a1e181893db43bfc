"""Aggregation kernels and the aggregation classes (a base-layer package).

Owns: the aggregation protocol (:mod:`.base`: ``AggregateFn``, ``AggregateFnV2``), the
grouping kernel (:mod:`.grouping`: one pyarrow hash aggregation per block), per-group
state helpers (:mod:`.list_states`, :mod:`.python_states`) and the built-in
aggregations (:mod:`.builtins`, :mod:`.collect`, :mod:`.profile`, :mod:`.sketches`).

May import: pyarrow, numpy, cloudpickle and :mod:`streamdata.errors` only. The group-by
operators (``streamdata.exec.shuffle``) import it; users import the public names from
:mod:`streamdata.aggregate`.
"""
