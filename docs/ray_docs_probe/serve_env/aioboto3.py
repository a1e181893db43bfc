"""Probe stand-in for ``aioboto3`` (not installed; ``multiplexed.py`` imports it at the top).
There is no S3 here: loading a model through it raises, on either engine."""


class Session:
    def resource(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("aioboto3 stub: no S3 in this probe environment")
