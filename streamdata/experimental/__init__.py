"""Experimental utilities under Ray's module names (``ray.experimental``)."""
