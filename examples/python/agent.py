#!/usr/bin/env python3
"""An agentwire agent in Python, written from protocol/SPEC.md alone.

Uses only msgpack and websockets (asyncio API). It offers `text.upper` and the conformance
capabilities of protocol/IMPLEMENTING.md, so `agentwire-conformance agent -- python3 agent.py` passes.

    AGENTWIRE_URL=ws://127.0.0.1:7420/ python3 agent.py
"""
import asyncio
import os
import signal
import sys
import time

import msgpack
import websockets

URL = os.environ.get("AGENTWIRE_URL", "ws://127.0.0.1:7420/")
# Set by a pool supervisor that started this agent as a member: its pool and its agent id [POOL-1].
POOL = os.environ.get("AGENTWIRE_POOL") or None
INSTANCE_ID = os.environ.get("AGENTWIRE_INSTANCE_ID") or None
CAPACITY = 8
CAPABILITIES = ["text.upper", "trace.echo", "conformance.echo", "conformance.slow", "conformance.strict"]


def now_ms():
    return int(time.time() * 1000)


def pack(frame):
    # Plain MessagePack only [ENC-2]: str for text, bin for payloads, no extension types.
    return msgpack.packb(frame, use_bin_type=True)


def doc(value):
    """A payload field: bin holding exactly one MessagePack document [ENC-7]."""
    return msgpack.packb(value, use_bin_type=True)


class InvalidInput(Exception):
    pass


