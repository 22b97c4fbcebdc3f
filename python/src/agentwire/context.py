"""What a handler gets besides its input: the task's identity, deadline, progress, cancellation."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .client import Client


def now_ms() -> int:
    return int(time.time() * 1000)


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
    #: The broker's deadline, Unix ms [TASK-5]; compared with this machine's clock.
    deadline: int
    client: "Client"
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_reason: str | None = None
    _emit: Callable[[Any], None] = field(default=lambda data: None, repr=False)

    @property
    def time_left(self) -> float:
        """Seconds until the deadline (0 once passed); give nested submits and requests at most this [REQ-15]."""
        return max(0.0, (self.deadline - now_ms()) / 1000)

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
    #: When the caller stops waiting, Unix ms.
    deadline: int
    client: "Client"

    @property
    def time_left(self) -> float:
        return max(0.0, (self.deadline - now_ms()) / 1000)
