"""Pure block kernels of the all-to-all operations (sort, shuffle, repartition, group-by,
join, sample): functions of ``pyarrow.Table`` s, run inside map and reduce tasks."""
