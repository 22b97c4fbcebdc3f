#!/usr/bin/env python3
"""Starts a workflow run from Python, written from protocol/SPEC.md §21 alone.

Uses only msgpack and websockets (asyncio API). Sends the trade workflow (analyze -> assess_risk ->
execute) as a `run` frame, prints each `run_event` on stderr and the `run_result` as JSON on stdout.
A workflow is data: this script sends a definition document, the broker runs it over the agents of
examples/workflow/agents.mjs.

    node examples/workflow/agents.mjs &
    AGENTWIRE_URL=ws://127.0.0.1:7420/ python3 examples/python/workflow.py SOL

Exit status: 0 when the run completed, 1 when it failed or was refused.
"""
import asyncio
import json
import os
import sys

import msgpack
import websockets

URL = os.environ.get("AGENTWIRE_URL", "ws://127.0.0.1:7420/")


def ref(pointer):
    return {"$ref": pointer}


# The definition document (protocol/schema/workflow.schema.json) [WF-1].
TRADE = {
    "workflow": 1,
    "name": "trade",
    "version": "1.0.0",
    "steps": [
        {"id": "analyze", "capability": "market_analyzer", "input": ref("/input")},
        {"id": "assess_risk", "capability": "risk_manager", "after": ["analyze"], "input": ref("/steps/analyze/output"),
         "retry": {"max_attempts": 3, "initial_interval_ms": 100, "backoff_factor": 2}},
        {"id": "execute", "capability": "trade_executor", "after": ["assess_risk"],
         "input": {"symbol": ref("/input/symbol"), "side": ref("/steps/analyze/output/signal"),
                   "quantity": ref("/steps/assess_risk/output/max_quantity")}},
    ],
    "output": {"analysis": ref("/steps/analyze/output"), "risk": ref("/steps/assess_risk/output"),
               "execution": ref("/steps/execute/output")},
}


def pack(frame):
    return msgpack.packb(frame, use_bin_type=True)


def unpack(message):
    frame = msgpack.unpackb(message, raw=False)
    return {k: v for k, v in frame.items() if v is not None}


async def run(symbol):
    async with websockets.connect(URL, subprotocols=["agentwire.v1"], max_size=None) as ws:
        await ws.send(pack({"type": "register", "name": "python-workflow-client"}))
        async for message in ws:
            frame = unpack(message)
            kind = frame.get("type")
            if kind == "registered":
                asyncio.create_task(heartbeats(ws, frame["heartbeat_interval_ms"] / 1000))
                # The input is a bin holding one MessagePack document [ENC-7, WF-17].
                await ws.send(pack({"type": "run", "ref": "py-run-1", "workflow": TRADE,
                                    "input": msgpack.packb({"symbol": symbol}, use_bin_type=True)}))
            elif kind == "error":
                return {"ok": False, "error": {k: frame[k] for k in ("code", "message", "details") if k in frame}}
            elif kind == "run_accepted":
                print("run", frame["run_id"], file=sys.stderr)
            elif kind == "run_event":
                what = " ".join(str(frame[k]) for k in ("step", "attempt") if k in frame)
                why = f" {frame['error']['code']}" if "error" in frame else ""
                print(f"{frame['event']} {what}{why}", file=sys.stderr)
            elif kind == "run_result":
                out = {"run_id": frame["run_id"], "ok": frame["ok"]}
                if "output" in frame:
                    out["output"] = msgpack.unpackb(frame["output"], raw=False)
                if "error" in frame:
                    out["error"] = frame["error"]
                await ws.close(1000)
                return out
    return {"ok": False, "error": {"code": "closed", "message": "connection closed before the run_result"}}


async def heartbeats(ws, interval):
    try:
        while True:
            await asyncio.sleep(interval / 2)
            await ws.send(pack({"type": "heartbeat"}))
    except websockets.ConnectionClosed:
        pass


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    result = asyncio.run(run(sys.argv[1] if len(sys.argv) > 1 else "SOL"))
    print(json.dumps(result, default=repr))
    sys.exit(0 if result.get("ok") else 1)


if __name__ == "__main__":
    main()
