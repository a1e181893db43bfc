"""Pure block kernels of the all-to-all operations (sort, shuffle, repartition, group-by,
join, sample): functions of ``pyarrow.Table`` s, run inside map and reduce tasks.

May import: the base types (:mod:`streamdata.block`, :mod:`streamdata.errors`) and the
aggregation functions. Never operators, the executor, the runtime or the plan.
"""
