"""Typed errors keyed by the error codes of protocol/SPEC.md §13 [ERR-1].

Branch on the class or on ``code``, never on the message [ERR-9]. ``retryable`` is what the sender
said, else the registry's value for registry codes and False for any other code [ERR-4, ERR-10].
"""

from __future__ import annotations

from typing import Any, Mapping

#: The registry's ``retryable`` column, per code [ERR-1].
REGISTRY_RETRYABLE: dict[str, bool] = {
    "bad_frame": False,
    "frame_too_large": False,
    "unknown_type": False,
    "unsupported_version": False,
    "unauthorized": False,
    "forbidden": False,
    "not_registered": False,
    "already_registered": False,
    "duplicate_agent": True,
    "invalid_input": False,
    "invalid_output": False,
    "no_agents": True,
    "no_responders": True,
    "unknown_task": False,
    "not_found": False,
    "timeout": True,
    "deadline_exceeded": True,
    "cancelled": False,
    "agent_lost": True,
    "overloaded": True,
    "rate_limited": True,
    "slow_consumer": True,
    "shutting_down": True,
    "pool_supervised": True,
    "bad_workflow": False,
    "unknown_workflow": False,
    "workflow_exists": False,
    "unknown_run": False,
    "mapping_failed": False,
    "limit_exceeded": False,
    "internal": True,
}


class AgentwireError(Exception):
    """Base of every agentwire error: a stable ``code``, a message for people, optional ``details``."""

    code: str = "internal"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        ref: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        self.message = message if message is not None else self.code
        self.details = dict(details) if details is not None else None
        self.ref = ref
        self._retryable = retryable
        super().__init__(self.message)

    @property
    def retryable(self) -> bool:
        if self._retryable is not None:
            return self._retryable
        return REGISTRY_RETRYABLE.get(self.code, False)

    def info(self) -> dict[str, Any]:
        """This error as the ErrorInfo map of a ``result`` or ``response`` [5.24]."""
        out: dict[str, Any] = {"code": self.code, "message": self.message[:4096], "retryable": self.retryable}
        if self.details is not None:
            out["details"] = self.details
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"


class ProtocolError(AgentwireError):
    """A violation of the wire format itself."""


class BadFrameError(ProtocolError):
    code = "bad_frame"


class FrameTooLargeError(ProtocolError):
    code = "frame_too_large"


class UnknownTypeError(ProtocolError):
    code = "unknown_type"


class UnsupportedVersionError(ProtocolError):
    code = "unsupported_version"


class UnauthorizedError(AgentwireError):
    code = "unauthorized"


class ForbiddenError(AgentwireError):
    code = "forbidden"


class NotRegisteredError(AgentwireError):
    code = "not_registered"


class AlreadyRegisteredError(AgentwireError):
    code = "already_registered"


class DuplicateAgentError(AgentwireError):
    code = "duplicate_agent"


class InvalidInputError(AgentwireError):
    """Raise from a handler to reject a task's input [TASK-10]."""

    code = "invalid_input"


class InvalidOutputError(AgentwireError):
    code = "invalid_output"


class NoAgentsError(AgentwireError):
    code = "no_agents"


class NoRespondersError(AgentwireError):
    code = "no_responders"


class UnknownTaskError(AgentwireError):
    code = "unknown_task"


class NotFoundError(AgentwireError):
    code = "not_found"


class TimeoutError(AgentwireError):  # noqa: A001 - the registry's name; also catchable as agentwire.TimeoutError
    code = "timeout"


class DeadlineExceededError(AgentwireError):
    code = "deadline_exceeded"


class CancelledError(AgentwireError):
    """The task was cancelled (not asyncio.CancelledError, which is what a handler sees)."""

    code = "cancelled"


class AgentLostError(AgentwireError):
    code = "agent_lost"


class OverloadedError(AgentwireError):
    code = "overloaded"


class RateLimitedError(AgentwireError):
    code = "rate_limited"


class SlowConsumerError(AgentwireError):
    code = "slow_consumer"


class ShuttingDownError(AgentwireError):
    code = "shutting_down"


