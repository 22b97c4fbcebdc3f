"""An agent: capability handlers on top of a Session.

Decorators collect handlers; ``start()`` registers them, heartbeats with load at the interval the
broker announces, runs a health check, and reconnects (same agent id, subscriptions restored) until
``drain()`` or ``close()``. ``run()`` also drains on SIGTERM and SIGINT.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping, Sequence, TypeVar

from .client import Client, MessageHandler
from .codec import Frame
from .errors import AgentwireError
from .session import Session
from .types import AgentStatus, Backoff, Capability, Message
from .work import RequestHandler, TaskHandler, Work, CapabilityEntry

log = logging.getLogger("agentwire")

HealthCheck = Callable[[], "bool | Awaitable[bool]"]
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_CAPACITY = 16


@dataclass(frozen=True)
class DrainReport:
    """Whether all work finished within the drain timeout, and the task ids released to be requeued."""

    settled: bool
    released: list[str]


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
        pool: str | None = None,
    ) -> None:
        """``on_goaway(reason, grace_seconds)`` replaces the default on broker shutdown: drain this
        session (finish the work, close with 1000), then reconnect [SHUT-6].

        ``pool``: the pool this agent is a member of (``register.pool``) [POOL-1]. A member started by
        a pool supervisor needs neither: AGENTWIRE_POOL and AGENTWIRE_INSTANCE_ID (its agent id) come
        from the environment."""
        if pool is None and os.environ.get("AGENTWIRE_POOL"):
            pool = os.environ["AGENTWIRE_POOL"]
            agent_id = agent_id or os.environ.get("AGENTWIRE_INSTANCE_ID") or None
        self.pool = pool
        self.capacity = capacity
        self._tier, self._tags = tier, list(tags)
        self._health_check, self._health_every = health_check, health_check_interval
        self._on_goaway = on_goaway
        self._entries: dict[str, CapabilityEntry] = {}
        self._responders: dict[str | None, RequestHandler] = {}
        self._topics: list[tuple[str, MessageHandler]] = []
        self._message_handler: MessageHandler | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._healthy = True
        self._draining = False  # for good: drain() or close()
        self._session_draining = False  # this session only: after goaway, until the next registered
        self._last_status: AgentStatus = "ready"
        self._health_task: asyncio.Task[None] | None = None
        self.session = Session(url, name=name, agent_id=agent_id, token=token, offer=self._offer, load=self._load,
                               backoff=backoff, heartbeat_interval=heartbeat_interval)
        self.client = Client(self.session)
        self._work = Work(self.session, self.client, self._entries, self._responders, retry_unexpected_errors, self._work_changed)
        h = self.session.handlers
        h.task, h.cancel, h.request, h.goaway = self._work.start_task, self._work.cancel, self._work.start_request, self._on_goaway_frame
        h.message, h.lost, h.ready, h.drain = self._on_direct, self._on_lost, self._on_ready, self._on_drain_frame

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
            self._entries[name] = CapabilityEntry(cap, handler, parse)
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
        return len(self._work.running)

    @property
    def status(self) -> AgentStatus:
        if self._draining or self._session_draining:
            return "draining"
        if not self._healthy:
            return "unhealthy"
        return "busy" if len(self._work.running) >= self.capacity else "ready"

    def _offer(self) -> dict[str, Any]:
        caps = [e.capability.wire() for e in self._entries.values()]
        caps += [{"name": n} for n in self._responders if n is not None and n not in self._entries]
        return {"capabilities": caps, "capacity": self.capacity, "tier": self._tier, "tags": self._tags or None, "pool": self.pool}

    def _load(self) -> dict[str, Any]:
        return {"in_flight": len(self._work.running), "capacity": self.capacity, "status": self.status}

    def _status_changed(self) -> None:
        # Heartbeat at once when the status changes, so the broker routes by it without waiting a period.
        status = self.status
        if status != self._last_status:
            self._last_status = status
            self.session.beat()

    def _work_changed(self) -> None:
        self._status_changed()
        if self._session_draining and not self._draining and self._work.idle.is_set():
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
            await asyncio.wait_for(self._work.idle.wait(), timeout)
            settled = True
        except asyncio.TimeoutError:
            settled = False
        released = sorted({key[0] for key in self._work.running})
        await self.close()
        return DrainReport(settled, released)

    async def close(self) -> None:
        """Immediate stop: running handlers are cancelled, the connection closes."""
        self._draining = True
        if self._health_task is not None:
            self._health_task.cancel()
        self._work.abandon_all("agent closed")
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
        self._work_changed()

    def _on_drain_frame(self, frame: Frame) -> None:
        # The broker put this agent into DRAINING [DRAIN-7]: finish the work, close with 1000 [DRAIN-5].
        log.info("the broker is draining this agent: %s", frame.get("reason", ""))
        self._spawn(self.drain())

    def _on_lost(self) -> None:
        # The broker requeues what this session held; the handlers' work can no longer be delivered.
        self._session_draining = False  # a goaway drained the session that ended, not the next one
        self._work.abandon_all("connection lost")

    def _on_direct(self, msg: Message) -> None:
        if self._message_handler is not None:
            self.client._spawn(self._message_handler, msg)
