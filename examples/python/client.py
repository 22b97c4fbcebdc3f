#!/usr/bin/env python3
"""An agentwire client in Python, written from protocol/SPEC.md alone.

Submits one task and prints its result as JSON, using only msgpack and websockets (asyncio API).

    AGENTWIRE_URL=ws://127.0.0.1:7420/ python3 client.py text.upper '"hello"'

The second argument is the task input as JSON (default null). Exit status: 0 when the task
succeeded, 1 when it failed or was refused. With TRACEPARENT (and TRACESTATE) in the environment, the
submit carries that W3C trace context, which the broker passes on to the agent [TRACE-3, TRACE-4].
"""
import asyncio
import json
import os
import sys

import msgpack
import websockets

URL = os.environ.get("AGENTWIRE_URL", "ws://127.0.0.1:7420/")
TRACE = {"traceparent": os.environ.get("TRACEPARENT"), "tracestate": os.environ.get("TRACESTATE")} if os.environ.get("TRACEPARENT") else {}


def pack(frame):
    return msgpack.packb(frame, use_bin_type=True)


def unpack(message):
    frame = msgpack.unpackb(message, raw=False)
    return {k: v for k, v in frame.items() if v is not None}


async def submit(capability, value, timeout_ms=30000):
    async with websockets.connect(URL, subprotocols=["agentwire.v1"], max_size=None) as ws:
        await ws.send(pack({"type": "register", "name": "python-example-client"}))
        interval = 5.0
        ref = "py-1"
        async for message in ws:
            frame = unpack(message)
            kind = frame.get("type")
            if kind == "registered":
                interval = frame["heartbeat_interval_ms"] / 1000
                asyncio.create_task(heartbeats(ws, interval))
                submit = {"type": "submit", "ref": ref, "capability": capability,
                          "input": msgpack.packb(value, use_bin_type=True), "timeout_ms": timeout_ms, **TRACE}
                await ws.send(pack({k: v for k, v in submit.items() if v is not None}))
            elif kind == "error":
                return {"ok": False, "error": {"code": frame["code"], "message": frame["message"]}}
            elif kind == "accepted" and frame["ref"] == ref:
                print("accepted", frame["task_id"], file=sys.stderr)
            elif kind == "progress":
                print("progress", msgpack.unpackb(frame["data"], raw=False), file=sys.stderr)
            elif kind == "result" and frame.get("ref") == ref:
                out = {"task_id": frame["task_id"], "ok": frame["ok"]}
                if "output" in frame:
                    out["output"] = msgpack.unpackb(frame["output"], raw=False)
                if "error" in frame:
                    out["error"] = frame["error"]
                await ws.close(1000)
                return out
    return {"ok": False, "error": {"code": "closed", "message": "connection closed before the result"}}


async def heartbeats(ws, interval):
    # A client may send a bare heartbeat [HB-1]; every session heartbeats [HB-2].
    try:
        while True:
            await asyncio.sleep(interval / 2)
            await ws.send(pack({"type": "heartbeat"}))
    except websockets.ConnectionClosed:
        pass


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    value = json.loads(sys.argv[2]) if len(sys.argv) > 2 else None
    result = asyncio.run(submit(sys.argv[1], value))
    print(json.dumps(result, default=repr))
    sys.exit(0 if result.get("ok") else 1)


if __name__ == "__main__":
    main()
