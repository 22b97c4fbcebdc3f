import { describe, expect, it } from "vitest";
import {
  AgentwireError,
  BadFrameError,
  ERROR_CODE_LIST,
  ERROR_CODES,
  FRAME_TYPES,
  FrameTooLargeError,
  NoAgentsError,
  PEER_TO_BROKER,
  ProtocolError,
  UnknownTypeError,
  decode,
  decodePayload,
  encode,
  encodePayload,
  errorFromCode,
  errorInfo,
  type Frame,
} from "../src/index.js";
import * as wire from "../src/index.js";

const fromHexString = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, "hex"));
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const task: Frame = {
  type: "task",
  task_id: "t-1",
  capability: "price.quote",
  input: encodePayload({ symbols: ["SOL"] }),
  priority: "high",
  deadline: 1_795_600_000_000,
  attempt: 1,
  max_attempts: 3,
};

describe("encode/decode [ENC-1..3]", () => {
  it("round-trips a frame", () => {
    const back = decode(encode(task));
    expect(back).toEqual({ ...task, input: Buffer.from(task.type === "task" ? task.input : []) });
  });

  it("writes positive integers beyond 32 bits as uint64 and negative ones as int64, never float64 [ENC-3, ENC-19]", () => {
    const bytes = hex(encode(task));
    // deadline 1_795_600_000_000: uint64 marker cf, no float64 marker cb anywhere
    expect(bytes).toContain("a8646561646c696e65cf");
    expect(bytes).not.toContain("cb");
    expect(hex(encodePayload(0x1_0000_0000))).toBe("cf0000000100000000");
    expect(hex(encodePayload(Number.MAX_SAFE_INTEGER))).toBe("cf001fffffffffffff");
    expect(hex(encodePayload(-0x8000_0001))).toBe("d3ffffffff7fffffff");
    expect(hex(encodePayload([0xffff_ffff, -0x8000_0000]))).toBe("92ceffffffffd280000000");
  });

  it("decodes a positive integer beyond 32 bits in either 9-byte form, uint64 or int64 [ENC-3]", () => {
    const frame = (marker: string) => fromHexString(`82a474797065a9686561727462656174a9696e5f666c69676874${marker}0000000100000000`);
    expect(decode(frame("cf"))).toEqual({ type: "heartbeat", in_flight: 0x1_0000_0000 });
    expect(decode(frame("d3"))).toEqual({ type: "heartbeat", in_flight: 0x1_0000_0000 });
  });

  it("accepts 64-bit integers up to ±(2^53-1) and refuses one beyond, in either 9-byte form [ENC-3]", () => {
    // {"a": <int>}: the scan reads the two 32-bit halves; decode of an object document
    const doc = (marker: string, value: string) => fromHexString(`81a161${marker}${value}`);
    const { scanDocument } = wire;
    for (const [marker, value] of [["cf", "001fffffffffffff"], ["d3", "001fffffffffffff"], ["d3", "ffe0000000000001"], ["cf", "0000000000000000"], ["d3", "ffffffffffffffff"]] as const)
      expect(() => scanDocument(doc(marker, value)), `${marker} ${value}`).not.toThrow();
    for (const [marker, value] of [["cf", "0020000000000000"], ["cf", "ffffffffffffffff"], ["d3", "0020000000000000"], ["d3", "ffe0000000000000"], ["d3", "8000000000000000"], ["d3", "ffdfffffffffffff"]] as const)
      expect(() => scanDocument(doc(marker, value)), `${marker} ${value}`).toThrow(/outside ±\(2\^53-1\)/);
  });

  it("checks a str's UTF-8 also after an ASCII prefix, and names where the str starts [ENC-2]", () => {
    // {"type": "ack", "ref": "r1", "x": <str>} with the str's bytes given (an unknown key is still scanned)
    const frame = (strHex: string) => fromHexString(`83a474797065a361636ba3726566a27231a178${(0xa0 + strHex.length / 2).toString(16)}${strHex}`);
    expect(decode(frame(Buffer.from("r-é1").toString("hex")))).toEqual({ type: "ack", ref: "r1" });
    for (const bad of ["722dc3", "722dff31", "72c328", "c0af"]) {
      const err = (() => { try { decode(frame(bad)); } catch (e) { return e as Error & { details?: unknown }; } return undefined; })();
      expect(err, bad).toBeInstanceOf(BadFrameError);
      expect(err?.message, bad).toMatch(/not valid UTF-8/);
      expect(err?.details, bad).toEqual({ offset: 20 });
    }
  });

  it("leaves out undefined fields instead of writing an extension type", () => {
    const bytes = encode({ type: "ack", ref: "r1", ...{ extra: undefined } } as unknown as Frame);
    expect(hex(bytes)).toBe("82a474797065a361636ba3726566a27231");
  });

  it("ignores unknown keys [ENC-10]", () => {
    const bytes = encode({ type: "ack", ref: "r1", x_future: [1, 2] } as unknown as Frame);
    expect(decode(bytes)).toEqual({ type: "ack", ref: "r1" });
  });

  it("rejects a frame type the receiver does not accept with unknown_type, naming its ref", () => {
    const bytes = encode({ type: "registered", protocol: 1, agent_id: "a", session_id: "s", broker_id: "b", heartbeat_interval_ms: 1, heartbeat_timeout_ms: 2, max_frame_bytes: 65536, max_in_flight: 1 });
    expect(() => decode(bytes, { accept: PEER_TO_BROKER })).toThrow(UnknownTypeError);
    try {
      decode(encode({ type: "accepted", ref: "r9", task_id: "t" }), { accept: PEER_TO_BROKER });
    } catch (e) {
      expect((e as AgentwireError).ref).toBe("r9");
    }
  });

  it("reports the failing field's path and the frame's ref for schema violations", () => {
    const bytes = encode({ type: "submit", ref: "r7", capability: "x", input: new Uint8Array(), priority: "urgent" } as unknown as Frame);
    try {
      decode(bytes);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(BadFrameError);
      expect(e).toBeInstanceOf(ProtocolError);
      expect((e as AgentwireError).code).toBe("bad_frame");
      expect((e as AgentwireError).ref).toBe("r7");
      expect((e as AgentwireError).details).toMatchObject({ type: "submit", path: "priority" });
    }
  });

  it("names array items by decimal index in details.path, and a cross-field rule by the field it names [ENC-15]", () => {
    const pathOf = (frame: unknown): unknown => {
      try {
        decode(encode(frame as Frame));
      } catch (e) {
        return (e as AgentwireError).details?.path;
      }
      return expect.unreachable();
    };
    expect(pathOf({ type: "register", capabilities: [{ name: "ok" }, { name: " bad" }] })).toBe("capabilities.1.name");
    expect(pathOf({ type: "register", capabilities: [{ name: "c" }, { name: "c" }] })).toBe("capabilities");
    expect(pathOf({ type: "query", ref: "q", tags: ["a", "b c"] })).toBe("tags.1");
    expect(pathOf({ type: "request", id: "q", payload: new Uint8Array([1]) })).toBe("to");
    expect(pathOf({ type: "result", task_id: "t", ok: false })).toBe("error");
  });

  it("checks size before anything else [ENC-8]", () => {
    const bytes = encode({ type: "publish", topic: "a.b", payload: new Uint8Array(200) });
    expect(() => decode(bytes, { maxFrameBytes: 100 })).toThrow(FrameTooLargeError);
  });

  it("decodes payload documents separately from the envelope [ENC-7]", () => {
    const doc = { a: 1, b: [true, null, "x"], big: 2 ** 40 };
    expect(decodePayload(encodePayload(doc))).toEqual(doc);
    expect(hex(encodePayload(2 ** 40))).toBe("cf0000010000000000");
  });
});

