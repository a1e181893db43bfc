"""The one error hierarchy of streamdata.

Every error streamdata raises on purpose derives from :class:`StreamDataError`
and, where one fits, from the builtin a Python user would catch
(``ValueError``, ``TimeoutError``, ``KeyError``...).

Example:
    >>> from streamdata.errors import ColumnNotFoundError
    >>> err = ColumnNotFoundError("x", ["a", "b"])
    >>> str(err)
    "column 'x' not in ['a', 'b']"
    >>> isinstance(err, KeyError)
    True
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable


class StreamDataError(Exception):
    """Root of every error streamdata raises on purpose."""


# --------------------------------------------------------------------------- runtime


class RuntimeSystemError(StreamDataError):
    """A failure of the runtime itself (not of user code)."""


class TaskError(StreamDataError):
    """A task or actor method raised. ``sd.get`` raises it.

    The instance ``get`` raises is also an instance of the user's exception
    class (see :meth:`TaskError.wrap`), so ``except ValueError`` still works.
    ``cause`` is the original exception (when it could be unpickled) and
    ``remote_traceback`` the formatted traceback from the worker.
    """

    def __init__(self, message: str = "", *, cause: BaseException | None = None,
                 remote_traceback: str = "", function_name: str = "") -> None:
        # not super(): in a wrapped class the next __init__ is the user's, whose
        # signature is unknown (ColumnNotFoundError needs two arguments)
        Exception.__init__(self, message)
        self.cause = cause
        self.remote_traceback = remote_traceback
        self.function_name = function_name

    #: show the engine's own frames in the remote traceback (Ray Data's
    #: ``DataContext.log_internal_stack_trace``); by default only the user's frames
    internal_frames: bool = False
    #: what the task was working on (a file, a block), named in the first line
    failed_input: str = ""

    def __str__(self) -> str:
        head = f"{self.function_name} failed" if self.function_name else "task failed"
        if self.failed_input:
            head += f" on {self.failed_input}"
        cause = self.cause
        what = f"{type(cause).__name__}: {cause}" if cause is not None else (self.args[0] if self.args else "")
        text = f"{head}: {what}"
        tb = self.remote_traceback if self.internal_frames else user_frames(self.remote_traceback)
        if tb:
            text += "\n\nRemote traceback (most recent call last):\n" + tb.rstrip()
        return text

    @staticmethod
    def wrap(cause: BaseException, remote_traceback: str, function_name: str) -> "TaskError":
        """Build a TaskError that is also an instance of ``type(cause)``."""
        cause_cls = type(cause)
        if isinstance(cause, TaskError):
            return cause
        try:
            cls = _task_error_class(cause_cls)
            err = cls.__new__(cls)
            err.args = cause.args
            TaskError.__init__(err, str(cause), cause=cause, remote_traceback=remote_traceback,
                               function_name=function_name)
            err.args = cause.args
            # the cause's own attributes (`err.path`, `err.code`...) win over what
            # TaskError.__init__ may have set through a shared base class
            try:
                err.__dict__.update({k: v for k, v in vars(cause).items()
                                     if k not in ("cause", "remote_traceback", "function_name")})
            except TypeError:
                pass
            return err
        except Exception:  # an exotic exception class (e.g. final, C-level layout conflict)
            return TaskError(str(cause), cause=cause, remote_traceback=remote_traceback,
                             function_name=function_name)


_TASK_ERROR_CLASSES: dict[type, type] = {}
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_frames(remote_traceback: str) -> str:
    r"""The frames of a formatted traceback that are not streamdata's own (each with its
    source lines), without the header and the final exception line (the error's first
    line says it); "" when no user frame is left.

    Example:
        >>> import os
        >>> tb = ('Traceback (most recent call last):\n'
        ...       f'  File "{_PACKAGE_DIR}core{os.sep}worker.py", line 1, in run\n    fn()\n'
        ...       '  File "/home/me/job.py", line 7, in udf\n    raise ValueError("x")\n'
        ...       'ValueError: x\n')
        >>> print(user_frames(tb))
          File "/home/me/job.py", line 7, in udf
            raise ValueError("x")
    """
    ray = sys.modules.get("ray")
    ray_dir = os.path.dirname(os.path.abspath(ray.__file__)) + os.sep if getattr(ray, "__file__", None) else None
    kept: list[str] = []
    keep = False
    for line in remote_traceback.splitlines():
        if line.startswith('  File "'):
            path = line[len('  File "'):].split('"', 1)[0]
            path = os.path.abspath(path)
            keep = not path.startswith(_PACKAGE_DIR) and not (ray_dir and path.startswith(ray_dir))
        elif not line.startswith("    "):  # a header, a chaining message, the exception line
            keep = False
            continue
        if keep:
            kept.append(line)
    return "\n".join(kept)


def _task_error_class(cause_cls: type) -> type:
    cls = _TASK_ERROR_CLASSES.get(cause_cls)
    if cls is None:
        cls = type(f"TaskError({cause_cls.__name__})", (TaskError, cause_cls), {
            "__str__": TaskError.__str__,
            "__module__": __name__,
            # pickle back to a plain TaskError carrying the cause
            "__reduce__": lambda self: (_rebuild_task_error,
                                        (self.cause, self.remote_traceback, self.function_name)),
        })
        _TASK_ERROR_CLASSES[cause_cls] = cls
    return cls


def _rebuild_task_error(cause: BaseException, tb: str, name: str) -> TaskError:
    return TaskError.wrap(cause, tb, name)


class ActorError(RuntimeSystemError):
    """A call could not run because of its actor's state (Ray's ``RayActorError``): the
    base of :class:`ActorDiedError` and :class:`ActorUnavailableError`."""


class ActorDiedError(ActorError):
    """The actor died (its process exited or it was killed) and will not restart."""


class ActorUnavailableError(ActorError):
    """The actor is restarting; the call was not delivered."""


class WorkerCrashedError(RuntimeSystemError):
    """The worker process running the task died and retries were exhausted."""


class GetTimeoutError(RuntimeSystemError, TimeoutError):
    """``sd.get(..., timeout=...)`` expired before the object was ready."""


class ObjectLostError(RuntimeSystemError):
    """The object's value is gone (its storage was lost) and cannot be rebuilt."""


