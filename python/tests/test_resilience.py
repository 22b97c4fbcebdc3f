"""Failures: an agent killed mid-task (a real child process), a broker restarted under its peers."""

import asyncio
import json
import os
import sys
import unittest
import urllib.request
from typing import Any

from agentwire import Message, ShuttingDownError, TaskContext, connect
from support import CAN_RESTART, FAST, URL, agent, needs_broker, restart_broker, unique, wait_until, within

# A child agent that takes the task and never finishes it.
CHILD = """
import asyncio, os, sys
from agentwire import Agent

agent = Agent(os.environ["AGENTWIRE_URL"], name="py-doomed")

@agent.capability(os.environ["CAP"])
async def hang(value, ctx):
    await ctx.progress("child has it")
    await asyncio.Event().wait()

async def main():
    await agent.start()
    print("registered", agent.id, flush=True)
    await agent.wait_closed()

asyncio.run(main())
"""


def http_base() -> str:
    return URL.replace("ws://", "http://").rstrip("/")


@needs_broker
class KilledAgent(unittest.IsolatedAsyncioTestCase):
    async def test_task_of_a_killed_agent_is_answered_once_by_another(self) -> None:
        cap = unique("py.kill")
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, env={**os.environ, "CAP": cap}, stdout=asyncio.subprocess.PIPE,
        )
        survivor = None
        client = await connect(URL)
        try:
            line = (await within(child.stdout.readline())).decode()  # type: ignore[union-attr]
            self.assertTrue(line.startswith("registered"), line)
            handle = await client.submit(cap, "work", timeout=20, max_attempts=3)
            async for first in handle.progress():
                self.assertEqual(first, "child has it")
                break
            runs: list[int] = []
            survivor = agent("py-survivor")

            @survivor.capability(cap)
            async def finish(value: Any, ctx: TaskContext) -> str:
                runs.append(ctx.attempt)
                return f"{value} finished on attempt {ctx.attempt}"

            await survivor.start()
            child.kill()  # SIGKILL mid-task: the broker requeues it [TASK-22]
            await within(child.wait())
            self.assertEqual(await within(handle.result(), 15), "work finished on attempt 2")
            self.assertEqual((runs, handle.attempt), ([2], 2))
            view = json.loads(urllib.request.urlopen(f"{http_base()}/v1/tasks/{handle.id}", timeout=5).read())
            self.assertEqual((view["state"], view["attempt"], view["ok"]), ("succeeded", 2, True))
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
            await client.close()
            if survivor is not None:
                await survivor.close()


@needs_broker
@unittest.skipUnless(CAN_RESTART, "only python/test/python-sdk.test.ts can restart the broker (AGENTWIRE_TEST_CONTROL=stdio)")
class BrokerRestart(unittest.IsolatedAsyncioTestCase):
    async def test_agent_and_client_reconnect_and_serve_again(self) -> None:
        cap, topic = unique("py.restart"), unique("py.restarted")
        a = agent("py-phoenix")
        release = asyncio.Event()

        @a.capability(cap)
        async def serve(value: Any, ctx: TaskContext) -> Any:
            if value == "hold":
                await ctx.progress("held")
                await release.wait()
            return value

        inbox: asyncio.Queue[Message] = asyncio.Queue()
        await a.start()
        client = await connect(URL, backoff=FAST, reattach=5.0)
        try:
            await client.subscribe(f"{topic}.*", inbox.put)
            agent_id, generation = a.id, a.session.generation
            open_task = await client.submit(cap, "hold", timeout=30)
            async for _ in open_task.progress():
                break
            await restart_broker()
            # The broker ended the open task before it closed [SHUT-5] (the runner gives it a short grace).
            with self.assertRaises(ShuttingDownError):
                await within(open_task.result(), 15)
            await wait_until(lambda: a.session.generation > generation and a.session.is_ready, 15, "the agent to register again")
            await wait_until(lambda: client.session.is_ready, 15, "the client to register again")
            self.assertEqual(a.id, agent_id)  # re-registered under the same id
            self.assertEqual(await within(client.run(cap, "after")), "after")
            # The resubscribe went out before that submit, and the broker handles a session's frames in order.
            other = await connect(URL)
            try:
                await other.publish(f"{topic}.x", "again")
                self.assertEqual((await within(inbox.get())).payload, "again")
            finally:
                await other.close()
        finally:
            release.set()
            await client.close()
            await a.close()
