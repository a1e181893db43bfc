"""Optimizer rules: one ``*Rule`` per module, each a pure rewrite of a logical plan whose
docstring states it as before ⇒ after; :mod:`.base` holds what they share (the
:class:`~streamdata.plan.rules.base.Rule` base, the immutable
:class:`~streamdata.plan.rules.base.OptimizerContext`, the bottom-up rewrite).

Policies decided here are decided only here (e.g. read parallelism,
:func:`streamdata.plan.rules.read_parallelism.read_parallelism`); the lowering reuses them.

May import: the logical nodes (:mod:`streamdata.plan.logical` and the node modules), the
base types, and exec's pure policies that plan and exec must agree on
(:func:`streamdata.exec.resources.normalized_resources`). Never the runtime
(:mod:`streamdata.core`), the lowering, the facade or :mod:`streamdata.execution`.
"""
