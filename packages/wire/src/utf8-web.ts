/** UTF-8 validation where node:buffer is absent (browsers): a fatal TextDecoder. utf8-node.ts on Node. */
const strict = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

export function isUtf8(bytes: Uint8Array): boolean {
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Bytes `s` takes as UTF-8. */
export function utf8Length(s: string): number {
  return encoder.encode(s).length;
}
