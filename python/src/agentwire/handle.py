"""A task as its submitter holds it: its id, its progress as an async iterator, its result, cancel."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Awaitable, Callable, Generator, Generic, TypeVar, Union

from .codec import Frame, decode_payload
from .errors import AgentwireError, error_from_info
from .types import Done, Progress

T = TypeVar("T")
TaskEvent = Union[Progress[Any], Done[Any]]


class TaskHandle(Generic[T]):
    """Returned by ``Client.submit`` once the broker accepted the task [TASK-3].

    ``await handle`` (or ``await handle.result()``) is the output, or raises the error class of the
    result's code; ``async for event in handle`` yields each Progress in order, then Done; every
    iteration sees every event from the start.
    """

    def __init__(self, task_id: str, duplicate: bool, canceller: Callable[[str, str | None], Awaitable[None]]) -> None:
        self.id = task_id
        #: True when an idempotency key matched an earlier task [TASK-26].
        self.duplicate = duplicate
        #: The attempt that ended the task, once it ended and when the broker said [TASK-11].
        self.attempt: int | None = None
        self._canceller = canceller
        self._events: list[TaskEvent] = []
        self._changed = asyncio.Event()
        self._outcome: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._outcome.add_done_callback(lambda f: f.cancelled() or f.exception())  # nobody has to look

    @property
    def done(self) -> bool:
        return self._outcome.done()

    async def result(self) -> T:
        return await asyncio.shield(self._outcome)

    def __await__(self) -> Generator[Any, None, T]:
        return self.result().__await__()

    async def cancel(self, reason: str | None = None) -> None:
        """Cancels the task; returns once the broker acknowledged. The result then raises CancelledError."""
        await self._canceller(self.id, reason)

    async def progress(self) -> AsyncIterator[Any]:
        """The progress updates alone, ending when the task ends (raising its error if it failed)."""
        async for event in self:
            if isinstance(event, Progress):
                yield event.data

    async def __aiter__(self) -> AsyncIterator[TaskEvent]:
        i = 0
        while True:
            if i < len(self._events):
                i += 1
                yield self._events[i - 1]
                continue
            if self._outcome.done():
                self._outcome.result()  # raises the task's error
                return
            self._changed.clear()
            await self._changed.wait()

    # ---- fed by the session (TaskWatcher) -------------------------------------------------------

    def progress_frame(self, data: bytes) -> None:
        if not self._outcome.done():
            self._events.append(Progress(decode_payload(data)))
            self._changed.set()

    def result_frame(self, frame: Frame) -> None:
        self.attempt = frame.get("attempt")
        if frame.get("ok"):
            output = decode_payload(frame.get("output"))
            self._events.append(Done(output))
            self._settle(lambda f: f.set_result(output))
        else:
            self.fail(error_from_info(frame.get("error"), ref=self.id))

    def fail(self, err: AgentwireError) -> None:
        self._settle(lambda f: f.set_exception(err))

    def _settle(self, how: Callable[[asyncio.Future[T]], None]) -> None:
        if not self._outcome.done():
            how(self._outcome)
            self._changed.set()


class _Watcher:
    """Adapts a handle to the session's TaskWatcher protocol."""

    def __init__(self, handle: TaskHandle[Any]) -> None:
        self.handle = handle

    def progress(self, data: bytes) -> None:
        self.handle.progress_frame(data)

    def result(self, frame: Frame) -> None:
        self.handle.result_frame(frame)

    def fail(self, err: AgentwireError) -> None:
        self.handle.fail(err)


def watcher(handle: TaskHandle[Any]) -> _Watcher:
    return _Watcher(handle)
