"""Runtime errors under Ray's module name: ``sd.exceptions.TaskError`` etc."""

from streamdata.errors import (  # noqa: F401 - re-exported
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
    StreamDataError,
    TaskCancelledError,
    TaskError,
    WorkerCrashedError,
)

__all__ = [
    "ActorDiedError", "ActorUnavailableError", "GetTimeoutError", "InfeasiblePlacementGroupError",
    "InfeasibleResourceError", "ObjectFreedError", "ObjectLostError",
    "ObjectReconstructionFailedError", "ObjectReconstructionFailedLineageEvictedError",
    "ObjectReconstructionFailedMaxAttemptsExceededError",
    "ObjectStoreFullError", "OutOfMemoryError", "PlacementGroupError", "StreamDataError",
    "TaskCancelledError", "TaskError", "WorkerCrashedError",
]
