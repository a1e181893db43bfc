"""The execution layer: physical operators (``operators/``) run by the streaming executor
(``executor.py``) on the runtime, within the budgets of ``resources.py`` and the
backpressure of ``backpressure.py``. It never sees logical nodes or the Dataset facade."""
