"""Ray's ``ray.util.multiprocessing``: a ``multiprocessing.Pool`` whose processes are actors.

Example:
    >>> from streamdata.util.multiprocessing import Pool
    >>> def square(x):
    ...     return x * x
    >>> with Pool(processes=2) as pool:
    ...     pool.map(square, range(5))
    [0, 1, 4, 9, 16]
"""

from __future__ import annotations

from multiprocessing import JoinableQueue, TimeoutError

from streamdata.util.multiprocessing.pool import Pool

__all__ = ["Pool", "TimeoutError", "JoinableQueue"]