class PoolSupervisedError(AgentwireError):
    """v1.2: another live session supervises the pool a ``pool`` frame names (POOL-4)."""

    code = "pool_supervised"


class BadWorkflowError(AgentwireError):
    """v1.2: a workflow definition breaks WF-1..WF-4; ``details["path"]`` names the field (WF-2)."""

    code = "bad_workflow"


class UnknownWorkflowError(AgentwireError):
    """v1.2: no workflow of that name (and version) is registered (WF-2)."""

    code = "unknown_workflow"


class WorkflowExistsError(AgentwireError):
    """v1.2: another definition is registered under that name and version (WF-5)."""

    code = "workflow_exists"


class UnknownRunError(AgentwireError):
    """v1.2: the broker knows no run of that id (WF-20, WF-21)."""

    code = "unknown_run"


class MappingFailedError(AgentwireError):
    """v1.2: a workflow mapping points at a missing value; ``details["pointer"]`` names it (WF-8)."""

    code = "mapping_failed"


class LimitExceededError(AgentwireError):
    """v1.2: a step output or a run's duration passed its definition's limit; ``details["limit"]`` names it (WF-14)."""

    code = "limit_exceeded"


class InternalError(AgentwireError):
    code = "internal"


# Raised by this SDK itself; not wire codes.


class ConnectionLostError(AgentwireError):
    """The connection to the broker closed while the operation was open. Retryable."""

    code = "connection_lost"

    def __init__(self, message: str = "the connection to the broker closed while the operation was open", **kw: Any) -> None:
        kw.setdefault("retryable", True)
        super().__init__(message, **kw)


class ClosedError(AgentwireError):
    """The Agent or Client was closed; no new operation is taken."""

    code = "closed"

    def __init__(self, message: str = "the agentwire session is closed", **kw: Any) -> None:
        super().__init__(message, **kw)


class ConnectError(AgentwireError):
    """The first connect reached no session within its timeout. Retryable: the broker may come up later."""

    code = "connect_failed"

    def __init__(self, message: str, **kw: Any) -> None:
        kw.setdefault("retryable", True)
        super().__init__(message, **kw)


class InvalidPoolOptionsError(AgentwireError, ValueError):
    """``Pool`` options that cannot work (min above max, no command, a bad name, ...)."""

    code = "invalid_pool_options"


ERROR_CLASSES: dict[str, type[AgentwireError]] = {
    cls.code: cls
    for cls in (
        BadFrameError, FrameTooLargeError, UnknownTypeError, UnsupportedVersionError, UnauthorizedError,
        ForbiddenError, NotRegisteredError, AlreadyRegisteredError, DuplicateAgentError, InvalidInputError,
        InvalidOutputError, NoAgentsError, NoRespondersError, UnknownTaskError, NotFoundError, TimeoutError,
        DeadlineExceededError, CancelledError, AgentLostError, OverloadedError, RateLimitedError,
        SlowConsumerError, ShuttingDownError, PoolSupervisedError, BadWorkflowError, UnknownWorkflowError,
        WorkflowExistsError, UnknownRunError, MappingFailedError, LimitExceededError, InternalError,
    )
}


def error_from_code(
    code: str,
    message: str,
    *,
    details: Mapping[str, Any] | None = None,
    ref: str | None = None,
    retryable: bool | None = None,
) -> AgentwireError:
    """The error class of a registry code, or AgentwireError carrying an application code."""
    cls = ERROR_CLASSES.get(code)
    if cls is None:
        return AgentwireError(message, code=code, details=details, ref=ref, retryable=retryable)
    return cls(message, details=details, ref=ref, retryable=retryable)


def error_from_info(info: Mapping[str, Any] | None, *, ref: str | None = None) -> AgentwireError:
    """The error an ErrorInfo map names (``result.error``, ``response.error``)."""
    if not isinstance(info, Mapping):
        return InternalError("failure without error", ref=ref)
    details = info.get("details")
    retryable = info.get("retryable")
    return error_from_code(
        str(info.get("code", "internal")),
        str(info.get("message", "")),
        details=details if isinstance(details, Mapping) else None,
        ref=ref,
        retryable=retryable if isinstance(retryable, bool) else None,
    )
