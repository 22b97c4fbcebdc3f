/**
 * Runs every protocol/vectors/*.json vector through the codec, decodes every valid one with a second,
 * independent MessagePack implementation (@msgpack/msgpack) to prove the bytes are plain MessagePack,
 * and checks the checked-in files are exactly what scripts/vectors.ts generates.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { decode as msgpackDecode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import { type InvalidVector, type Notation, type ValidVector, type VectorFile, fromHex, toHex, toNotation, vectorFiles, vectorsDir, withoutDocs } from "../scripts/vectors.js";
import { FRAME_TYPES, ProtocolError, decode, decodePayload, encode, isErrorCode } from "../src/index.js";

const read = <V>(name: string): VectorFile<V> => JSON.parse(readFileSync(join(vectorsDir, name), "utf8")) as VectorFile<V>;
const valid = read<ValidVector>("valid.json");
const invalid = read<InvalidVector>("invalid.json");

/** Every `$bin` object whose `$doc` is present, anywhere in a notation value. */
function docs(value: Notation, out: Array<{ $bin: string; $doc: Notation }> = []): Array<{ $bin: string; $doc: Notation }> {
  if (Array.isArray(value)) for (const v of value) docs(v, out);
  else if (value !== null && typeof value === "object") {
    const bin = value.$bin;
    const doc = value.$doc;
    if (typeof bin === "string") {
      if (doc !== undefined) out.push({ $bin: bin, $doc: doc });
    } else for (const v of Object.values(value)) docs(v, out);
  }
  return out;
}

describe("vector files", () => {
  it("are version 1 and hold enough vectors", () => {
    expect(valid.version).toBe(1);
    expect(invalid.version).toBe(1);
    expect(invalid.vectors.length).toBeGreaterThanOrEqual(25);
    const types = new Set(valid.vectors.map((v) => (v.frame as { type: string }).type));
    expect(FRAME_TYPES.filter((t) => !types.has(t))).toEqual([]);
  });

  it("have unique ids, descriptions, spec ids, lowercase hex and registry error codes", () => {
    const ids = [...valid.vectors, ...invalid.vectors].map((v) => v.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const v of [...valid.vectors, ...invalid.vectors]) {
      expect(v.description.length, v.id).toBeGreaterThan(0);
      expect(v.spec.length, v.id).toBeGreaterThan(0);
      for (const s of v.spec) expect(s, v.id).toMatch(/^[A-Z]+-\d+$/);
      expect(v.hex, v.id).toMatch(/^(?:[0-9a-f]{2})*$/);
    }
    for (const v of valid.vectors) expect(v.id).toMatch(/^valid\//);
    for (const v of invalid.vectors) {
      expect(v.id).toMatch(/^invalid\//);
      expect(isErrorCode(v.error), v.id).toBe(true);
    }
  });

  it("are exactly what scripts/vectors.ts generates (run `pnpm gen` after changing it)", () => {
    const files = vectorFiles();
    const onDisk = readdirSync(vectorsDir).filter((n) => n.endsWith(".json")).sort();
    expect(onDisk).toEqual([...files.keys()].sort());
    for (const [name, text] of files) expect(readFileSync(join(vectorsDir, name), "utf8"), name).toBe(text);
  });
});

describe("valid vectors", () => {
  it.each(valid.vectors.map((v) => [v.id, v] as const))("%s", (_id, v) => {
    const bytes = fromHex(v.hex);
    const expected = withoutDocs(v.frame);

    // The codec decodes the bytes to the frame.
    const frame = decode(bytes);
    expect(toNotation(frame)).toStrictEqual(expected);

    // An independent MessagePack implementation decodes the same bytes to the same value (plus any
    // keys the frame ignores): the bytes are plain MessagePack.
    const plain = msgpackDecode(bytes, { useBigInt64: false });
    expect(toNotation(plain)).toStrictEqual({ ...(expected as Record<string, Notation>), ...v.ignored });

    // Canonical vectors are exactly what `encode` writes for the decoded frame.
    if (v.canonical) expect(toHex(encode(frame))).toBe(v.hex);

    // Informative payload documents match the bin contents, decoded both ways.
    for (const d of docs(v.frame)) {
      expect(toNotation(decodePayload(fromHex(d.$bin)))).toStrictEqual(d.$doc);
      expect(toNotation(msgpackDecode(fromHex(d.$bin), { useBigInt64: false }))).toStrictEqual(d.$doc);
    }
  });
});

describe("invalid vectors", () => {
  it.each(invalid.vectors.map((v) => [v.id, v] as const))("%s", (_id, v) => {
    const bytes = fromHex(v.hex);
    const options = v.max_frame_bytes === undefined ? {} : { maxFrameBytes: v.max_frame_bytes };
    let thrown: unknown;
    let decoded: unknown;
    try {
      decoded = decode(bytes, options);
    } catch (err) {
      thrown = err;
    }
    expect(decoded, "decode should have thrown").toBeUndefined();
    expect(thrown).toBeInstanceOf(ProtocolError);
    expect((thrown as ProtocolError).code).toBe(v.error);
  });

  it("vectors with max_frame_bytes are over that limit", () => {
    const sized = invalid.vectors.filter((v) => v.max_frame_bytes !== undefined);
    expect(sized.length).toBeGreaterThan(0);
    for (const v of sized) expect(v.hex.length / 2, v.id).toBeGreaterThan(v.max_frame_bytes!);
  });
});
