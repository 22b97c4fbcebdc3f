import { LIMITS } from "./constants.js";
import { utf8Length } from "#utf8";

/**
 * Topic grammar [TOPIC-1..4]: tokens separated by ".", each token one or more characters other than
 * ".", "*", ">", white space and control characters. A pattern may use "*" as a whole token (exactly
 * one token) and ">" as its last token (one or more tokens).
 */
const TOKEN = /^[^.*>\s\p{Cc}]+$/u;

function tokensOf(s: string): string[] | undefined {
  if (s.length === 0 || utf8Length(s) > LIMITS.maxIdBytes) return undefined;
  const tokens = s.split(".");
  return tokens.length > LIMITS.maxTopicTokens ? undefined : tokens;
}

/** A concrete topic, as `publish` carries it: no wildcards. */
export function isValidTopic(topic: string): boolean {
  const tokens = tokensOf(topic);
  return tokens !== undefined && tokens.every((t) => TOKEN.test(t));
}

/** A subscription pattern: a topic whose tokens may be "*", and whose last token may be ">". */
export function isValidPattern(pattern: string): boolean {
  const tokens = tokensOf(pattern);
  if (tokens === undefined) return false;
  const last = tokens.length - 1;
  return tokens.every((t, i) => t === "*" || (t === ">" && i === last) || TOKEN.test(t));
}

/** Whether a valid pattern matches a valid topic (a topic is the pattern of itself alone). */
export function topicMatches(pattern: string, topic: string): boolean {
  return patternContains(pattern, topic);
}

/**
 * Whether pattern `outer` matches every topic that pattern `inner` matches (both valid): token by
 * token, `outer`'s `*` covers any one token or `*`, and a final `>` covers one or more tokens of any kind.
 */
export function patternContains(outer: string, inner: string): boolean {
  const o = outer.split(".");
  const i = inner.split(".");
  for (let k = 0; k < o.length; k++) {
    const token = o[k];
    if (token === ">") return i.length > k;
    if (k >= i.length || i[k] === ">") return false;
    if (token !== "*" && token !== i[k]) return false;
  }
  return o.length === i.length;
}
