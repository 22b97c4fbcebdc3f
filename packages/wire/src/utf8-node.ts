/** UTF-8 validation on Node: node:buffer's isUtf8 (SIMD). The web build uses utf8-web.ts. */
export { isUtf8 } from "node:buffer";

/** Bytes `s` takes as UTF-8. */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s);
}
