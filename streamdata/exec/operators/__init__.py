"""Physical operators, one per module; :mod:`streamdata.exec.interfaces` is their contract."""