class ObjectFreedError(ObjectLostError):
    """The object was freed (every reference to it dropped) before it was read."""


class ObjectReconstructionFailedError(ObjectLostError):
    """The object was lost and re-executing the task that made it is not possible
    (an actor task without ``max_task_retries``, a dead actor, an argument that is gone)."""


class ObjectReconstructionFailedMaxAttemptsExceededError(ObjectReconstructionFailedError):
    """The object was lost and the task that made it has no retries left (``max_retries``)."""


class ObjectReconstructionFailedLineageEvictedError(ObjectReconstructionFailedError):
    """The object was lost and the lineage needed to rebuild it is gone (an argument of
    its task, created by ``put``, was freed)."""


class ObjectStoreFullError(RuntimeSystemError, MemoryError):
    """The object store is full and spilling could not make room."""


class OutOfMemoryError(RuntimeSystemError, MemoryError):
    """A worker was killed because the machine ran out of memory."""


class TaskCancelledError(RuntimeSystemError):
    """The task was cancelled with ``sd.cancel`` before it finished."""


class PlacementGroupError(RuntimeSystemError, ValueError):
    """A placement group request is invalid or was removed."""


class InfeasibleResourceError(RuntimeSystemError, ValueError):
    """A resource request that no resource of this machine can ever meet
    (e.g. ``num_cpus=100`` on 8 CPUs, ``num_gpus=1`` with no GPU declared, a custom
    resource the runtime was not started with). The local runtime fails such a
    request at once; a Ray cluster (``sd.init(backend="ray")``) waits for a node
    that has it, as Ray does."""


class InfeasiblePlacementGroupError(PlacementGroupError, InfeasibleResourceError):
    """A placement group bundle that no resource of this machine can ever meet."""


