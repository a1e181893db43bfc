"""Execution of physical plans: operators run by the streaming executor on the runtime.

Owns:

* :mod:`.interfaces` — the operator contract (``PhysicalOperator``, ``RefBundle``,
  ``ExecutionOptions``, ``ExecutionResources``);
* :mod:`.operators` — the physical operators (maps, limit, union, zip, output splitter,
  all-to-all);
* :mod:`.executor` — the streaming executor's loop; its pure policies in :mod:`.resources`
  (budgets), :mod:`.backpressure`, :mod:`.autoscaler`; :mod:`.stats`, :mod:`.progress`;
* :mod:`.shuffle` — pure block kernels of the all-to-all operations.

May import: :mod:`streamdata.core` (the runtime's interface) and the base types (blocks,
metadata, read/write tasks, tensor types, errors, context, expressions), and the
aggregation functions. Never the logical plan or its nodes (not even by class name: the
lowering in :mod:`streamdata.plan.lowering` hands it operators and specs), never ``io`` 's
modules, the facade, :mod:`streamdata.execution`, ``train`` or ``serve``.
"""
