"""The work an agent holds: task attempts and forwarded requests, each answered at most once.

A task's handler runs as its own asyncio task, so a cancel from the broker or the deadline can cancel
it [TASK-32, TASK-6]; results and answers meant for a session that ended are dropped, since the broker
requeued what that session held [TASK-22].
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from .codec import Frame, decode_payload, encode_payload
from .context import RequestContext, TaskContext, expiry
from .errors import AgentwireError, InvalidInputError
from .trace import TraceContext, reset_trace, use_trace
from .types import Capability

if TYPE_CHECKING:
    from .client import Client
    from .session import Session

log = logging.getLogger("agentwire")

TaskHandler = Callable[[Any, TaskContext], Awaitable[Any]]
RequestHandler = Callable[[Any, RequestContext], Awaitable[Any]]


class _Abandoned(Exception):
    """The attempt reached its deadline here: no result is sent [TASK-35]."""


@dataclass
class CapabilityEntry:
    capability: Capability
    handler: TaskHandler
    parse: Callable[[Any], Any] | None


@dataclass
class _Running:
    ctx: TaskContext
    work: asyncio.Future[Any] | None = None


class Work:
    def __init__(
        self,
        session: "Session",
        client: "Client",
        entries: dict[str, CapabilityEntry],
        responders: dict[str | None, RequestHandler],
        retry_unexpected: bool,
        changed: Callable[[], None],
    ) -> None:
        self.session, self.client = session, client
        self._entries, self._responders, self._retry_unexpected = entries, responders, retry_unexpected
        self._changed = changed
        self.running: dict[tuple[str, int], _Running] = {}
        self.requests: set[asyncio.Task[Any]] = set()
        #: Set while nothing runs.
        self.idle = asyncio.Event()
        self.idle.set()
        self._background: set[asyncio.Future[Any]] = set()

    def _spawn(self, aw: Awaitable[Any]) -> None:
        fut = asyncio.ensure_future(aw)
        self._background.add(fut)
        fut.add_done_callback(self._background.discard)

    def _ended(self) -> None:
        if not self.running and not self.requests:
            self.idle.set()
        self._changed()

    def abandon_all(self, why: str) -> None:
        for run in self.running.values():
            run.ctx.stop(why)
            if run.work is not None:
                run.work.cancel()
        self.running.clear()
        for t in self.requests:
            t.cancel()
        self.requests.clear()
        self.idle.set()

    def cancel(self, frame: Frame) -> None:
        for (task_id, _), run in self.running.items():
            if task_id == frame.get("task_id"):
                run.ctx.stop(frame.get("reason") or "cancelled")
                if run.work is not None:
                    run.work.cancel()  # the handler sees the cancel [TASK-32]

    # ---- tasks ----------------------------------------------------------------------------------

    def start_task(self, frame: Frame) -> None:
        key = (frame["task_id"], frame["attempt"])
        if key in self.running:
            log.warning("duplicate task frame ignored: %s attempt %s", *key)
            return
        session = self.session
        generation = session.generation

        def emit(data: Any) -> None:
            if session.generation == generation:
                session.send({"type": "progress", "task_id": frame["task_id"], "data": encode_payload(data)})

        ctx = TaskContext(frame["task_id"], frame["capability"], frame["attempt"], frame.get("max_attempts", frame["attempt"]),
                          frame.get("priority", "normal"), frame["deadline"], self.client, _expires=expiry(frame), _emit=emit,
                          trace=TraceContext.of(frame))
        run = _Running(ctx)
        self.running[key] = run
        self.idle.clear()
        self._changed()
        self._spawn(self._run_task(frame, key, run, generation))

    async def _run_task(self, frame: Frame, key: tuple[str, int], run: _Running, generation: int) -> None:
        error: dict[str, Any] | None = None
        output: Any = None
        try:
            output = await self._attempt(frame, run)
        except _Abandoned:
            # At its own deadline the agent lets the broker end the task (TASK-33) and sends no result,
            # so it never races the broker's clock [TASK-35]; the next heartbeat shows it gone.
            if self.running.get(key) is run:
                del self.running[key]
                self.session.beat()
                self._ended()
            return
        except AgentwireError as err:
            error = err.info()
        except Exception as err:
            # A bug or a failed dependency: `internal`, final unless the agent says its failures are transient.
            log.warning("handler of %s raised", frame["capability"], exc_info=True)
            error = {"code": "internal", "message": f"{type(err).__name__}: {err}"[:4096], "retryable": self._retry_unexpected}
        if self.running.get(key) is not run:
            return  # abandoned: the session ended, the broker requeued the task
        del self.running[key]
        result: Frame = {"type": "result", "task_id": frame["task_id"], "attempt": frame["attempt"]}
        result.update({"ok": False, "error": error} if error is not None else {"ok": True, "output": encode_payload(output)})
        if self.session.generation == generation:  # a result for an ended session names a requeued task
            self.session.send(result)
        self._ended()

    async def _attempt(self, frame: Frame, run: _Running) -> Any:
        ctx = run.ctx
        entry = self._entries.get(frame["capability"])
        if entry is None:
            raise AgentwireError(f"this agent does not offer {frame['capability']}", code="unknown_capability")
        if ctx.time_left <= 0:  # [TASK-6]
            raise _Abandoned()
        try:
            value = decode_payload(frame["input"])
            if entry.parse is not None:
                value = entry.parse(value)
        except AgentwireError:
            raise
        except Exception as err:
            raise InvalidInputError(str(err) or type(err).__name__) from err
        # The handler's task copies the context now: it runs in the task's trace context [TRACE-8].
        token = use_trace(ctx.trace)
        try:
            run.work = asyncio.ensure_future(entry.handler(value, ctx))
        finally:
            reset_trace(token)
        done, _ = await asyncio.wait({run.work}, timeout=ctx.time_left)
        if not done:  # the deadline passed: abandon the work [TASK-6]
            ctx.stop("deadline_exceeded")
            run.work.cancel()
            self._spawn(asyncio.wait({run.work}))  # let it unwind without holding anything back
            raise _Abandoned()
        if ctx.cancelled.is_set():
            # After the broker's cancel: `cancelled`, final, whatever its reason [TASK-32].
            raise AgentwireError(f"stopped by the broker: {ctx.cancel_reason}", code="cancelled", retryable=False)
        if run.work.cancelled():
            raise AgentwireError("the handler was cancelled", code="cancelled", retryable=False)
        return run.work.result()

    # ---- requests -------------------------------------------------------------------------------

    def start_request(self, frame: Frame) -> None:
        task = asyncio.create_task(self._answer(frame))
        self.requests.add(task)
        self.idle.clear()

        def done(t: asyncio.Task[Any]) -> None:
            self.requests.discard(t)
            self._ended()

        task.add_done_callback(done)

    async def _answer(self, frame: Frame) -> None:
        handler = self._responders.get(frame.get("capability")) or self._responders.get(None)
        if handler is None and len(self._responders) == 1:
            handler = next(iter(self._responders.values()))
        generation = self.session.generation
        ctx = RequestContext(frame["id"], frame.get("from"), frame.get("capability"), frame.get("deadline", 0), self.client, _expires=expiry(frame),
                             trace=TraceContext.of(frame))
        use_trace(ctx.trace)  # this coroutine is the request's own task: its handler runs in the request's trace context
        answer: Frame = {"type": "response", "id": frame["id"]}
        try:
            if handler is None:
                raise AgentwireError("this agent answers no requests", code="no_handler")
            payload = await asyncio.wait_for(handler(decode_payload(frame.get("payload")), ctx), ctx.time_left)
            answer.update(ok=True, payload=encode_payload(payload))
        except asyncio.TimeoutError:
            return  # the caller stopped waiting at the deadline and got `timeout` from the broker [REQ-15]
        except AgentwireError as err:
            answer.update(ok=False, error=err.info())
        except Exception as err:
            log.warning("request handler raised", exc_info=True)
            answer.update(ok=False, error={"code": "internal", "message": f"{type(err).__name__}: {err}"[:4096], "retryable": self._retry_unexpected})
        if self.session.generation == generation and ctx.time_left > 0:  # not after the deadline [REQ-15]
            self.session.send(answer)
