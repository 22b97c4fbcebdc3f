"""Workflow runs through a real broker (SPEC §21): start a run and read its result and events, a step
retried with the attempt visible to the agent, cancel, watch from another client, typed refusals."""

import asyncio
import unittest
from typing import Any

from agentwire import (
    AgentwireError, BadWorkflowError, CancelledError, RunEvent, TaskContext, UnknownRunError, connect, ref, tpl,
)
from support import URL, agent, needs_broker, unique, within


def definition(name: str, steps: list[dict[str, Any]], output: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"workflow": 1, "name": name, "version": "1.0.0", "steps": steps}
    if output is not None:
        doc["output"] = output
    return doc


@needs_broker
class Workflows(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.upper, self.flaky, self.hang = unique("py.wf.upper"), unique("py.wf.flaky"), unique("py.wf.hang")
        self.agent = agent("py-wf")
        self.attempts: list[int] = []
        self.hang_started = asyncio.Event()
        self.hang_cancelled = asyncio.Event()

        @self.agent.capability(self.upper, parse=lambda v: v)
        async def upper(value: Any, ctx: TaskContext) -> Any:
            return {"text": value["text"].upper()}

        @self.agent.capability(self.flaky, parse=lambda v: v)
        async def flaky(value: Any, ctx: TaskContext) -> Any:
            self.attempts.append(ctx.attempt)
            if ctx.attempt < 3:
                raise AgentwireError(f"not yet (attempt {ctx.attempt})", code="not_yet")
            return {"attempt": ctx.attempt}

        @self.agent.capability(self.hang, parse=lambda v: v)
        async def hang(value: Any, ctx: TaskContext) -> Any:
            self.hang_started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.hang_cancelled.set()  # the agent sees the step's cancel
                raise

        await self.agent.start()
        self.client = await connect(URL, name="py-wf-client")

    async def asyncTearDown(self) -> None:
        await self.client.close()
        await self.agent.close()

    async def test_run_and_read_its_result_and_events(self) -> None:
        doc = definition(unique("py-words"), [
            {"id": "shout", "capability": self.upper, "input": {"text": ref("/input/text")}},
            {"id": "again", "capability": self.upper, "after": ["shout"], "input": {"text": tpl("${/steps/shout/output/text}!")}},
        ], output={"first": ref("/steps/shout/output/text"), "second": ref("/steps/again/output/text")})
        run = await self.client.run_workflow(doc, {"text": "hi"})
        self.assertTrue(run.id)
        self.assertEqual(await within(run.result()), {"first": "HI", "second": "HI!"})
        events = [e async for e in run.events()]
        self.assertEqual([(e.type, e.step, e.attempt) for e in events], [
            ("workflow.started", None, None),
            ("workflow.step.started", "shout", 1), ("workflow.step.succeeded", "shout", 1),
            ("workflow.step.started", "again", 1), ("workflow.step.succeeded", "again", 1),
            ("workflow.completed", None, None),
        ])
        self.assertTrue(all(isinstance(e, RunEvent) and e.at > 0 for e in events))

    async def test_retry_with_the_attempt_visible_to_the_agent(self) -> None:
        doc = definition(unique("py-flaky"), [
            {"id": "f", "capability": self.flaky, "retry": {"max_attempts": 3, "initial_interval_ms": 20}},
        ])
        run = await self.client.run_workflow(doc, {})
        self.assertEqual(await within(run.result()), {"attempt": 3})
        self.assertEqual(self.attempts, [1, 2, 3])
        retrying = [e for e in [e async for e in run.events()] if e.type == "workflow.step.retrying"]
        self.assertEqual([(e.attempt, e.delay_ms, (e.error or {}).get("code")) for e in retrying], [(1, 20, "not_yet"), (2, 40, "not_yet")])

    async def test_cancel_reaches_the_step_and_a_watcher_sees_the_end(self) -> None:
        run = await self.client.run_workflow(definition(unique("py-hang"), [{"id": "h", "capability": self.hang}]), {})
        await within(self.hang_started.wait())
        other = await connect(URL)
        try:
            watched = await other.watch_run(run.id)
            await within(run.cancel())
            with self.assertRaises(CancelledError):
                await within(run.result())
            with self.assertRaises(CancelledError):
                await within(watched.result())
            await within(self.hang_cancelled.wait())
            self.assertIn("workflow.cancelled", [e.type async for e in watched.events()])
            with self.assertRaises(UnknownRunError):
                await other.watch_run("no-such-run")
        finally:
            await other.close()

    async def test_refusals_are_typed(self) -> None:
        with self.assertRaises(BadWorkflowError) as caught:
            await self.client.run_workflow(definition("bad", [{"id": "a", "capability": self.upper, "after": ["zz"]}]), {})
        self.assertEqual((caught.exception.details or {}).get("path"), "steps.0.after.0")


if __name__ == "__main__":
    unittest.main()