class Agent:
    def __init__(self, ws):
        self.ws = ws
        self.tasks = {}  # task_id -> asyncio.Task
        self.draining = False
        self.interval = 5.0
        self.done = asyncio.Event()

    async def send(self, frame):
        try:
            await self.ws.send(pack(frame))
        except websockets.ConnectionClosed:
            pass

    def status(self):
        if self.draining:
            return "draining"
        return "busy" if len(self.tasks) >= CAPACITY else "ready"

    async def heartbeats(self):
        # At most heartbeat_interval_ms apart [HB-2]; send at half the interval to stay clear of it.
        while True:
            await asyncio.sleep(self.interval / 2)
            await self.send({"type": "heartbeat", "in_flight": len(self.tasks), "capacity": CAPACITY, "status": self.status()})

    async def run_task(self, task):
        task_id = task["task_id"]
        attempt = task["attempt"]
        try:
            # Time left by the broker's remaining_ms when it sent one, else its deadline on our clock [TASK-34].
            left_ms = task["remaining_ms"] if "remaining_ms" in task else task["deadline"] - now_ms()
            output = await asyncio.wait_for(self.work(task), max(0.0, left_ms / 1000))
            result = {"type": "result", "task_id": task_id, "attempt": attempt, "ok": True, "output": doc(output)}
        except InvalidInput as err:
            result = {"type": "result", "task_id": task_id, "attempt": attempt, "ok": False,
                      "error": {"code": "invalid_input", "message": str(err)}}
        except asyncio.TimeoutError:
            # The deadline passed: abandon the work [TASK-6]; not retryable, so that a result reaching the
            # broker before its own deadline cannot requeue the task [TASK-35].
            result = {"type": "result", "task_id": task_id, "attempt": attempt, "ok": False,
                      "error": {"code": "deadline_exceeded", "message": "deadline passed", "retryable": False}}
        except asyncio.CancelledError:
            result = {"type": "result", "task_id": task_id, "attempt": attempt, "ok": False,
                      "error": {"code": "cancelled", "message": "cancelled by the broker"}}
        except Exception as err:  # an application failure, reported, never fatal
            result = {"type": "result", "task_id": task_id, "attempt": attempt, "ok": False,
                      "error": {"code": "agent_error", "message": str(err)[:4096]}}
        self.tasks.pop(task_id, None)
        await self.send(result)
        await self.maybe_close()

    async def work(self, task):
        try:
            value = msgpack.unpackb(task["input"], raw=False, strict_map_key=False)
        except Exception:
            raise InvalidInput("input is not one MessagePack document")
        cap = task["capability"]
        if cap == "conformance.echo":
            return value
        if cap == "trace.echo":
            # The W3C trace context the broker passed on from the submit, unchanged [TRACE-4]; a task this
            # agent submitted in turn would carry the same traceparent [TRACE-8].
            return {"traceparent": task.get("traceparent"), "tracestate": task.get("tracestate")}
        if cap == "text.upper":
            if not isinstance(value, str):
                raise InvalidInput("text.upper expects a string")
            return value.upper()
        if cap == "conformance.strict":
            n = value.get("n") if isinstance(value, dict) else None
            if not isinstance(n, int) or isinstance(n, bool):
                raise InvalidInput("input must be a map with an int n")
            return {"n": n}
        if cap == "conformance.slow":
            value = value if isinstance(value, dict) else {}
            ms, steps = int(value.get("ms", 0)), int(value.get("steps", 0))
            for i in range(steps):
                await self.send({"type": "progress", "task_id": task["task_id"], "data": doc({"step": i + 1, "of": steps})})
            await asyncio.sleep(ms / 1000)
            return {"slept": ms}
        raise InvalidInput("unknown capability " + cap)

    async def maybe_close(self):
        # After goaway, close with 1000 once every task ended [DRAIN-5, SHUT-6].
        if self.draining and not self.tasks:
            await self.ws.close(1000)
            self.done.set()

    async def handle(self, frame):
        kind = frame.get("type")
        if kind == "task":
            if self.draining:
                return
            if frame["deadline"] <= now_ms():
                await self.send({"type": "result", "task_id": frame["task_id"], "attempt": frame["attempt"], "ok": False,
                                 "error": {"code": "deadline_exceeded", "message": "deadline passed before start", "retryable": False}})
                return
            self.tasks[frame["task_id"]] = asyncio.create_task(self.run_task(frame))
        elif kind == "cancel":
            running = self.tasks.get(frame.get("task_id"))
            if running is not None:
                running.cancel()  # stop the work [TASK-32]
        elif kind == "goaway":
            self.draining = True
            await self.send({"type": "drain"})
            await self.maybe_close()
        elif kind == "drain":
            # The broker put this agent into DRAINING (a pool's scale-down) [DRAIN-7]: finish, close with 1000.
            self.draining = True
            await self.maybe_close()
        # Every other type, known or not, is ignored [ENC-13]; peers never send `error` [ERR-11].

    async def serve(self):
        register = {
            "type": "register",
            "name": "python-example-agent",
            "capacity": CAPACITY,
            "capabilities": [{"name": name, "version": "1.0.0"} for name in CAPABILITIES],
        }
        if POOL is not None:
            register.update(pool=POOL, agent_id=INSTANCE_ID)
        await self.send({k: v for k, v in register.items() if v is not None})
        beats = None
        try:
            async for message in self.ws:
                frame = decode(message)
                if frame is None:
                    continue  # discard malformed frames [ENC-14]
                if frame.get("type") == "registered":
                    self.interval = frame["heartbeat_interval_ms"] / 1000
                    print("registered as", frame["agent_id"], flush=True)
                    beats = asyncio.create_task(self.heartbeats())
                else:
                    await self.handle(frame)
        finally:
            if beats is not None:
                beats.cancel()
            for running in list(self.tasks.values()):
                running.cancel()


def decode(message):
    """One broker frame, or None when it is not a binary message holding one map with a str type."""
    if not isinstance(message, bytes):
        return None
    try:
        frame = msgpack.unpackb(message, raw=False, strict_map_key=True, ext_hook=reject_ext)
    except Exception:
        return None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        return None
    # A nil top-level field counts as absent [ENC-12].
    return {k: v for k, v in frame.items() if v is not None}


def reject_ext(code, data):
    raise ValueError("extension types are not allowed")


async def main():
    async with websockets.connect(URL, subprotocols=["agentwire.v1"], max_size=None) as ws:
        agent = Agent(ws)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(ws.close(1000)))
        await agent.serve()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (websockets.ConnectionClosed, OSError) as err:
        print("connection ended:", err, file=sys.stderr)
