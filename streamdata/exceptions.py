"""Runtime errors under Ray's module name: ``sd.exceptions.TaskError`` etc.

Ray's names for the same classes are aliases here, so ``except
ray.exceptions.RayTaskError`` keeps working with only the import changed. The failures of
a cluster of machines (``NodeDiedError``, ``OwnerDiedError``, ``ActorUnschedulableError``,
...) are defined so that such ``except`` clauses run; one machine never raises them.

Example:
    >>> import streamdata as sd
    >>> sd.exceptions.RayTaskError is sd.exceptions.TaskError
    True
    >>> issubclass(sd.exceptions.ActorDiedError, sd.exceptions.RayActorError)
    True
"""

from streamdata.errors import (  # noqa: F401 - re-exported
    ActorAlreadyExistsError,
    ActorError,
    ActorDiedError,
    ActorPlacementGroupRemoved,
    ActorUnavailableError,
    ActorUnschedulableError,
    GetTimeoutError,
    InfeasiblePlacementGroupError,
    InfeasibleResourceError,
    LocalRayletDiedError,
    NodeDiedError,
    ObjectFetchTimedOutError,
    ObjectFreedError,
    ObjectLostError,
    ObjectReconstructionFailedError,
    ObjectReconstructionFailedLineageEvictedError,
    ObjectReconstructionFailedMaxAttemptsExceededError,
    ObjectStoreFullError,
    OutOfDiskError,
    OutOfMemoryError,
    OwnerDiedError,
    PendingCallsLimitExceeded,
    PlacementGroupError,
    RuntimeEnvSetupError,
    RuntimeSystemError,
    StreamDataError,
    TaskCancelledError,
    TaskError,
    TaskPlacementGroupRemoved,
    TaskUnschedulableError,
    WorkerCrashedError,
)

#: Ray's names (``ray.exceptions``) for the classes above
RayError = StreamDataError
RaySystemError = RuntimeSystemError
RayTaskError = TaskError
RayActorError = ActorError

__all__ = [
    "ActorError", "RayActorError", "RayError", "RaySystemError", "RayTaskError", "RuntimeSystemError",
    "ActorAlreadyExistsError", "ActorDiedError", "ActorPlacementGroupRemoved", "ActorUnavailableError",
    "ActorUnschedulableError", "GetTimeoutError", "InfeasiblePlacementGroupError", "InfeasibleResourceError",
    "LocalRayletDiedError", "NodeDiedError", "ObjectFetchTimedOutError", "ObjectFreedError", "ObjectLostError",
    "ObjectReconstructionFailedError", "ObjectReconstructionFailedLineageEvictedError",
    "ObjectReconstructionFailedMaxAttemptsExceededError", "ObjectStoreFullError", "OutOfDiskError",
    "OutOfMemoryError", "OwnerDiedError", "PendingCallsLimitExceeded", "PlacementGroupError",
    "RuntimeEnvSetupError", "StreamDataError", "TaskCancelledError", "TaskError", "TaskPlacementGroupRemoved",
    "TaskUnschedulableError", "WorkerCrashedError",
]
