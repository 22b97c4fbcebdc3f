/**
 * Token ACLs [AUTH-*]. Auth is on when tokens are configured. An absent list allows everything, an
 * empty one nothing. `agent_ids`, `capabilities`, `submit` and `send` hold globs (`*` = any run of
 * characters); `publish` and `subscribe` hold topic patterns (TOPIC-2).
 */
import { createHash } from "node:crypto";
import { patternContains } from "@agentwire/wire";
import type { TokenAcl } from "./config.js";

export type GlobList = "agent_ids" | "capabilities" | "submit" | "send";
export type TopicList = "publish" | "subscribe";

const globCache = new Map<string, RegExp>();

function glob(pattern: string): RegExp {
  let re = globCache.get(pattern);
  if (re === undefined) {
    re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    globCache.set(pattern, re);
  }
  return re;
}

export class Auth {
  private readonly byToken = new Map<string, TokenAcl>();

  constructor(tokens: readonly TokenAcl[]) {
    for (const t of tokens) this.byToken.set(t.token, t);
  }

  get enabled(): boolean {
    return this.byToken.size > 0;
  }

  /** The ACL of a token; undefined when auth is on and the token is missing or unknown. */
  lookup(token: string | undefined): TokenAcl | undefined {
    return token === undefined ? undefined : this.byToken.get(token);
  }

  /** Whether `acl` (undefined when auth is off) allows `value` in one of its glob lists. */
  static allows(acl: TokenAcl | undefined, list: GlobList, value: string): boolean {
    // A read-only token may connect (its own id) but offers, submits and sends nothing [AUTH-9].
    if (acl?.read_only === true && list !== "agent_ids") return false;
    const patterns = acl?.[list];
    if (patterns === undefined) return true;
    return patterns.some((p) => glob(p).test(value));
  }

  /**
   * Whether `acl` may follow a task known only from the mesh, whose owner is given as `ownerTag` of
   * its token (undefined: submitted without a token).
   */
  static ownsTagged(acl: TokenAcl | undefined, tag: string | undefined): boolean {
    return acl === undefined || Auth.readsAll(acl) || (tag !== undefined && tag === ownerTag(acl.token));
  }

  /**
   * Whether `acl` may read (and, unless read-only, cancel) a task submitted by token `owner` ("" for
   * none): its own, or any as an admin or a read-only token [AUTH-8, AUTH-9].
   */
  static ownsTask(acl: TokenAcl | undefined, owner: string): boolean {
    return acl === undefined || Auth.readsAll(acl) || (owner !== "" && owner === acl.token);
  }

  /** Whether `acl` reads every token's tasks and events: an admin or a read-only token [AUTH-8, AUTH-9]. */
  static readsAll(acl: TokenAcl | undefined): boolean {
    return acl === undefined || acl.admin === true || acl.read_only === true;
  }

  /** Whether `acl` may act (submit, cancel, retry, drain, publish, send) at all: not a read-only token [AUTH-9]. */
  static mayAct(acl: TokenAcl | undefined): boolean {
    return acl?.read_only !== true;
  }

  /** Whether `acl` may act on what is not its own (drain an agent): auth off, or an admin that is not read-only [AUTH-9]. */
  static isOperator(acl: TokenAcl | undefined): boolean {
    return acl === undefined || (acl.admin === true && acl.read_only !== true);
  }

  /**
   * Whether `acl` allows publishing to a topic or subscribing to a pattern: one pattern of the list
   * matches every topic the value matches (for a topic, simply matches it) [AUTH-6].
   */
  static allowsTopic(acl: TokenAcl | undefined, list: TopicList, value: string): boolean {
    if (list === "publish" && acl?.read_only === true) return false;
    const patterns = acl?.[list];
    return patterns === undefined || patterns.some((p) => patternContains(p, value));
  }
}

/** A short, stable digest: what Redis gets of a token or an idempotency key, never the text itself. */
export function digest(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 22);
}

/** What the mesh stores of the token that submitted a task, undefined for none. */
export function ownerTag(token: string): string | undefined {
  return token === "" ? undefined : digest(token);
}

/** The token of an `Authorization: Bearer <t>` header. */
export function bearer(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
