"""Pools from a Python supervisor [POOL-*]: child-process members grow and shrink with the broker's
autoscaler, a member killed with SIGKILL is replaced, and the example supervisor runs the example agent."""

import asyncio
import os
import signal
import sys
import unittest
from pathlib import Path
from typing import Any

from agentwire import AgentInfo, InvalidPoolOptionsError, Pool, PoolEvent, Restart, connect
from support import URL, needs_broker, unique, wait_until, within

REPO = Path(__file__).resolve().parents[2]
#: Short autoscaler windows, so a ramp takes seconds.
FAST = {"interval_ms": 100, "window_ms": 500, "stabilization_ms": 600, "cooldown_ms": 300, "step": 4}

# A plain SDK agent with no pool code: its pool and agent id come from the supervisor's environment.
MEMBER = """
import asyncio, os
from agentwire import Agent

agent = Agent(os.environ["AGENTWIRE_URL"], name="py-pool-member", capacity=2)

@agent.capability(os.environ["CAP"])
async def work(value, ctx):
    await asyncio.sleep(value["ms"] / 1000)  # the work: it holds a slot for a while
    return {"agent": agent.id, "attempt": ctx.attempt}

asyncio.run(agent.run())
"""


class Options(unittest.TestCase):
    def test_bad_options_raise_a_typed_error(self) -> None:
        base: dict[str, Any] = {"name": "p", "min": 1, "max": 2, "capabilities": ["x"], "command": ["true"]}
        for bad in ({"min": 3}, {"name": "a pool"}, {"capabilities": []}, {"command": []}, {"autoscale": {"speed": 1}}, {"grace": -1},
                    {"autoscale": {"up_threshold": 0.3, "down_threshold": 0.5}}):
            with self.subTest(bad=bad), self.assertRaises(InvalidPoolOptionsError) as caught:
                Pool("ws://127.0.0.1:1/", **{**base, **bad})
            self.assertEqual(caught.exception.code, "invalid_pool_options")


async def members_of(client: Any, pool: str, count: int) -> list[AgentInfo] | None:
    """The pool's members in the registry once there are ``count`` of them [POOL-2], else None."""
    found = [a for a in await client.agents() if a.pool == pool]
    return found if len(found) == count else None


@needs_broker
class Supervisor(unittest.IsolatedAsyncioTestCase):
    async def test_grows_under_load_and_shrinks_back_to_min(self) -> None:
        cap, name = unique("py.pool"), unique("py-pool")
        pool = Pool(URL, name=name, min=1, max=6, capabilities=[cap], autoscale=FAST, grace=20,
                    command=[sys.executable, "-c", MEMBER], env={"CAP": cap}, quiet=True)
        events: list[PoolEvent] = []
        pool.watch(events.append)
        client = await connect(URL)
        level = 0
        outcomes: list[asyncio.Future[Any]] = []

        async def worker(slot: int) -> None:
            while slot < level:
                fut = asyncio.ensure_future(client.run(cap, {"ms": 150}, timeout=60))
                outcomes.append(fut)
                await asyncio.wait([fut])

        try:
            async with pool:
                listed = await wait_until(lambda: members_of(client, name, 1), 15, "the first member")
                self.assertEqual([a.agent_id for a in listed], [m.id for m in pool.members])  # AGENTWIRE_INSTANCE_ID
                level = 8  # 8 in flight on 1 × 2 slots
                workers = [asyncio.ensure_future(worker(i)) for i in range(level)]
                await wait_until(lambda: pool.size >= 3, 60, "the pool to grow")
                level = 0
                await asyncio.gather(*workers)
                results = await asyncio.gather(*outcomes)
                self.assertTrue(all(isinstance(r, dict) for r in results))
                await wait_until(lambda: pool.size == 1 and len(pool.members) == 1, 60, "the pool to shrink back to 1")
                scales = [e.frame for e in events if e.type == "scale" and e.frame is not None]
                ups = [f for f in scales if f["to"] > f["from"]]
                downs = [f for f in scales if f["to"] < f["from"]]
                self.assertTrue(ups and downs, scales)
                self.assertEqual(scales, ups + downs)  # monotone in each phase
                # Drained members finished and left; none was restarted.
                self.assertFalse([e for e in events if e.type == "exited" and not e.left])
        finally:
            await client.close()

    async def test_a_command_that_cannot_start_raises_a_typed_error(self) -> None:
        pool = Pool(URL, name=unique("py-missing"), min=1, max=1, capabilities=[unique("py.missing")], command=[str(REPO / "no-such-program")])
        with self.assertRaises(InvalidPoolOptionsError) as caught:
            await pool.start()
        self.assertIn("could not be started", str(caught.exception))

    async def test_a_member_killed_with_sigkill_is_replaced(self) -> None:
        cap, name = unique("py.kill"), unique("py-kill")
        pool = Pool(URL, name=name, min=2, max=2, capabilities=[cap], command=[sys.executable, "-c", MEMBER],
                    env={"CAP": cap}, restart=Restart(initial=0.05, maximum=1, reset_after=120), quiet=True)
        exits: asyncio.Queue[PoolEvent] = asyncio.Queue()
        pool.watch(lambda e: exits.put_nowait(e) if e.type == "exited" else None)
        async with pool:
            victim = pool.members[0]
            victim.process.send_signal(signal.SIGKILL)
            event = await within(exits.get(), 15)
            self.assertEqual((event.id, event.clean, event.left, event.detail, event.restart_in),
                             (victim.id, False, False, f"signal {int(signal.SIGKILL)}", 0.05))
            await wait_until(lambda: len(pool.members) == 2 and victim.id not in [m.id for m in pool.members], 15, "a replacement")
        self.assertEqual(pool.members, [])


@needs_broker
class ExampleSupervisor(unittest.IsolatedAsyncioTestCase):
    async def test_runs_the_example_agent_as_pool_members(self) -> None:
        name = unique("py-example")
        child = await asyncio.create_subprocess_exec(
            sys.executable, str(REPO / "python" / "examples" / "pool_supervisor.py"),
            env={**os.environ, "POOL_NAME": name}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        client = await connect(URL)
        try:
            line = (await within(child.stdout.readline(), 20)).decode()  # type: ignore[union-attr]
            self.assertIn(f"supervising pool {name}: 2 members", line)
            members = await wait_until(lambda: members_of(client, name, 2), 15, "two example agents in the pool")
            self.assertEqual({m.name for m in members}, {"python-example-agent"})
            self.assertEqual(await within(client.run("text.upper", "pool")), "POOL")
            child.send_signal(signal.SIGTERM)
            self.assertEqual(await within(child.wait(), 20), 0)
            await wait_until(lambda: members_of(client, name, 0), 15, "the members to be gone")
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
            await client.close()
