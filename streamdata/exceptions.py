"""Runtime errors under Ray's module name: ``sd.exceptions.TaskError`` etc.

Ray's names for the same classes are aliases here, so ``except
ray.exceptions.RayTaskError`` keeps working with only the import changed.

Example:
    >>> import streamdata as sd
    >>> sd.exceptions.RayTaskError is sd.exceptions.TaskError
    True
    >>> issubclass(sd.exceptions.ActorDiedError, sd.exceptions.RayActorError)
    True
"""

from streamdata.errors import (  # noqa: F401 - re-exported
    ActorError,
    ActorDiedError,
    ActorUnavailableError,
    GetTimeoutError,
    InfeasiblePlacementGroupError,
    InfeasibleResourceError,
    ObjectFreedError,
    ObjectLostError,
    ObjectReconstructionFailedError,
    ObjectReconstructionFailedLineageEvictedError,
    ObjectReconstructionFailedMaxAttemptsExceededError,
    ObjectStoreFullError,
    OutOfMemoryError,
    PlacementGroupError,
    RuntimeEnvSetupError,
    RuntimeSystemError,
    StreamDataError,
    TaskCancelledError,
    TaskError,
    WorkerCrashedError,
)

#: Ray's names (``ray.exceptions``) for the classes above
RayError = StreamDataError
RaySystemError = RuntimeSystemError
RayTaskError = TaskError
RayActorError = ActorError

__all__ = [
    "ActorError", "RayActorError", "RayError", "RaySystemError", "RayTaskError", "RuntimeSystemError",
    "ActorDiedError", "ActorUnavailableError", "GetTimeoutError", "InfeasiblePlacementGroupError",
    "InfeasibleResourceError", "ObjectFreedError", "ObjectLostError",
    "ObjectReconstructionFailedError", "ObjectReconstructionFailedLineageEvictedError",
    "ObjectReconstructionFailedMaxAttemptsExceededError",
    "ObjectStoreFullError", "OutOfMemoryError", "PlacementGroupError", "RuntimeEnvSetupError", "StreamDataError",
    "TaskCancelledError", "TaskError", "WorkerCrashedError",
]
