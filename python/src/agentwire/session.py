"""The protocol state machine of one peer: connect, register, heartbeat, route frames, reconnect.

Reconnect lives here in one place: when the socket drops, open operations fail with
ConnectionLostError, accepted tasks wait ``reattach`` seconds to be followed again on the next
session [ATT-3], and a new ``register`` (same agent id, subscriptions restored) follows the next open.
The socket itself is the Connection's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Protocol

from .codec import Frame
from .connection import Connection
from .errors import AgentwireError, ClosedError, ConnectError, ConnectionLostError, error_from_code
from .topics import topic_matches
from .types import Backoff, Message

log = logging.getLogger("agentwire")

# Codes that make a `register` fail for good: retrying with the same settings cannot help.
_FATAL_REGISTER = frozenset({"unauthorized", "unsupported_version", "forbidden", "bad_frame"})


class TaskWatcher(Protocol):
    def progress(self, data: bytes) -> None: ...
    def result(self, frame: Frame) -> None: ...
    def fail(self, err: AgentwireError) -> None: ...


class RunWatcher(Protocol):
    """Follows a workflow run (SPEC §21): its events and its result."""

    def event(self, frame: Frame) -> None: ...
    def result(self, frame: Frame) -> None: ...
    def fail(self, err: AgentwireError) -> None: ...


class Handlers:
    """Frames the session hands up instead of handling them itself (set by Agent and Client)."""

    task: Callable[[Frame], None] | None = None
    cancel: Callable[[Frame], None] | None = None
    request: Callable[[Frame], None] | None = None
    message: Callable[[Message], None] | None = None
    goaway: Callable[[Frame], None] | None = None
    #: The broker put this agent into DRAINING (pool scale-down, an operator's drain) [DRAIN-7].
    drain: Callable[[Frame], None] | None = None
    #: A scale request for the pool this session supervises [POOL-9].
    scale: Callable[[Frame], None] | None = None
    #: After every `registered`; the argument is True on a reconnect.
    ready: Callable[[bool], None] | None = None
    #: The socket dropped; open operations have been failed already.
    lost: Callable[[], None] | None = None


class Session:
    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        agent_id: str | None = None,
        token: str | None = None,
        offer: Callable[[], dict[str, Any]] | None = None,
        load: Callable[[], dict[str, Any]] | None = None,
        backoff: Backoff | None = None,
        heartbeat_interval: float | None = None,
        reattach: float = 5.0,
    ) -> None:
        if not url.startswith(("ws://", "wss://")):
            raise ValueError(f"a broker URL must use ws:// or wss://, got {url!r}")
        self.url, self.name, self.token = url, name, token
        self._agent_id = agent_id
        self._offer, self._load = offer, load
        self._beat_every = heartbeat_interval
        self._reattach = reattach
        self.handlers = Handlers()
        self.subscriptions: dict[str, list[Callable[[Message], None]]] = {}
        #: The last `registered` frame: heartbeat interval, limits, and whatever else the broker announces.
        self.registered: Frame | None = None
        self.generation = 0
        self._state = "idle"  # idle | registering | ready | closed
        self._fatal: AgentwireError | None = None
        self._seq = 0
        self._refs: dict[str, tuple[asyncio.Future[Frame], Callable[[Frame], None] | None]] = {}
        self._tasks: dict[str, TaskWatcher] = {}
        #: Workflow runs followed, kept across reconnects like tasks (``run_watch`` again, WF-21).
        self._runs: dict[str, RunWatcher] = {}
        self._requests: dict[str, asyncio.Future[Frame]] = {}
        self._ready_waiters: list[asyncio.Future[None]] = []
        self._beats: asyncio.Task[None] | None = None
        self._detached: asyncio.TimerHandle | None = None
        self._closed = asyncio.Event()
        self._conn = Connection(url, token, backoff or Backoff(), on_open=self._on_open, on_frame=self._dispatch, on_close=self._on_close)

    # ---- state ----------------------------------------------------------------------------------

    @property
    def agent_id(self) -> str | None:
        return self.registered["agent_id"] if self.registered else self._agent_id

    @property
    def is_ready(self) -> bool:
        return self._state == "ready"

    @property
    def is_closed(self) -> bool:
        return self._state == "closed"

    def next_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:x}"

    async def start(self, *, timeout: float | None = 5.0) -> None:
        """Connects and returns on the first `registered`, retrying with backoff until then.

        Raises ConnectError after ``timeout`` seconds (None: wait for the broker however long), or
        the broker's error when it refused the registration for good.
        """
        if self._state == "idle":
            self._state = "registering"
            self._conn.start()
        try:
            await asyncio.wait_for(self.when_ready(), timeout)
        except asyncio.TimeoutError:
            failures, last = self._conn.failures, self._conn.last_failure
            self._fatal = ConnectError(f"could not connect to {self.url}: no session within {timeout} s ({failures} failed attempts"
                                       + (f"; last failure: {last})" if last else ")"),
                                       details={"url": self.url, "attempts": failures, "last_failure": last})
            await self.close()
            raise self._fatal from None

    def when_ready(self) -> Awaitable[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._state == "ready":
            fut.set_result(None)
        elif self._state == "closed":
            fut.set_exception(self._fatal or ClosedError())
        else:
            self._ready_waiters.append(fut)
        return fut

    async def wait_closed(self) -> AgentwireError | None:
        """Waits until the session closed for good; returns the error that closed it, or None."""
        await self._closed.wait()
        return self._fatal

    # ---- sending --------------------------------------------------------------------------------

    def send(self, frame: Frame) -> bool:
        """Queues a frame on the current session; False when there is none."""
        return self._state == "ready" and self._conn.send(frame)

    def call(self, frame: Frame, on_answer: Callable[[Frame], None] | None = None) -> asyncio.Future[Frame]:
        """Sends a frame with `ref`; the future gets the broker's answer (ack, accepted, agents) or its error.

        ``on_answer`` runs synchronously in the frame loop, before the next frame is handled (a task
        watcher must exist before the task's first progress arrives).
        """
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._refs[frame["ref"]] = (fut, on_answer)
        if not self.send(frame):
            del self._refs[frame["ref"]]
            fut.set_exception(ClosedError() if self.is_closed else ConnectionLostError("not connected to the broker"))
        return fut

    async def request(self, frame: Frame, guard: float) -> Frame:
        """Sends a `request` and returns its `response` (ok or not); ``guard`` covers a silent broker."""
        fut: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._requests[frame["id"]] = fut
        if not self.send(frame):
            del self._requests[frame["id"]]
            raise ConnectionLostError("not connected to the broker")
        try:
            return await asyncio.wait_for(fut, guard)
        except asyncio.TimeoutError:
            raise error_from_code("timeout", f"no response to request {frame['id']}", ref=frame["id"]) from None
        finally:
            self._requests.pop(frame["id"], None)

    def watch_task(self, task_id: str, watcher: TaskWatcher) -> None:
        self._tasks[task_id] = watcher

    def unwatch_task(self, task_id: str) -> None:
        self._tasks.pop(task_id, None)

    def watch_run(self, run_id: str, watcher: RunWatcher) -> None:
        self._runs[run_id] = watcher

    def unwatch_run(self, run_id: str) -> None:
        self._runs.pop(run_id, None)

    def beat(self) -> None:
        """Sends a heartbeat now, with the agent's load when it has one [HB-1]."""
        self.send({"type": "heartbeat", **(self._load() if self._load else {})})

    def reconnect(self, code: int = 1000) -> None:
        """Closes the current connection after the frames queued so far; the session connects again."""
        self._conn.drop(code)

    async def close(self, code: int = 1000) -> None:
        """Closes for good: queued frames are sent first, open operations fail with ClosedError."""
        if self._state == "closed":
            return
        self._state = "closed"
        self._fail_all(ClosedError())
        self._reject_ready(self._fatal or ClosedError())
        await self._conn.stop(code)
        self._closed.set()

    # ---- the connection's events ---------------------------------------------------------------

    def _on_open(self) -> None:
        if self._state == "closed":
            return
        self._state = "registering"
        self._conn.send(self._register_frame())

    def _register_frame(self) -> Frame:
        frame: Frame = {"type": "register", "protocol": 1, "name": self.name, "agent_id": self.agent_id, "token": self.token}
        if self._offer is not None:
            frame.update(self._offer())
        return frame

    async def _heartbeats(self, every: float) -> None:
        # Fixed rate from `registered`, at most the announced interval apart [HB-2].
        next_at = time.monotonic()
        while True:
            next_at += every
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            self.beat()

    # ---- incoming frames ------------------------------------------------------------------------

    def _dispatch(self, frame: Frame) -> None:
        kind = frame["type"]
        if kind == "registered":
            self._on_registered(frame)
        elif kind == "error":
            self._on_error(frame)
        elif kind in ("accepted", "ack", "agents", "run_accepted"):
            entry = self._refs.pop(frame.get("ref", ""), None)
            if entry is not None:
                fut, on_answer = entry
                if on_answer is not None:
                    on_answer(frame)
                if not fut.done():
                    fut.set_result(frame)
        elif kind == "progress":
            watcher = self._tasks.get(frame.get("task_id", ""))
            if watcher is not None:
                watcher.progress(frame["data"])
        elif kind == "result":
            watcher = self._tasks.pop(frame.get("task_id", ""), None)
            if watcher is not None:
                watcher.result(frame)
        elif kind == "run_event":
            run = self._runs.get(frame.get("run_id", ""))
            if run is not None:
                run.event(frame)
        elif kind == "run_result":
            run = self._runs.pop(frame.get("run_id", ""), None)
            if run is not None:
                run.result(frame)
        elif kind == "response":
            fut = self._requests.get(frame.get("id", ""))
            if fut is not None and not fut.done():
                fut.set_result(frame)
        elif kind == "message":
            msg = Message.from_frame(frame)
            if msg.topic is None:
                if self.handlers.message is not None:
                    self.handlers.message(msg)
            else:
                for pattern, handlers in list(self.subscriptions.items()):
                    if topic_matches(pattern, msg.topic):
                        for h in list(handlers):
                            h(msg)
        elif kind in ("task", "cancel", "request", "goaway", "drain", "scale"):
            handler = getattr(self.handlers, kind)
            if kind == "goaway":
                log.info("broker going away: %s (grace %s ms)", frame.get("reason"), frame.get("grace_ms"))
            if handler is not None:
                handler(frame)
        # Every other type, known or not, is ignored [ENC-13]; peers never answer with `error` [ERR-11].

    def _on_registered(self, frame: Frame) -> None:
        again = self.generation > 0
        self.registered = frame
        self.generation += 1
        self._state = "ready"
        self._conn.registered()
        every = frame["heartbeat_interval_ms"] / 1000
        if self._beat_every is not None:
            every = min(every, self._beat_every)
        self._beats = asyncio.create_task(self._heartbeats(every))
        log.info("%s as %s (session %s)", "reconnected" if again else "registered", frame["agent_id"], frame["session_id"])
        if self.handlers.ready is not None:
            self.handlers.ready(again)  # first: the agent's status belongs to this session from here on
        self.beat()
        if again:
            self._resubscribe()
            self._reattach_tasks()
        waiters, self._ready_waiters = self._ready_waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def _on_error(self, frame: Frame) -> None:
        err = error_from_code(frame["code"], frame.get("message", ""), details=frame.get("details"), ref=frame.get("ref"))
        if self._state == "registering":
            log.warning("register refused: %s %s", frame["code"], frame.get("message"))
            if frame["code"] in _FATAL_REGISTER:
                self._fatal = err
                asyncio.create_task(self.close())
            return  # otherwise (duplicate_agent, shutting_down) the broker closes and we retry [HB-8]
        ref = frame.get("ref")
        entry = self._refs.pop(ref, None) if ref is not None else None
        if entry is not None:
            if not entry[0].done():
                entry[0].set_exception(err)
            return
        fut = self._requests.get(ref) if ref is not None else None
        if fut is not None and not fut.done():
            fut.set_exception(err)
            return
        log.warning("error from broker: %s %s (ref %s)", frame["code"], frame.get("message"), ref)

    def _resubscribe(self) -> None:
        # Subscriptions outlive sessions: the broker forgot them with the old one.
        for pattern in self.subscriptions:
            fut = self.call({"type": "subscribe", "topic": pattern, "ref": self.next_id("u")})
            fut.add_done_callback(lambda f, p=pattern: f.exception() and log.warning("resubscribe to %s failed: %s", p, f.exception()))

    def _reattach_tasks(self) -> None:
        # Tasks outlive connections: follow each open one on the new session [ATT-3].
        if self._detached is not None:
            self._detached.cancel()
            self._detached = None
        for task_id, watcher in list(self._tasks.items()):
            fut = self.call({"type": "attach", "task_id": task_id, "ref": self.next_id("t")})

            def done(f: asyncio.Future[Frame], task_id: str = task_id, watcher: TaskWatcher = watcher) -> None:
                err = f.exception()
                if err is not None and self._tasks.get(task_id) is watcher:
                    del self._tasks[task_id]
                    watcher.fail(ConnectionLostError(f"task {task_id} could not be followed after the reconnect ({err})"))

            fut.add_done_callback(done)
        # Runs too (the broker owns them): events from now on, then the result [WF-21].
        for run_id, run in list(self._runs.items()):
            fut = self.call({"type": "run_watch", "run_id": run_id, "ref": self.next_id("w")})

            def watched(f: asyncio.Future[Frame], run_id: str = run_id, run: RunWatcher = run) -> None:
                err = f.exception()
                if err is not None and self._runs.get(run_id) is run:
                    del self._runs[run_id]
                    run.fail(ConnectionLostError(f"run {run_id} could not be followed after the reconnect ({err})"))

            fut.add_done_callback(watched)

    def _on_close(self) -> None:
        if self._beats is not None:
            self._beats.cancel()
        was_ready = self._state == "ready"
        if self._state != "closed":
            self._state = "registering"
            if was_ready:
                log.warning("connection to the broker lost (%s); reconnecting", self._conn.last_failure)
        keep = self._state != "closed" and self._reattach > 0
        self._fail_all(ConnectionLostError(f"connection to the broker {self._conn.last_failure}"), keep_tasks=keep)
        if keep and (self._tasks or self._runs) and self._detached is None:
            self._detached = asyncio.get_running_loop().call_later(self._reattach, self._give_up_tasks)
        if self._state == "closed":
            self._reject_ready(self._fatal or ClosedError())
        if was_ready and self.handlers.lost is not None:
            self.handlers.lost()

    def _give_up_tasks(self) -> None:
        self._detached = None
        tasks, self._tasks = list(self._tasks.values()), {}
        runs, self._runs = list(self._runs.values()), {}
        for w in [*tasks, *runs]:
            w.fail(ConnectionLostError("the connection to the broker did not come back in time to follow the task or run"))

    def _fail_all(self, err: AgentwireError, keep_tasks: bool = False) -> None:
        refs, self._refs = list(self._refs.values()), {}
        for fut, _ in refs:
            if not fut.done():
                fut.set_exception(err)
        for fut in list(self._requests.values()):
            if not fut.done():
                fut.set_exception(err)
        if not keep_tasks:
            if self._detached is not None:
                self._detached.cancel()
                self._detached = None
            tasks, self._tasks = list(self._tasks.values()), {}
            runs, self._runs = list(self._runs.values()), {}
            for w in [*tasks, *runs]:
                w.fail(err)

    def _reject_ready(self, err: AgentwireError) -> None:
        waiters, self._ready_waiters = self._ready_waiters, []
        for w in waiters:
            if not w.done():
                w.set_exception(err)
