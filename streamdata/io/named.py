"""How a connector (a :class:`~streamdata.io.datasource.Datasource` or a
:class:`~streamdata.io.datasink.Datasink`) names itself in plans and stats.

Ours set the class attribute ``name``; a connector written for Ray overrides
``get_name()`` instead, and that name is then the one shown.

Example:
    >>> class Mine(NamedConnector):
    ...     def get_name(self) -> str:
    ...         return "ReadMine"
    >>> Mine().name
    'ReadMine'
"""

from __future__ import annotations

from typing import Any


class NamedConnector:
    """``name`` (a class attribute, or a property over Ray's ``get_name()``) and ``get_name``."""

    #: short name shown in plans and stats, e.g. ``"ReadParquet"``
    name: str = "Connector"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # a connector written for Ray names itself with get_name(): show that name in plans
        if "get_name" in cls.__dict__ and "name" not in cls.__dict__:
            cls.name = property(lambda self: self.get_name())  # type: ignore[assignment]

    def get_name(self) -> str:
        """The name shown in plans (Ray's method; :attr:`name` here)."""
        return self.name
