"""Logical plans: nodes (:mod:`streamdata.plan.logical`), the optimizer
(:mod:`streamdata.plan.optimizer`, rules in :mod:`streamdata.plan.rules`) and the
planner that lowers them to physical operators (:mod:`streamdata.plan.planner`)."""