class RuntimeEnvSetupError(RuntimeSystemError):
    """A task's or actor's runtime environment could not be set up in its worker (its
    ``worker_process_setup_hook`` raised, or could not be imported or unpickled)."""


class ActorAlreadyExistsError(RuntimeSystemError, ValueError):
    """An actor was created with a ``name`` that a live actor of the namespace has."""


# Ray's failures of a cluster of machines: one machine never raises them, and they are
# defined so that a Ray program's ``except ray.exceptions.<Name>`` runs as written.


class NodeDiedError(RuntimeSystemError):
    """(Ray) The node running the task or actor died."""


class LocalRayletDiedError(RuntimeSystemError):
    """(Ray) The local node manager died."""


class OwnerDiedError(ObjectLostError):
    """(Ray) The process that owned the object died."""


class ObjectFetchTimedOutError(ObjectLostError):
    """(Ray) Fetching the object from another node timed out."""


class ActorUnschedulableError(RuntimeSystemError):
    """(Ray) No node can host the actor (its placement constraints cannot be met)."""


class TaskUnschedulableError(RuntimeSystemError):
    """(Ray) No node can run the task (its placement constraints cannot be met)."""


class ActorPlacementGroupRemoved(RuntimeSystemError):
    """(Ray) The actor's placement group was removed."""


class TaskPlacementGroupRemoved(RuntimeSystemError):
    """(Ray) The task's placement group was removed."""


class PendingCallsLimitExceeded(RuntimeSystemError):
    """(Ray) The actor's ``max_pending_calls`` was reached."""


class OutOfDiskError(RuntimeSystemError):
    """(Ray) The node's disk is full."""


class RuntimeNotInitializedError(RuntimeSystemError):
    """An operation needs ``sd.init()`` and it could not run implicitly."""


# --------------------------------------------------------------------------- plan / data


class PlanError(StreamDataError, ValueError):
    """An invalid logical plan (bad arguments to a Dataset method)."""


class SchemaError(PlanError):
    """Schemas are incompatible (e.g. a union of mismatched schemas)."""


