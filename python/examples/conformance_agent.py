#!/usr/bin/env python3
"""The conformance convention of protocol/IMPLEMENTING.md, served with the agentwire package.

    node conformance/dist/src/cli.js agent -- python3 python/examples/conformance_agent.py

Connects to $AGENTWIRE_URL and offers conformance.echo, conformance.slow and conformance.strict.
"""

import asyncio
import os
from typing import Any

from agentwire import Agent, TaskContext

agent = Agent(os.environ.get("AGENTWIRE_URL", "ws://127.0.0.1:7420/"), name="python-sdk-conformance", capacity=8)


@agent.capability("conformance.echo")
async def echo(value: Any, ctx: TaskContext) -> Any:
    return value


def has_int_n(value: Any) -> dict[str, int]:
    n = value.get("n") if isinstance(value, dict) else None
    if not isinstance(n, int) or isinstance(n, bool):
        raise ValueError("input must be a map with an int n")
    return {"n": n}


@agent.capability("conformance.strict", parse=has_int_n)
async def strict(value: dict[str, int], ctx: TaskContext) -> dict[str, int]:
    return value


@agent.capability("conformance.slow")
async def slow(value: Any, ctx: TaskContext) -> dict[str, int]:
    value = value if isinstance(value, dict) else {}
    ms, steps = int(value.get("ms", 0)), int(value.get("steps", 0))
    for i in range(steps):
        await ctx.progress({"step": i + 1, "of": steps})
    await asyncio.sleep(ms / 1000)  # a cancel or the deadline interrupts this sleep
    return {"slept": ms}


if __name__ == "__main__":
    asyncio.run(agent.run())
