"""Direct messages, publish/subscribe with local matching, request/response, registry queries, health."""

import asyncio
import json
import unittest
import urllib.request
from typing import Any

from agentwire import (
    AgentwireError, BadFrameError, Message, NoRespondersError, RequestContext, TimeoutError, connect,
)
from support import URL, agent, needs_broker, unique, wait_until, within


@needs_broker
class Messaging(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.client = await connect(URL, name="py-messaging")
        self.other = await connect(URL)

    async def asyncTearDown(self) -> None:
        await self.client.close()
        await self.other.close()

    async def test_send(self) -> None:
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        a = agent("py-inbox")
        a.on_message(inbox.put)
        await a.start()
        try:
            await self.client.send(a.id, {"hi": 1}, correlation_id="c-1")  # type: ignore[arg-type]
            msg = await within(inbox.get())
            self.assertEqual((msg.sender, msg.payload, msg.correlation_id, msg.topic), (self.client.id, {"hi": 1}, "c-1", None))
            with self.assertRaises(NoRespondersError):
                await self.client.send("nobody-" + unique("x"), 1)
        finally:
            await a.close()

    async def test_publish_subscribe_matches_locally(self) -> None:
        root = unique("news")
        one: asyncio.Queue[Message] = asyncio.Queue()
        many: asyncio.Queue[Message] = asyncio.Queue()
        await self.other.subscribe(f"{root}.*", one.put)
        sub_many = await self.other.subscribe(f"{root}.>", many.put)
        iterated = await self.other.subscribe(f"{root}.eu.*")
        await self.client.publish(f"{root}.eu", "a")
        await self.client.publish(f"{root}.eu.fr", "b")
        # One message per session [TOPIC-8], handed to each local pattern that matches.
        self.assertEqual((await within(one.get())).payload, "a")
        self.assertEqual([(await within(many.get())).payload for _ in range(2)], ["a", "b"])
        got = await within(anext(aiter(iterated)))
        self.assertEqual((got.topic, got.payload, got.sender), (f"{root}.eu.fr", "b", self.client.id))
        self.assertTrue(one.empty())
        await sub_many.unsubscribe()
        await self.client.publish(f"{root}.x", "c")
        self.assertEqual((await within(one.get())).payload, "c")
        self.assertTrue(many.empty())
        with self.assertRaises(BadFrameError):
            await self.client.publish(f"{root}.*", 1)
        with self.assertRaises(BadFrameError):
            await self.client.subscribe("a.>.b")

    async def test_a_broadcast_from_the_broker_says_so(self) -> None:
        topic = unique("py.http")
        inbox: asyncio.Queue[Message] = asyncio.Queue()
        await self.client.subscribe(topic, inbox.put)
        body = json.dumps({"via": "http"}).encode()
        request = urllib.request.Request(f"{URL.replace('ws://', 'http://').rstrip('/')}/v1/publish/{topic}", data=body,
                                         headers={"content-type": "application/json"})
        await asyncio.get_running_loop().run_in_executor(None, lambda: urllib.request.urlopen(request, timeout=5).read())
        msg = await within(inbox.get())
        # HTTP-12: from is the broker's id, which no session holds, and from_broker says so [MSG-7].
        self.assertEqual((msg.payload, msg.from_broker, msg.sender), ({"via": "http"}, True, self.client.session.registered["broker_id"]))  # type: ignore[index]
        await self.client.publish(topic, "from a session")
        self.assertFalse((await within(inbox.get())).from_broker)

    async def test_request_response(self) -> None:
        cap = unique("py.ask")
        a = agent("py-responder")

        @a.respond(cap)
        async def answer(payload: Any, ctx: RequestContext) -> Any:
            if payload == "fail":
                raise AgentwireError("refused", code="x-refused")
            if payload == "slow":
                await asyncio.Event().wait()
            return {"got": payload, "from": ctx.sender, "left": ctx.time_left > 0}

        await a.start()
        try:
            self.assertEqual(await within(self.client.request(1, capability=cap)), {"got": 1, "from": self.client.id, "left": True})
            self.assertEqual((await within(self.client.request(2, to=a.id)))["got"], 2)
            with self.assertRaises(AgentwireError) as refused:
                await within(self.client.request("fail", capability=cap))
            self.assertEqual(refused.exception.code, "x-refused")
            with self.assertRaises(TimeoutError):
                await within(self.client.request("slow", capability=cap, timeout=0.3))
            with self.assertRaises(NoRespondersError):
                await self.client.request(1, capability=unique("py.none"))
        finally:
            await a.close()

    async def test_registry_query_and_health(self) -> None:
        cap = unique("py.reg")
        healthy = True
        a = agent("py-registered", tags=["py-test"], capacity=3, health_check=lambda: healthy, health_check_interval=0.05)

        @a.capability(cap, version="2.1.0", description="for the registry test", tags=["gpu"])
        async def noop(value: Any, ctx: Any) -> None:
            return None

        await a.start()
        try:
            [info] = await self.client.agents(capability=cap)
            self.assertEqual((info.agent_id, info.name, info.capacity, info.tags, info.status), (a.id, "py-registered", 3, ("py-test",), "ready"))
            self.assertEqual([(c.name, c.version, c.description, c.tags) for c in info.capabilities], [(cap, "2.1.0", "for the registry test", ("gpu",))])
            self.assertEqual(await self.client.agents(capability=cap, tags=["cpu"]), [])
            self.assertEqual(len(await self.client.agents(capability=cap, tags=["gpu", "py-test"])), 1)
            healthy = False
            await wait_until(lambda: self._listed(cap, "unhealthy"), what="status unhealthy in the registry")
            healthy = True
            await wait_until(lambda: self._listed(cap, "ready"), what="status ready again")
        finally:
            await a.close()
        await wait_until(lambda: self._gone(cap), what="the agent to leave the registry")

    async def _listed(self, cap: str, status: str) -> bool | None:
        return len(await self.client.agents(capability=cap, status=status)) == 1 or None  # type: ignore[arg-type]

    async def _gone(self, cap: str) -> bool | None:
        return (await self.client.agents(capability=cap)) == [] or None
