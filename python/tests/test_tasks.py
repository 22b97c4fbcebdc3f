"""Tasks through a real broker: submit and result, progress, stream, cancel, deadline, typed errors, drain."""

import asyncio
import unittest
from typing import Any

from agentwire import (
    AgentwireError, CancelledError, ConnectError, DeadlineExceededError, Done, InternalError, InvalidInputError,
    NoAgentsError, Progress, TaskContext, UnknownTaskError, connect,
)
from support import URL, agent, needs_broker, unique, wait_until, within


@needs_broker
class Tasks(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.cap = unique("py.task")
        self.agent = agent()
        self.seen: list[Any] = []
        self.cancel_seen = asyncio.Event()
        self.contexts: list[TaskContext] = []

        @self.agent.capability(self.cap, parse=lambda v: v)
        async def handle(value: Any, ctx: TaskContext) -> Any:
            self.contexts.append(ctx)
            op = value.get("op") if isinstance(value, dict) else None
            if op == "progress":
                for i in range(value["steps"]):
                    await ctx.progress({"step": i + 1})
                return "done"
            if op == "hang":
                await ctx.progress("started")
                try:
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    self.cancel_seen.set()  # the handler sees the cancel
                    raise
            if op == "invalid":
                raise InvalidInputError("no good")
            if op == "app":
                raise AgentwireError("try later", code="x-busy", retryable=True, details={"why": "test"})
            if op == "bug":
                raise KeyError("oops")
            return {"echo": value, "attempt": ctx.attempt, "left": ctx.time_left > 0}

        await self.agent.start()
        self.client = await connect(URL)

    async def asyncTearDown(self) -> None:
        await self.client.close()
        await self.agent.close()

    async def test_submit_and_result(self) -> None:
        handle = await self.client.submit(self.cap, {"n": 1}, timeout=10)
        self.assertTrue(handle.id)
        self.assertEqual(await within(handle.result()), {"echo": {"n": 1}, "attempt": 1, "left": True})
        self.assertEqual(await handle, {"echo": {"n": 1}, "attempt": 1, "left": True})
        self.assertEqual(handle.attempt, 1)
        self.assertEqual(await within(self.client.run(self.cap, [1, "two", None, b"\x00"])), {"echo": [1, "two", None, b"\x00"], "attempt": 1, "left": True})

    async def test_progress_and_stream(self) -> None:
        handle = await self.client.submit(self.cap, {"op": "progress", "steps": 3})
        self.assertEqual([p async for p in handle.progress()], [{"step": 1}, {"step": 2}, {"step": 3}])
        self.assertEqual(await handle, "done")
        events = [e async for e in self.client.stream(self.cap, {"op": "progress", "steps": 2})]
        self.assertEqual(events, [Progress({"step": 1}), Progress({"step": 2}), Done("done")])

    async def test_cancel_reaches_the_handler(self) -> None:
        handle = await self.client.submit(self.cap, {"op": "hang"}, timeout=30)
        async for first in handle.progress():
            self.assertEqual(first, "started")
            break
        await within(handle.cancel("user asked"))
        with self.assertRaises(CancelledError):
            await within(handle.result())
        await within(self.cancel_seen.wait())
        ctx = self.contexts[-1]
        self.assertTrue(ctx.cancelled.is_set())
        self.assertEqual(ctx.cancel_reason, "user asked")
        await wait_until(lambda: self.agent.in_flight == 0, what="the agent to drop the cancelled task")
        self.assertEqual((await within(self.client.run(self.cap, 2)))["echo"], 2)  # still serving

    async def test_deadline_exceeded(self) -> None:
        handle = await self.client.submit(self.cap, {"op": "hang"}, timeout=0.5)
        with self.assertRaises(DeadlineExceededError) as caught:
            await within(handle.result())
        self.assertTrue(caught.exception.retryable)
        await within(self.cancel_seen.wait())
        self.assertEqual(self.contexts[-1].cancel_reason, "deadline_exceeded")

    async def test_typed_errors(self) -> None:
        with self.assertRaises(NoAgentsError) as no_agents:
            await self.client.submit(unique("py.nobody"), 1)
        self.assertTrue(no_agents.exception.retryable)
        with self.assertRaises(InvalidInputError) as invalid:
            await within(self.client.run(self.cap, {"op": "invalid"}))
        self.assertFalse(invalid.exception.retryable)
        with self.assertRaises(AgentwireError) as app:
            await within(self.client.run(self.cap, {"op": "app"}, max_attempts=1))
        self.assertEqual((app.exception.code, app.exception.retryable, app.exception.details), ("x-busy", True, {"why": "test"}))
        with self.assertRaises(InternalError) as bug:
            await within(self.client.run(self.cap, {"op": "bug"}))
        self.assertFalse(bug.exception.retryable)
        with self.assertRaises(UnknownTaskError):
            await self.client.cancel("no-such-task")
        with self.assertRaises(UnknownTaskError):
            await self.client.task("no-such-task")
        with self.assertRaises(ConnectError):
            await connect("ws://127.0.0.1:9/", timeout=0.3)

    async def test_retryable_failure_runs_again(self) -> None:
        # An application error the agent marks retryable is requeued until max_attempts [TASK-14].
        with self.assertRaises(AgentwireError):
            await within(self.client.run(self.cap, {"op": "app"}, max_attempts=2))
        self.assertEqual([c.attempt for c in self.contexts], [1, 2])

    async def test_attach_follows_a_task(self) -> None:
        handle = await self.client.submit(self.cap, {"op": "progress", "steps": 1})
        other = await connect(URL)
        try:
            followed = await other.task(handle.id)
            self.assertTrue(followed.duplicate)
            self.assertEqual(await within(followed.result()), "done")
        finally:
            await other.close()

    async def test_drain_finishes_running_work(self) -> None:
        slow = agent("py-drain")
        cap = unique("py.drain")
        release = asyncio.Event()

        @slow.capability(cap)
        async def wait_for_release(value: Any, ctx: TaskContext) -> str:
            await ctx.progress("running")
            await release.wait()
            return "finished"

        await slow.start()
        handle = await self.client.submit(cap, None)
        async for _ in handle.progress():
            break
        drained = asyncio.create_task(slow.drain(timeout=10))
        await wait_until(lambda: slow.status == "draining", what="status draining")
        infos = await wait_until(lambda: self._status_of(slow.id), what="the registry to show draining")
        self.assertEqual(infos, "draining")
        with self.assertRaises(NoAgentsError):
            await self.client.submit(cap, None)  # [DRAIN-6]
        release.set()
        report = await within(drained)
        self.assertEqual((report.settled, report.released), (True, []))
        self.assertEqual(await within(handle.result()), "finished")

    async def _status_of(self, agent_id: str | None) -> str | None:
        for info in await self.client.agents():
            if info.agent_id == agent_id and info.status == "draining":
                return info.status
        return None
