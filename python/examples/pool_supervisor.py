#!/usr/bin/env python3
"""A pool supervisor in Python: 2 to 10 copies of the example agent (examples/python/agent.py), sized
by the broker's autoscaler. Each copy finds its broker, pool and agent id in its environment.

    AGENTWIRE_URL=ws://127.0.0.1:7420/ python3 python/examples/pool_supervisor.py

SIGTERM or SIGINT stops the members and the supervisor.
"""

import asyncio
import os
import signal
import sys
from pathlib import Path

from agentwire import Pool

AGENT = Path(__file__).resolve().parents[2] / "examples" / "python" / "agent.py"


async def main() -> None:
    pool = Pool(
        os.environ.get("AGENTWIRE_URL", "ws://127.0.0.1:7420/"),
        name=os.environ.get("POOL_NAME", "python-example"),
        min=2,
        max=10,
        capabilities=["text.upper", "conformance.slow"],
        command=[sys.executable, str(AGENT)],
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with pool:
        print(f"supervising pool {pool.name}: {pool.size} members", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