describe("error classes [ERR-1]", () => {
  it("has one class per registry code, each a subclass of AgentwireError with that code", () => {
    const names = new Set<string>();
    for (const code of ERROR_CODE_LIST) {
      const err = errorFromCode(code, "m");
      expect(err).toBeInstanceOf(AgentwireError);
      expect(err.code).toBe(code);
      expect(err.retryable).toBe(ERROR_CODES[code].retryable);
      names.add(err.name);
    }
    expect(names.size).toBe(ERROR_CODE_LIST.length);
    expect(errorFromCode("no_agents", "m")).toBeInstanceOf(NoAgentsError);
  });

  it("keeps application codes as plain AgentwireError and maps unknown throwables", () => {
    const app = errorFromCode("quote_stale", "m");
    expect(app.constructor).toBe(AgentwireError);
    expect(app.retryable).toBe(false);
    expect(errorInfo(new Error("boom"), "handler_error")).toEqual({ code: "handler_error", message: "boom", retryable: false });
    expect(errorInfo(new NoAgentsError("none", { details: { capability: "x" } }))).toEqual({
      code: "no_agents", message: "none", retryable: true, details: { capability: "x" },
    });
  });

  it("wire protocol violations are ProtocolErrors", () => {
    for (const code of ["bad_frame", "frame_too_large", "unknown_type", "unsupported_version"]) {
      expect(errorFromCode(code, "m")).toBeInstanceOf(ProtocolError);
    }
    expect(errorFromCode("timeout", "m")).not.toBeInstanceOf(ProtocolError);
  });
});

describe("frame catalogue", () => {
  it("covers every frame type of the protocol sketch", () => {
    expect(FRAME_TYPES).toEqual([
      "register", "registered", "heartbeat", "submit", "accepted", "task", "progress", "result", "cancel", "attach",
      "send", "message", "subscribe", "unsubscribe", "publish", "request", "response", "query", "agents",
      "drain", "pool", "scale", "run", "run_accepted", "run_event", "run_result", "run_cancel", "run_watch", "goaway", "ack", "error",
    ]);
  });
});
