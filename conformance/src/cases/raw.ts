/** Hand-built MessagePack, for frames the reference encoder refuses to produce. */
import { encodePayload } from "@agentwire/wire";

/** One msgpack map from entries whose values are already-encoded bytes (or plain values). */
export function rawMap(entries: [string, unknown][]): Uint8Array {
  const n = entries.length;
  const head = n < 16 ? Buffer.from([0x80 | n]) : Buffer.from([0xde, n >> 8, n & 0xff]);
  const parts: Buffer[] = [head];
  for (const [k, v] of entries) {
    parts.push(Buffer.from(encodePayload(k)));
    parts.push(v instanceof Raw ? v.bytes : Buffer.from(encodePayload(v)));
  }
  return Buffer.concat(parts);
}

/** Pre-encoded value for rawMap. */
export class Raw {
  constructor(readonly bytes: Buffer) {}
}
export const raw = (...bytes: (number | Buffer)[]): Raw =>
  new Raw(Buffer.concat(bytes.map((b) => (typeof b === "number" ? Buffer.from([b]) : b))));

/** Arrays nested `levels` deep, innermost holding one int. */
export function nested(levels: number): Raw {
  return raw(...Array.from({ length: levels }, () => 0x91), 0x01);
}
