/**
 * Trace context in the broker's own structures [TRACE-4]: what the mesh writes for a task carries it
 * when the submit did and has no trace field at all when not (nothing extra per untraced task), and
 * an ended task lets go of it. The wire behaviour is conformance's broker.trace.* cases.
 */
import { decodePayload } from "@agentwire/wire";
import { describe, expect, it } from "vitest";
import { decodeTaskBytes, encodeTask, handoffOf, taskRecord } from "../src/redis/envelope.js";
import { TaskTable, type TaskRecord } from "../src/tasks/task-table.js";
import { carried } from "../src/trace.js";

const TRACE = { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "vendor1=opaque" };

function task(trace: TaskRecord["trace"]): TaskRecord {
  return {
    id: "o.tabc-1", seq: 1, capability: "c", version: undefined, tags: undefined, input: new Uint8Array([0x01]), priority: "normal",
    strategy: "round_robin", attempt: 1, maxAttempts: 3, state: "queued", owner: "", submitter: null, ref: "r", watchers: undefined,
    agent: null, formerAgents: undefined, timeoutMs: 1_000, endedAt: 0, ok: false, output: undefined, error: undefined, idemKey: undefined,
    deadline: Date.now() + 1_000, heapIndex: -1, remoteBroker: undefined, trace,
  };
}

const keysOf = (bytes: Buffer): string[] => Object.keys(decodePayload<Record<string, unknown>>(bytes));

describe("trace context in the broker's structures", () => {
  it("a submit's fields are kept as one object, a frame without a traceparent as none (a lone tracestate is dropped)", () => {
    expect(carried(TRACE)).toEqual(TRACE);
    expect(carried({})).toBeUndefined();
    expect(carried({ tracestate: "vendor1=opaque" })).toBeUndefined();
  });

  it("the mesh's hand-off entry and open-task record carry the trace context, and no trace key for an untraced task", () => {
    for (const encode of [(t: TaskRecord) => encodeTask(handoffOf(t, "o", "b")), (t: TaskRecord) => encodeTask(taskRecord(t, "o"))]) {
      const plain = encode(task(undefined));
      expect(keysOf(plain).filter((k) => k.startsWith("trace"))).toEqual([]);
      const traced = encode(task(TRACE));
      expect(decodeTaskBytes(traced)).toMatchObject(TRACE);
      // The traced entry is the plain one plus exactly the two fields: MessagePack str headers of 1 byte
      // (fixstr, under 32 bytes) for the keys and the tracestate, 2 (str 8) for the 55-byte traceparent.
      expect(traced.byteLength - plain.byteLength).toBe(1 + "traceparent".length + 2 + TRACE.traceparent.length + 1 + "tracestate".length + 1 + TRACE.tracestate.length);
    }
  });

  it("an ended task drops its trace context with its input", () => {
    const table = new TaskTable(60_000, 10, 1 << 20);
    const t = task(TRACE);
    table.add(t);
    table.markEnded(t, Date.now());
    expect(t.trace).toBeUndefined();
  });
});
