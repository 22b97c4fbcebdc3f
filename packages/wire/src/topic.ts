import { LIMITS } from "./constants.js";
import { utf8Length } from "#utf8";

/**
 * Topic grammar [TOPIC-1..4]: tokens separated by ".", each token one or more characters other than
 * ".", "*", ">", white space and control characters. A pattern may use "*" as a whole token (exactly
 * one token) and ">" as its last token (one or more tokens).
 *
 * The grammar is written once, as regular expressions: the validators below and the JSON Schemas of
 * protocol/schema/ (`pattern`) both use these sources [SCHEMA-1]. Only the UTF-8 byte limit is outside
 * them. The classes are spelled out (no `\s`, `\p{Cc}`) so that any ECMA-262 regex engine reads them
 * alike: U+0000–U+0020, U+007F–U+00A0 and the other white space of SPEC.md §9.2.
 */
const TCHAR = "[^.*>\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]";
const TOKEN = `${TCHAR}+`;
const PTOKEN = `(?:${TOKEN}|\\*)`;
const MORE = LIMITS.maxTopicTokens - 1;

/** A topic: 1..32 tokens without wildcards [TOPIC-1]. */
export const TOPIC_PATTERN = `^${TOKEN}(?:\\.${TOKEN}){0,${MORE}}$`;
/** A pattern: 1..32 tokens, `*` as whole tokens, `>` only as the whole last token [TOPIC-2]. */
export const TOPIC_PATTERN_PATTERN = `^(?:${PTOKEN}(?:\\.${PTOKEN}){0,${MORE}}|(?:${PTOKEN}\\.){0,${MORE - 1}}>)$`;

const TOPIC_RE = new RegExp(TOPIC_PATTERN, "u");
const PATTERN_RE = new RegExp(TOPIC_PATTERN_PATTERN, "u");

/** A concrete topic, as `publish` carries it: no wildcards. */
export function isValidTopic(topic: string): boolean {
  return TOPIC_RE.test(topic) && utf8Length(topic) <= LIMITS.maxIdBytes;
}

/** A subscription pattern: a topic whose tokens may be "*", and whose last token may be ">". */
export function isValidPattern(pattern: string): boolean {
  return PATTERN_RE.test(pattern) && utf8Length(pattern) <= LIMITS.maxIdBytes;
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
