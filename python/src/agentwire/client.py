"""What any peer can do: submit and stream tasks, cancel, send, publish, subscribe, request, query.

``connect()`` gives a plain Client; an Agent has one over its own session (``agent.client``,
``ctx.client``). Times are seconds; the wire's milliseconds stay on the wire.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator, Awaitable, Callable, Generator, Mapping, Sequence

from .codec import Frame, decode_payload, encode_payload
from .session import Session
from .errors import BadFrameError, ClosedError, error_from_info
from .handle import TaskEvent, TaskHandle, watcher
from .topics import is_pattern, is_topic
from .trace import TraceContext, reset_trace, trace_fields, use_trace
from .types import AgentInfo, AgentStatus, Backoff, Message, Priority, Strategy
from .workflow import RunHandle, run_watcher

log = logging.getLogger("agentwire")

MessageHandler = Callable[[Message], "Awaitable[None] | None"]

#: The broker's request timeout when it announces none [LIMIT-1].
DEFAULT_REQUEST_TIMEOUT = 10.0


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else max(1, round(seconds * 1000))


class Subscription:
    """A topic subscription: iterate it for messages (without a handler), or ``unsubscribe()``."""

    def __init__(self, client: "Client", pattern: str, deliver: Callable[[Message], None], queue: asyncio.Queue[Message] | None) -> None:
        self.pattern = pattern
        self._client, self._deliver, self._queue = client, deliver, queue

    async def unsubscribe(self) -> None:
        await self._client._unsubscribe(self.pattern, self._deliver)

    def __aiter__(self) -> AsyncIterator[Message]:
        if self._queue is None:
            raise TypeError("this subscription has a handler; messages go there")
        return self._messages()

    async def _messages(self) -> AsyncIterator[Message]:
        assert self._queue is not None
        while True:
            yield await self._queue.get()


class Client:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._open: set[TaskHandle[Any]] = set()
        self._closing = False
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def id(self) -> str | None:
        """This session's agent id (assigned by the broker unless requested)."""
        return self.session.agent_id

    async def _ready(self) -> None:
        if self._closing:
            raise ClosedError()
        await self.session.when_ready()

    # ---- tasks ----------------------------------------------------------------------------------

    async def submit(
        self,
        capability: str,
        input: Any = None,
        *,
        timeout: float | None = None,
        priority: Priority | None = None,
        strategy: Strategy | None = None,
        idempotency_key: str | None = None,
        max_attempts: int | None = None,
        version: str | None = None,
        tags: Sequence[str] | None = None,
        trace: TraceContext | None = None,
    ) -> TaskHandle[Any]:
        """Submits a task; returns its handle once the broker accepted it [TASK-3].

        ``trace`` is the W3C trace context to carry (default: the running handler's, TRACE-8).
        Raises the broker's refusal as its class: NoAgentsError, OverloadedError, ForbiddenError...
        """
        await self._ready()
        frame: Frame = {
            "type": "submit", "ref": self.session.next_id("s"), "capability": capability, "input": encode_payload(input),
            "timeout_ms": _ms(timeout), "priority": priority, "strategy": strategy, "idempotency_key": idempotency_key,
            "max_attempts": max_attempts, "version": version, "tags": list(tags) if tags is not None else None,
            **trace_fields(trace),
        }
        return await self._follow(frame)

    async def _follow(self, frame: Frame) -> TaskHandle[Any]:
        holder: list[TaskHandle[Any]] = []

        def accepted(answer: Frame) -> None:
            # Synchronous, in the frame loop: the watcher exists before the task's first progress.
            handle: TaskHandle[Any] = TaskHandle(answer["task_id"], answer.get("duplicate") is True, self.cancel)
            holder.append(handle)
            self._open.add(handle)
            handle._outcome.add_done_callback(lambda _: self._open.discard(handle))
            self.session.watch_task(handle.id, watcher(handle))

        await self.session.call(frame, accepted)
        return holder[0]

    async def run(self, capability: str, input: Any = None, **options: Any) -> Any:
        """Submits a task and returns its output (``await (await submit(...)).result()``)."""
        return await (await self.submit(capability, input, **options)).result()

    async def stream(self, capability: str, input: Any = None, **options: Any) -> AsyncIterator[TaskEvent]:
        """Submits a task and yields each Progress, then Done with the output."""
        handle = await self.submit(capability, input, **options)
        async for event in handle:
            yield event

    async def task(self, task_id: str) -> TaskHandle[Any]:
        """Follows a task accepted earlier, by this or another session [ATT-1]; UnknownTaskError if not kept."""
        await self._ready()
        return await self._follow({"type": "attach", "task_id": task_id, "ref": self.session.next_id("t")})

    async def cancel(self, task_id: str, reason: str | None = None) -> None:
        """Cancels a task this session submitted [TASK-29]; returns once the broker acknowledged."""
        await self.session.when_ready()
        await self.session.call({"type": "cancel", "task_id": task_id, "reason": reason, "ref": self.session.next_id("c")})

    # ---- workflow runs --------------------------------------------------------------------------

    async def run_workflow(self, workflow: Mapping[str, Any], input: Any = None, *, watch: bool = True) -> RunHandle[Any]:
        """Starts a workflow run; returns its handle once the broker accepted it [WF-17].

        ``workflow`` is a definition dict (protocol/schema/workflow.schema.json) or ``{"name": ...,
        "version": ...}`` of a registered one. ``watch=False``: no events, only the result. Raises the
        broker's refusal as its class: BadWorkflowError (``details["path"]``), UnknownWorkflowError...
        """
        await self._ready()
        frame: Frame = {"type": "run", "ref": self.session.next_id("r"), "workflow": dict(workflow),
                        "input": encode_payload(input), "watch": None if watch else False}
        return await self._follow_run(frame, lambda answer: answer["run_id"])

    async def watch_run(self, run_id: str) -> RunHandle[Any]:
        """Follows a run started elsewhere, by id: its events from now on, then its result [WF-21]."""
        await self._ready()
        return await self._follow_run({"type": "run_watch", "run_id": run_id, "ref": self.session.next_id("w")}, lambda _: run_id)

    async def _follow_run(self, frame: Frame, run_id_of: Callable[[Frame], str]) -> RunHandle[Any]:
        holder: list[RunHandle[Any]] = []

        def answered(answer: Frame) -> None:
            # Synchronous, in the frame loop: the watcher exists before the run's first event.
            handle: RunHandle[Any] = RunHandle(run_id_of(answer), self.cancel_run)
            holder.append(handle)
            self.session.watch_run(handle.id, run_watcher(handle))

        await self.session.call(frame, answered)
        return holder[0]

    async def cancel_run(self, run_id: str) -> None:
        """Cancels a run [WF-20]; returns once the broker acknowledged."""
        await self.session.when_ready()
        await self.session.call({"type": "run_cancel", "run_id": run_id, "ref": self.session.next_id("c")})

    # ---- messages -------------------------------------------------------------------------------

    async def send(self, to: str, payload: Any, *, correlation_id: str | None = None, trace: TraceContext | None = None) -> None:
        """A direct message [MSG-1]; raises NoRespondersError when no session holds ``to``."""
        await self._ready()
        await self.session.call({"type": "send", "to": to, "payload": encode_payload(payload),
                                 "correlation_id": correlation_id, "ref": self.session.next_id("m"), **trace_fields(trace)})

    async def publish(self, topic: str, payload: Any, *, trace: TraceContext | None = None) -> None:
        """Broadcasts to every session subscribed to a matching pattern; returns on the broker's ack."""
        if not is_topic(topic):
            raise BadFrameError(f"not a topic: {topic!r} (TOPIC-1)")
        await self._ready()
        await self.session.call({"type": "publish", "topic": topic, "payload": encode_payload(payload), "ref": self.session.next_id("p"), **trace_fields(trace)})

    async def subscribe(self, pattern: str, handler: MessageHandler | None = None) -> Subscription:
        """Subscribes to a pattern (``a.*``, ``a.>``), kept across reconnects; returns once acknowledged.

        Without a handler, iterate the returned Subscription. Handlers are chosen by matching the
        message's topic locally: the broker sends one message per session [TOPIC-8].
        """
        if not is_pattern(pattern):
            raise BadFrameError(f"not a topic pattern: {pattern!r} (TOPIC-2)")
        queue: asyncio.Queue[Message] | None = asyncio.Queue() if handler is None else None

        def deliver(msg: Message) -> None:
            if queue is not None:
                queue.put_nowait(msg)
            else:
                self._spawn(handler, msg)  # type: ignore[arg-type]

        handlers = self.session.subscriptions.setdefault(pattern, [])
        handlers.append(deliver)
        try:
            await self._ready()
            if len(handlers) == 1:
                await self.session.call({"type": "subscribe", "topic": pattern, "ref": self.session.next_id("u")})
        except BaseException:
            await self._unsubscribe(pattern, deliver)
            raise
        return Subscription(self, pattern, deliver, queue)

    async def _unsubscribe(self, pattern: str, deliver: Callable[[Message], None]) -> None:
        handlers = self.session.subscriptions.get(pattern)
        if handlers is None or deliver not in handlers:
            return
        handlers.remove(deliver)
        if handlers:
            return
        del self.session.subscriptions[pattern]
        if self.session.is_ready:
            await self.session.call({"type": "unsubscribe", "topic": pattern, "ref": self.session.next_id("u")})

    def _spawn(self, handler: MessageHandler, msg: Message) -> None:
        async def run() -> None:
            try:
                out = handler(msg)
                if asyncio.iscoroutine(out):
                    await out
            except Exception:
                log.exception("message handler failed (topic %s)", msg.topic)

        # The handler's task copies the context now: it runs in the message's trace context [TRACE-8].
        token = use_trace(msg.trace)
        try:
            task = asyncio.create_task(run())
        finally:
            reset_trace(token)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- request/response and registry ----------------------------------------------------------

    async def request(
        self, payload: Any = None, *, to: str | None = None, capability: str | None = None, timeout: float | None = None,
        trace: TraceContext | None = None,
    ) -> Any:
        """Asks one agent, by id or by capability, and returns its answer [REQ-1].

        Raises NoRespondersError, TimeoutError, or the responder's error as its class.
        """
        if (to is None) == (capability is None):
            raise ValueError("request needs exactly one of to= and capability=")
        await self._ready()
        wait = timeout if timeout is not None else self._announced("request_timeout_ms", DEFAULT_REQUEST_TIMEOUT)
        rid = self.session.next_id("q")
        frame = await self.session.request(
            {"type": "request", "id": rid, "to": to, "capability": capability, "payload": encode_payload(payload), "timeout_ms": _ms(wait), **trace_fields(trace)},
            guard=wait + 2.0,
        )
        if frame.get("ok") is False or "error" in frame:  # [REQ-4]
            raise error_from_info(frame.get("error"), ref=rid)
        return decode_payload(frame.get("payload"))

    def _announced(self, key: str, default: float) -> float:
        value = (self.session.registered or {}).get(key)
        return value / 1000 if isinstance(value, int) and not isinstance(value, bool) else default

    async def agents(self, *, capability: str | None = None, status: AgentStatus | None = None, tags: Sequence[str] | None = None) -> list[AgentInfo]:
        """The registry's agents matching every filter given [QUERY-1]."""
        await self._ready()
        answer = await self.session.call({"type": "query", "ref": self.session.next_id("a"), "capability": capability,
                                          "status": status, "tags": list(tags) if tags is not None else None})
        return [AgentInfo.from_wire(a) for a in answer.get("agents", [])]

    # ---- lifetime -------------------------------------------------------------------------------

    async def drain(self, timeout: float = 30.0) -> list[str]:
        """Takes no new work, waits up to ``timeout`` for open tasks, then closes; returns the ids still open."""
        self._closing = True
        pending = [h._outcome for h in self._open]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        abandoned = [h.id for h in self._open if not h.done]
        await self.close()
        return abandoned

    async def close(self) -> None:
        """Closes at once; open operations fail with ClosedError."""
        self._closing = True
        await self.session.close()

    async def wait_closed(self) -> Exception | None:
        return await self.session.wait_closed()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class connect:
    """Connects a plain client: ``client = await connect(url)``, or ``async with connect(url) as client``.

    Returns once registered. Raises ConnectError when no session was reached within ``timeout``
    seconds (None: wait for the broker however long), or the broker's refusal (UnauthorizedError, ...).
    """

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        token: str | None = None,
        timeout: float | None = 5.0,
        backoff: Backoff | None = None,
        reattach: float = 5.0,
    ) -> None:
        self._session = Session(url, name=name, token=token, backoff=backoff, reattach=reattach)
        self._timeout = timeout
        self._client: Client | None = None

    async def _connect(self) -> Client:
        await self._session.start(timeout=self._timeout)
        self._client = Client(self._session)
        return self._client

    def __await__(self) -> Generator[Any, None, Client]:
        return self._connect().__await__()

    async def __aenter__(self) -> Client:
        return await self._connect()

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()
