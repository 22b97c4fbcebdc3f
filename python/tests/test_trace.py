"""W3C trace context: carried from a submit, send or request into the handler, and on into what it sends [TRACE-4, TRACE-8]."""

import asyncio
import unittest
from typing import Any

from agentwire import Message, RequestContext, TaskContext, TraceContext, connect, current_trace
from support import URL, agent, needs_broker, unique, within

TRACE = TraceContext("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "vendor1=opaque")


@needs_broker
class Trace(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.client = await connect(URL, name="py-trace")
        self.outer_cap, self.inner_cap = unique("trace.outer"), unique("trace.inner")
        self.seen: list[Any] = []
        self.inner = agent("py-trace-inner")
        self.outer = agent("py-trace-outer")

        @self.inner.capability(self.inner_cap)
        async def inner(value: Any, ctx: TaskContext) -> Any:
            current = current_trace()
            self.seen.append(("inner", ctx.trace, current))
            return current.traceparent if current is not None else None

        @self.outer.capability(self.outer_cap)
        async def outer(value: Any, ctx: TaskContext) -> Any:
            self.seen.append(("outer", ctx.trace, current_trace()))
            return await ctx.client.run(self.inner_cap, value)  # a nested submit: it inherits the task's trace context

        await self.inner.start()
        await self.outer.start()

    async def asyncTearDown(self) -> None:
        await self.client.close()
        await self.outer.close()
        await self.inner.close()

    async def test_a_submits_trace_reaches_the_handler_and_its_nested_submit_unchanged(self) -> None:
        out = await within(self.client.run(self.outer_cap, 1, trace=TRACE))
        self.assertEqual(out, TRACE.traceparent)
        self.assertEqual(self.seen, [("outer", TRACE, TRACE), ("inner", TRACE, TRACE)])

    async def test_a_submit_without_trace_carries_none(self) -> None:
        out = await within(self.client.run(self.outer_cap, 1))
        self.assertIsNone(out)
        self.assertEqual(self.seen, [("outer", None, None), ("inner", None, None)])

    async def test_messages_and_requests_carry_it_into_their_handlers(self) -> None:
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        self.outer.on_message(lambda msg: inbox.put_nowait((msg.trace, current_trace())))
        await within(self.client.send(self.outer.id, "hi", trace=TRACE))  # type: ignore[arg-type]
        self.assertEqual(await within(inbox.get()), (TRACE, TRACE))

        cap = unique("trace.ask")
        responder = agent("py-trace-responder")

        @responder.respond(cap)
        async def answer(payload: Any, ctx: RequestContext) -> Any:
            current = current_trace()
            return [ctx.trace.traceparent if ctx.trace else None, current.tracestate if current else None]

        await responder.start()
        try:
            self.assertEqual(await within(self.client.request(1, capability=cap, trace=TRACE)), [TRACE.traceparent, TRACE.tracestate])
            self.assertEqual(await within(self.client.request(1, capability=cap)), [None, None])
        finally:
            await responder.close()

    def test_a_malformed_traceparent_is_refused_here(self) -> None:
        for bad in ["00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "00-" + "0" * 32 + "-00f067aa0ba902b7-01", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]:
            with self.assertRaises(ValueError):
                TraceContext(bad)


if __name__ == "__main__":
    unittest.main()
