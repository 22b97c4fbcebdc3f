"""An agent: capability handlers on top of a Session.

Decorators collect handlers; ``start()`` registers them, heartbeats with load at the interval the
broker announces, runs a health check, and reconnects (same agent id, subscriptions restored) until
``drain()`` or ``close()``. ``run()`` also drains on SIGTERM and SIGINT.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Sequence, TypeVar

from .client import Client, MessageHandler
from .codec import Frame, decode_payload, encode_payload
from .connection import Session
from .context import RequestContext, TaskContext, expiry
from .errors import AgentwireError, InvalidInputError
from .types import AgentStatus, Backoff, Capability, Message

log = logging.getLogger("agentwire")

TaskHandler = Callable[[Any, TaskContext], Awaitable[Any]]
RequestHandler = Callable[[Any, RequestContext], Awaitable[Any]]
HealthCheck = Callable[[], "bool | Awaitable[bool]"]
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_CAPACITY = 16


class _Abandoned(Exception):
    """The attempt reached its deadline here: no result is sent [TASK-35]."""


@dataclass(frozen=True)
class DrainReport:
    """Whether all work finished within the drain timeout, and the task ids released to be requeued."""

    settled: bool
    released: list[str]


@dataclass
class _Entry:
    capability: Capability
    handler: TaskHandler
    parse: Callable[[Any], Any] | None


@dataclass
class _Running:
    ctx: TaskContext
    work: asyncio.Future[Any] | None = None


class Agent:
    def __init__(
        self,
        url: str,
        *,
        name: str,
        agent_id: str | None = None,
        token: str | None = None,
        capacity: int = DEFAULT_CAPACITY,
        tier: int | None = None,
        tags: Sequence[str] = (),
        heartbeat_interval: float | None = None,
        health_check: HealthCheck | None = None,
        health_check_interval: float = 10.0,
        backoff: Backoff | None = None,
        retry_unexpected_errors: bool = False,
        on_goaway: Callable[[str, float], "Awaitable[None] | None"] | None = None,
    ) -> None:
        """``on_goaway(reason, grace_seconds)`` replaces the default on broker shutdown: drain this
        session (finish the work, close with 1000), then reconnect [SHUT-6]."""
        self.capacity = capacity
        self._tier, self._tags = tier, list(tags)
        self._health_check, self._health_every = health_check, health_check_interval
        self._retry_unexpected = retry_unexpected_errors
        self._on_goaway = on_goaway
        self._entries: dict[str, _Entry] = {}
        self._responders: dict[str | None, RequestHandler] = {}
        self._topics: list[tuple[str, MessageHandler]] = []
        self._message_handler: MessageHandler | None = None
        self._running: dict[tuple[str, int], _Running] = {}
        self._requests: set[asyncio.Task[Any]] = set()
        self._background: set[asyncio.Future[Any]] = set()
        self._healthy = True
        self._draining = False  # for good: drain() or close()
        self._session_draining = False  # this session only: after goaway, until the next registered
        self._last_status: AgentStatus = "ready"
        self._idle = asyncio.Event()
        self._idle.set()
        self._health_task: asyncio.Task[None] | None = None
        self.session = Session(url, name=name, agent_id=agent_id, token=token, offer=self._offer, load=self._load,
                               backoff=backoff, heartbeat_interval=heartbeat_interval)
        self.client = Client(self.session)
        h = self.session.handlers
        h.task, h.cancel, h.request, h.goaway = self._on_task, self._on_cancel, self._on_request, self._on_goaway_frame
        h.message, h.lost, h.ready = self._on_direct, self._on_lost, self._on_ready

    # ---- declaring what the agent does ----------------------------------------------------------

    def capability(
        self,
        name: str,
        *,
        version: str = "1.0.0",
        description: str | None = None,
        tags: Sequence[str] = (),
        input_schema: Mapping[str, Any] | None = None,
        output_schema: Mapping[str, Any] | None = None,
        parse: Callable[[Any], Any] | None = None,
    ) -> Callable[[F], F]:
        """Decorates ``async def handler(input, ctx)`` as the handler of a capability.

        ``parse`` checks or converts the input before the handler runs; any exception it raises
        fails the task with ``invalid_input`` [TASK-10]. The schemas go to the registry as they are.
        """
        def register(handler: F) -> F:
            if not inspect.iscoroutinefunction(handler):
                raise TypeError(f"capability {name}: the handler must be an async function")
            cap = Capability(name, version, description, tuple(tags), input_schema, output_schema)
            self._entries[name] = _Entry(cap, handler, parse)
            return handler
        return register

    def respond(self, capability: str | None = None) -> Callable[[F], F]:
        """Decorates ``async def handler(payload, ctx)`` answering requests for ``capability`` (None: any request)."""
        def register(handler: F) -> F:
            self._responders[capability] = handler
            return handler
        return register

    def on_message(self, handler: F) -> F:
        """Decorates the handler of direct messages (``send``) to this agent."""
        self._message_handler = handler
        return handler

    def on(self, pattern: str) -> Callable[[F], F]:
        """Decorates a handler of messages published to topics matching ``pattern`` (subscribed on start)."""
        def register(handler: F) -> F:
            self._topics.append((pattern, handler))
            return handler
        return register

    # ---- state ----------------------------------------------------------------------------------

    @property
    def id(self) -> str | None:
        return self.session.agent_id

    @property
    def in_flight(self) -> int:
        return len(self._running)

    @property
    def status(self) -> AgentStatus:
        if self._draining or self._session_draining:
            return "draining"
        if not self._healthy:
            return "unhealthy"
        return "busy" if len(self._running) >= self.capacity else "ready"

    def _offer(self) -> dict[str, Any]:
        caps = [e.capability.wire() for e in self._entries.values()]
        caps += [{"name": n} for n in self._responders if n is not None and n not in self._entries]
        return {"capabilities": caps, "capacity": self.capacity, "tier": self._tier, "tags": self._tags or None}

    def _load(self) -> dict[str, Any]:
        return {"in_flight": len(self._running), "capacity": self.capacity, "status": self.status}

    def _status_changed(self) -> None:
        # Heartbeat at once when the status changes, so the broker routes by it without waiting a period.
        status = self.status
        if status != self._last_status:
            self._last_status = status
            self.session.beat()

    def _maybe_idle(self) -> None:
        if not self._running and not self._requests:
            self._idle.set()
            if self._session_draining and not self._draining:
                self.session.reconnect(1000)  # [DRAIN-5], then serve again on a new session [SHUT-6]

    # ---- lifetime -------------------------------------------------------------------------------

    async def start(self, *, timeout: float | None = 5.0) -> "Agent":
        """Connects and registers; raises ConnectError after ``timeout`` seconds, or the broker's refusal."""
        await self._check_health()
        if self._health_check is not None:
            self._health_task = asyncio.create_task(self._health_loop())
        try:
            await self.session.start(timeout=timeout)
        except BaseException:
            if self._health_task is not None:
                self._health_task.cancel()
            raise
        for pattern, handler in self._topics:
            await self.client.subscribe(pattern, handler)
        return self

    async def run(self, *, drain_timeout: float = 30.0, timeout: float | None = 5.0) -> None:
        """Starts, serves until closed, and drains on SIGTERM or SIGINT."""
        await self.start(timeout=timeout)
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, lambda: self._spawn(self.drain(drain_timeout)))
        try:
            await self.session.wait_closed()
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    async def drain(self, timeout: float = 30.0) -> DrainReport:
        """Graceful stop: the broker routes nothing new here, running work finishes (at most ``timeout``
        seconds), then the agent closes with 1000. Tasks still running then are released: the broker
        requeues them as for any lost agent [TASK-22]."""
        if not self._draining:
            self._draining = True
            self._status_changed()
            if self.session.is_ready:
                try:
                    await self.session.call({"type": "drain", "ref": self.session.next_id("d")})  # [DRAIN-1]
                except AgentwireError as err:
                    log.warning("drain not acknowledged: %s", err)
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            settled = True
        except asyncio.TimeoutError:
            settled = False
        released = sorted({key[0] for key in self._running})
        await self.close()
        return DrainReport(settled, released)

    async def close(self) -> None:
        """Immediate stop: running handlers are cancelled, the connection closes."""
        self._draining = True
        if self._health_task is not None:
            self._health_task.cancel()
        self._abandon_all("agent closed")
        await self.session.close()

    async def wait_closed(self) -> Exception | None:
        return await self.session.wait_closed()

    async def __aenter__(self) -> "Agent":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.drain()

    def _spawn(self, aw: Awaitable[Any]) -> None:
        fut = asyncio.ensure_future(aw)
        self._background.add(fut)
        fut.add_done_callback(self._background.discard)

    async def _check_health(self) -> None:
        if self._health_check is None:
            return
        try:
            out = self._health_check()
            healthy = bool(await out) if inspect.isawaitable(out) else bool(out)
        except Exception:
            log.warning("health check raised", exc_info=True)
            healthy = False
        self._healthy = healthy
        self._status_changed()

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self._health_every)
            await self._check_health()

    # ---- session events -------------------------------------------------------------------------

    def _on_ready(self, again: bool) -> None:
        self._session_draining = False
        self._last_status = self.status

    def _on_goaway_frame(self, frame: Frame) -> None:
        if self._on_goaway is not None:
            out = self._on_goaway(str(frame.get("reason", "")), frame.get("grace_ms", 0) / 1000)
            if inspect.isawaitable(out):
                self._spawn(out)
            return
        self._session_draining = True
        self.session.send({"type": "drain"})  # [SHUT-6]
        self._status_changed()
        self._maybe_idle()

    def _on_lost(self) -> None:
        # The broker requeues what this session held; the handlers' work can no longer be delivered.
        self._session_draining = False  # a goaway drained the session that ended, not the next one
        self._abandon_all("connection lost")

    def _abandon_all(self, why: str) -> None:
        for run in self._running.values():
            run.ctx.stop(why)
            if run.work is not None:
                run.work.cancel()
        self._running.clear()
        for t in self._requests:
            t.cancel()
        self._requests.clear()
        self._idle.set()

    def _on_direct(self, msg: Message) -> None:
        if self._message_handler is not None:
            self.client._spawn(self._message_handler, msg)

    def _on_cancel(self, frame: Frame) -> None:
        for (task_id, _), run in self._running.items():
            if task_id == frame.get("task_id"):
                run.ctx.stop(frame.get("reason") or "cancelled")
                if run.work is not None:
                    run.work.cancel()  # the handler sees the cancel [TASK-32]

    # ---- tasks ----------------------------------------------------------------------------------

    def _on_task(self, frame: Frame) -> None:
        key = (frame["task_id"], frame["attempt"])
        if key in self._running:
            log.warning("duplicate task frame ignored: %s attempt %s", *key)
            return
        session = self.session
        generation = session.generation

        def emit(data: Any) -> None:
            if session.generation == generation:
                session.send({"type": "progress", "task_id": frame["task_id"], "data": encode_payload(data)})

        ctx = TaskContext(frame["task_id"], frame["capability"], frame["attempt"], frame.get("max_attempts", frame["attempt"]),
                          frame.get("priority", "normal"), frame["deadline"], self.client, _expires=expiry(frame), _emit=emit)
        run = _Running(ctx)
        self._running[key] = run
        self._idle.clear()
        self._status_changed()
        self._spawn(self._run_task(frame, key, run, generation))

    async def _run_task(self, frame: Frame, key: tuple[str, int], run: _Running, generation: int) -> None:
        error: dict[str, Any] | None = None
        output: Any = None
        try:
            output = await self._attempt(frame, run)
        except _Abandoned:
            # At its own deadline the agent lets the broker end the task (TASK-33) and sends no result,
            # so it never races the broker's clock [TASK-35]; the next heartbeat shows it gone.
            if self._running.get(key) is run:
                del self._running[key]
                self.session.beat()
                self._status_changed()
                self._maybe_idle()
            return
        except AgentwireError as err:
            error = err.info()
        except Exception as err:
            # A bug or a failed dependency: `internal`, final unless the agent says its failures are transient.
            log.warning("handler of %s raised", frame["capability"], exc_info=True)
            error = {"code": "internal", "message": f"{type(err).__name__}: {err}"[:4096], "retryable": self._retry_unexpected}
        if self._running.get(key) is not run:
            return  # abandoned: the session ended, the broker requeued the task
        del self._running[key]
        result: Frame = {"type": "result", "task_id": frame["task_id"], "attempt": frame["attempt"]}
        result.update({"ok": False, "error": error} if error is not None else {"ok": True, "output": encode_payload(output)})
        if self.session.generation == generation:  # a result for an ended session names a requeued task
            self.session.send(result)
        self._status_changed()
        self._maybe_idle()

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
        run.work = asyncio.ensure_future(entry.handler(value, ctx))
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

    def _on_request(self, frame: Frame) -> None:
        task = asyncio.create_task(self._answer(frame))
        self._requests.add(task)
        self._idle.clear()

        def done(t: asyncio.Task[Any]) -> None:
            self._requests.discard(t)
            self._maybe_idle()

        task.add_done_callback(done)

    async def _answer(self, frame: Frame) -> None:
        handler = self._responders.get(frame.get("capability")) or self._responders.get(None)
        if handler is None and len(self._responders) == 1:
            handler = next(iter(self._responders.values()))
        generation = self.session.generation
        ctx = RequestContext(frame["id"], frame.get("from"), frame.get("capability"), frame.get("deadline", 0), self.client, _expires=expiry(frame))
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
