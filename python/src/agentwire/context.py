"""What a handler gets besides its input: the task's identity, deadline, progress, cancellation."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .trace import TraceContext

if TYPE_CHECKING:
    from .client import Client


def now_ms() -> int:
    return int(time.time() * 1000)


def expiry(frame: dict[str, Any]) -> float:
    """When a task or request received just now runs out, on this machine's monotonic clock.

    From ``remaining_ms`` (v1.1), so that a skewed clock here does not matter [TASK-34, REQ-16]; from
    ``deadline`` against this machine's clock only for a v1.0 broker, which sends no ``remaining_ms``.
    """
    remaining = frame.get("remaining_ms")
    if not isinstance(remaining, int) or isinstance(remaining, bool):
        deadline = frame.get("deadline")
        remaining = deadline - now_ms() if isinstance(deadline, int) else 10_000
    return time.monotonic() + max(0, remaining) / 1000


@dataclass
class TaskContext:
    """One attempt of a task, as its handler sees it.

    When the broker cancels the task, or its deadline passes, the handler's coroutine is cancelled
    (it sees ``asyncio.CancelledError`` at its next ``await``; use ``try/finally`` to clean up) and
    ``cancelled`` is set, with ``cancel_reason`` ``"deadline_exceeded"`` or the submitter's reason.
    """

    task_id: str
    capability: str
    attempt: int
    max_attempts: int
    priority: str
    #: The broker's deadline, Unix ms on the broker's clock [TASK-5]; ``time_left`` does not depend on it.
    deadline: int
    client: "Client"
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_reason: str | None = None
    _expires: float = field(default=0.0, repr=False)
    _emit: Callable[[Any], None] = field(default=lambda data: None, repr=False)
    #: The W3C trace context of the task (its submit's, TRACE-4); what the handler sends carries it on.
    trace: TraceContext | None = None

    @property
    def time_left(self) -> float:
        """Seconds until the deadline (0 once passed), counted from the broker's ``remaining_ms`` [TASK-34];
        give nested submits and requests at most this [REQ-15]."""
        return max(0.0, self._expires - time.monotonic())

    async def progress(self, data: Any) -> None:
        """Sends a progress update to the submitters [TASK-7]; dropped once the task stopped."""
        if not self.cancelled.is_set():
            self._emit(data)

    def stop(self, reason: str) -> None:
        if not self.cancelled.is_set():
            self.cancel_reason = reason
            self.cancelled.set()


@dataclass
class RequestContext:
    """A request as its responder sees it [REQ-3]."""

    request_id: str
    #: The caller's agent id (``request.from``).
    sender: str | None
    capability: str | None
    #: When the caller stops waiting, Unix ms on the broker's clock.
    deadline: int
    client: "Client"
    _expires: float = field(default=0.0, repr=False)
    #: The W3C trace context of the request (TRACE-4).
    trace: TraceContext | None = None

    @property
    def time_left(self) -> float:
        """Seconds until the caller stops waiting, counted from the broker's ``remaining_ms`` [REQ-16]."""
        return max(0.0, self._expires - time.monotonic())
