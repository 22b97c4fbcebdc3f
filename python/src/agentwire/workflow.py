"""Workflow runs (protocol/SPEC.md §21): a definition is data, the broker runs it.

A definition is a dict in the document format of ``protocol/schema/workflow.schema.json`` (``ref``
and ``tpl`` write its mapping parts); ``Client.run_workflow`` starts a run and returns its RunHandle.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Generator, Generic, Mapping, TypeVar

from .codec import Frame, decode_payload
from .errors import AgentwireError, error_from_info

T = TypeVar("T")


def ref(pointer: str) -> dict[str, str]:
    """``{"$ref": pointer}``: the value at a JSON Pointer into the run's context (WF-7)."""
    return {"$ref": pointer}


def tpl(text: str) -> dict[str, str]:
    """``{"$tpl": text}``: the text with each ``${/pointer}`` replaced by the value it points to (WF-7)."""
    return {"$tpl": text}


@dataclass(frozen=True)
class RunEvent:
    """One transition of a run or of one of its steps, as the broker sent it (WF-22)."""

    type: str
    #: Unix ms on the broker's clock.
    at: int
    step: str | None = None
    attempt: int | None = None
    task_id: str | None = None
    delay_ms: int | None = None
    error: Mapping[str, Any] | None = None

    @staticmethod
    def from_frame(frame: Frame) -> "RunEvent":
        return RunEvent(frame["event"], frame["at"], frame.get("step"), frame.get("attempt"), frame.get("task_id"),
                        frame.get("delay_ms"), frame.get("error"))


class RunHandle(Generic[T]):
    """A workflow run, returned by ``Client.run_workflow`` once the broker accepted it [WF-17].

    ``await handle`` (or ``await handle.result()``) is the run's output, or raises the error class of
    its code; ``async for event in handle.events()`` yields every RunEvent from the start and ends
    with the run; ``cancel()`` cancels it [WF-20].
    """

    def __init__(self, run_id: str, canceller: Callable[[str], Awaitable[None]]) -> None:
        self.id = run_id
        self._canceller = canceller
        self._events: list[RunEvent] = []
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

    async def cancel(self) -> None:
        """Cancels the run; returns once the broker acknowledged. The result then raises CancelledError."""
        await self._canceller(self.id)

    async def events(self) -> AsyncIterator[RunEvent]:
        """Every event of the run in order, ending once the run ended (its outcome is ``result()``'s)."""
        i = 0
        while True:
            if i < len(self._events):
                i += 1
                yield self._events[i - 1]
                continue
            if self._outcome.done():
                return
            self._changed.clear()
            await self._changed.wait()

    # ---- fed by the session (RunWatcher) --------------------------------------------------------

    def event(self, frame: Frame) -> None:
        if not self._outcome.done():
            self._events.append(RunEvent.from_frame(frame))
            self._changed.set()

    def result_frame(self, frame: Frame) -> None:
        if frame.get("ok"):
            output = decode_payload(frame.get("output"))
            self._settle(lambda f: f.set_result(output))
        else:
            self.fail(error_from_info(frame.get("error"), ref=self.id))

    def fail(self, err: AgentwireError) -> None:
        self._settle(lambda f: f.set_exception(err))

    def _settle(self, how: Callable[[asyncio.Future[T]], None]) -> None:
        if not self._outcome.done():
            how(self._outcome)
            self._changed.set()


class _RunWatcher:
    """Adapts a handle to the session's RunWatcher protocol."""

    def __init__(self, handle: RunHandle[Any]) -> None:
        self.handle = handle

    def event(self, frame: Frame) -> None:
        self.handle.event(frame)

    def result(self, frame: Frame) -> None:
        self.handle.result_frame(frame)

    def fail(self, err: AgentwireError) -> None:
        self.handle.fail(err)


def run_watcher(handle: RunHandle[Any]) -> _RunWatcher:
    return _RunWatcher(handle)
