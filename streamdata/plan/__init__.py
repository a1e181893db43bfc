"""Logical plans and their lowering to physical operators.

Owns:

* the logical nodes — frozen dataclasses, one per Dataset operation
  (:mod:`streamdata.plan.logical` re-exports them from ``nodes_base``, ``io_nodes``,
  ``map_nodes``, ``streaming_nodes``, ``all_to_all_nodes``);
* the optimizer — ordered, pure rules (:mod:`streamdata.plan.optimizer`,
  :mod:`streamdata.plan.rules`);
* the lowering — node → physical operator, by ``isinstance`` (:mod:`streamdata.plan.lowering`);
* :class:`~streamdata.plan.cluster.ClusterInfo` — what a plan is compiled for.

May import: :mod:`streamdata.exec` (operators and specs it builds), the base types
(blocks, metadata, read/write tasks, tensor types, errors, context, expressions), and
``io`` 's ``Datasource`` / ``Datasink`` interfaces held by read and write nodes. Never the
runtime's state (it is given the cluster's size and never asks :mod:`streamdata.core`),
never the facade (``dataset``, ``grouped``, ``iterator``, ``read_api``) or
:mod:`streamdata.execution`, never ``train`` / ``serve``.
"""
