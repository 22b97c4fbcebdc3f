"""Shared by the tests: the broker under test, bounded waits, unique names, the broker-restart request."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
import unittest
import uuid
from typing import Awaitable, Callable, TypeVar

from agentwire import Agent, Backoff

T = TypeVar("T")

#: The broker the tests talk to; python/test/python-sdk.test.ts starts one and passes its URL.
URL = os.environ.get("AGENTWIRE_URL", "")
#: How the restart test asks its runner to restart the broker: a line on stdout, "ok" back on stdin.
RESTART_REQUEST = "@@agentwire-test: restart broker"
CAN_RESTART = os.environ.get("AGENTWIRE_TEST_CONTROL") == "stdio"
FAST = Backoff(initial=0.05, maximum=0.5)

_seq = itertools.count(1)
_run = uuid.uuid4().hex[:8]


def unique(prefix: str) -> str:
    """A capability or topic token no other test uses, so tests share one broker safely."""
    return f"{prefix}.{_run}{next(_seq)}"


def needs_broker(cls: type) -> type:
    return unittest.skipUnless(URL, "AGENTWIRE_URL names no broker")(cls)


async def within(aw: Awaitable[T], seconds: float = 10.0) -> T:
    """``aw``, or a failure naming the deadline."""
    try:
        return await asyncio.wait_for(aw, seconds)
    except asyncio.TimeoutError:
        raise AssertionError(f"nothing within {seconds} s") from None


async def wait_until(probe: Callable[[], "T | None | Awaitable[T | None]"], seconds: float = 10.0, what: str = "condition") -> T:
    """Polls ``probe`` (with growing pauses) until it returns something other than None, or fails at the deadline."""
    deadline = time.monotonic() + seconds
    pause = 0.005
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value is not None and value is not False:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.1)


async def restart_broker(seconds: float = 30.0) -> None:
    """Asks the runner to restart the broker on the same port, and waits for its answer."""
    print(RESTART_REQUEST, flush=True)
    line = await within(asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline), seconds)
    if line.strip() != "ok":
        raise AssertionError(f"the runner did not restart the broker: {line!r}")


def agent(name: str = "py-test", **options: object) -> Agent:
    return Agent(URL, name=name, backoff=FAST, **options)  # type: ignore[arg-type]