class ColumnNotFoundError(SchemaError, KeyError):
    """A column name that the data does not have.

    Example:
        >>> str(ColumnNotFoundError("x", ["a"])), str(ColumnNotFoundError("x", ["a"], where="Concatenator"))
        ("column 'x' not in ['a']", "Concatenator: column 'x' not in ['a']")
    """

    def __init__(self, column: str, available: Iterable[str], where: str = "") -> None:
        self.column = column
        self.available = list(available)
        self.where = where
        super().__init__(f"{where + ': ' if where else ''}column {column!r} not in {self.available}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])

    def __reduce__(self) -> tuple:  # rebuilt with every argument when crossing processes
        return (type(self), (self.column, self.available, self.where))


class UDFReturnError(StreamDataError, ValueError):
    """A user function returned a value of the wrong shape or type."""


class TensorRequiresGradError(UDFReturnError):
    """A column holds a ``torch.Tensor`` that requires grad (with grad mode on): it cannot
    become Arrow data without dropping its autograd graph, so, as Ray, it is refused, not
    silently detached. ``column`` and ``what`` (the operator's UDF, or ``from_items``) are
    None until the code that knows them fills them in.

    Example:
        >>> print(TensorRequiresGradError("x", "map_batches UDF"))
        map_batches UDF returned column 'x' holding a torch.Tensor that requires grad; return tensor.detach() (or build it under torch.no_grad())
    """

    def __init__(self, column: str | None = None, what: str | None = None) -> None:
        self.column = column
        self.what = what
        where = f"{what or 'a UDF'} returned " + ("a value" if column is None else f"column {column!r}")
        super().__init__(f"{where} holding a torch.Tensor that requires grad; return "
                         "tensor.detach() (or build it under torch.no_grad())")

    def __reduce__(self) -> tuple:  # rebuilt with its column when crossing processes
        return (type(self), (self.column, self.what))


class DataSourceError(StreamDataError):
    """Reading a source failed (a malformed file, an unreachable location)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path

    def __reduce__(self) -> tuple:  # keep ``path`` when crossing processes
        return (type(self), (self.args[0] if self.args else "",), {"path": self.path})


class DataSinkError(StreamDataError):
    """Writing to a sink failed; nothing was made visible at the destination."""


class ExecutionError(StreamDataError):
    """The streaming executor failed for a reason other than a user error."""


def describe(value: Any) -> str:
    """A short description of a value for error messages.

    Example:
        >>> describe([1, 2, 3])
        'list of 3 items'
    """
    if isinstance(value, (list, tuple, dict, set)):
        return f"{type(value).__name__} of {len(value)} items"
    return type(value).__name__


class DestinationExistsError(DataSinkError, FileExistsError):
    """A write with ``mode="error"`` found data already at the destination (io)."""


class TrainingFailedError(StreamDataError):
    """``sd.train.run``: a worker failed (``train_fn`` raised or its process died)
    more often than ``max_failures`` allows.

    ``__cause__`` is the last worker error and ``result`` the run's
    :class:`~streamdata.train.Result` (metrics and checkpoint reached so far,
    ``result.error`` set), as Ray's ``TrainingFailedError``.
    """

    def __init__(self, message: str, *, result: Any = None) -> None:
        super().__init__(message)
        self.result = result

    def __reduce__(self) -> tuple:  # keep ``result`` when crossing processes
        return (type(self), (self.args[0] if self.args else "",), {"result": self.result})


class WorkerGroupError(TrainingFailedError):
    """``sd.train``: the training workers failed (``train_fn`` raised or a worker process
    died) more often than ``FailureConfig.max_failures`` allows (Ray Train's name).

    ``worker_failures`` maps the world rank of each worker known to have failed to its error.
    """

    def __init__(self, error_message: str, worker_failures: dict[int, BaseException] | None = None, *,
                 result: Any = None) -> None:
        super().__init__(error_message, result=result)
        self.worker_failures = dict(worker_failures or {})

    def __reduce__(self) -> tuple:
        return (type(self), (self.args[0] if self.args else "", self.worker_failures), {"result": self.result})


class NCCLHangError(WorkerGroupError):
    """``sd.train``: a collective operation of the workers hung (Ray Train's name)."""


class ControllerError(TrainingFailedError):
    """``sd.train``: the run's controller failed (Ray Train's name; the controller is the
    driver's loop here). ``controller_failure`` is its error."""

    def __init__(self, controller_failure: BaseException, *, result: Any = None) -> None:
        super().__init__(f"the training controller failed: {type(controller_failure).__name__}: "
                         f"{controller_failure}", result=result)
        self.controller_failure = controller_failure

    def __reduce__(self) -> tuple:
        return (type(self), (self.controller_failure,), {"result": self.result})


class PreemptionError(TrainingFailedError):
    """``sd.train``: workers were preempted more often than allowed (Ray Train's name; one
    local machine is never preempted, so streamdata never raises it)."""

    def __init__(self, drain_timed_out: bool = False, preemption_info: Any = None, *, result: Any = None) -> None:
        super().__init__(f"training workers were preempted (drain_timed_out={drain_timed_out})", result=result)
        self.drain_timed_out = drain_timed_out
        self.preemption_info = preemption_info

    def __reduce__(self) -> tuple:
        return (type(self), (self.drain_timed_out, self.preemption_info), {"result": self.result})


class RayServeException(StreamDataError):
    """``sd.serve``: the base of Serve's errors (Ray's ``ray.serve.exceptions`` names)."""


class BackPressureError(RayServeException, RuntimeError):
    """``sd.serve``: every replica of a deployment has ``max_ongoing_requests`` requests
    in flight and the request was refused (the HTTP ingress answers 503)."""


class RequestCancelledError(RayServeException, TaskCancelledError):
    """``sd.serve``: the request was cancelled (``response.cancel()``) before it answered."""


class DeploymentUnavailableError(RayServeException):
    """(Ray) ``sd.serve``: the deployment cannot take requests (it failed to deploy)."""


class ReplicaUnavailableError(RayServeException):
    """(Ray) ``sd.serve``: the replica a request was sent to is gone."""
