"""Physical operators, one per module (the all-to-all family in :mod:`.all_to_all`);
:mod:`streamdata.exec.interfaces` is their contract.

Owns the operators (input, task-pool and actor-pool maps with their stages in
:mod:`.map_transformer`, limit, union, zip, output splitter, all-to-all) and the code their
tasks run in workers (:mod:`.map_task`, :mod:`.block_tasks`).

May import: :mod:`streamdata.exec` (interfaces, shuffle kernels), :mod:`streamdata.core`,
the base types. Never the logical plan: operators are built by
:mod:`streamdata.plan.lowering` from plain arguments and specs.
"""
