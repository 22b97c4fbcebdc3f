/** Unit tests of the broker's data structures (the rest of the suite drives the real bin). */
import { describe, expect, it } from "vitest";
import { AGENT_STATUSES, topicMatches, type AgentStatus } from "@agentwire/wire";
import { Deque } from "../src/dispatch/deque.js";
import { TopicTrie } from "../src/pubsub/topic-trie.js";
import { answersById, awaitsWork, capabilityMatches, takesWorkNow } from "../src/serving.js";
import { DeadlineHeap } from "../src/tasks/deadlines.js";

describe("TopicTrie", () => {
  it("[TOPIC-3][TOPIC-4][TOPIC-8] matches like topicMatches, each subscriber once", () => {
    const patterns = [">", "a", "a.*", "a.>", "*.b", "a.b", "a.b.c", "*.*.c", "x.>", "*"];
    const topics = ["a", "a.b", "a.b.c", "x", "x.y", "q.b", "a.c.c"];
    const trie = new TopicTrie<string>();
    for (const p of patterns) trie.add(p, p);
    trie.add("a.*", "multi");
    trie.add("a.>", "multi");
    for (const t of topics) {
      const got = trie.match(t);
      expect([...got].filter((s) => s !== "multi").sort(), t).toEqual(patterns.filter((p) => topicMatches(p, t)).sort());
      expect(got.has("multi")).toBe(topicMatches("a.*", t) || topicMatches("a.>", t));
    }
    for (const p of patterns) trie.remove(p, p);
    trie.remove("a.*", "multi");
    expect(trie.match("a.b").size).toBe(1);
    trie.remove("a.>", "multi");
    expect(trie.match("a.b").size).toBe(0);
  });
});

describe("DeadlineHeap", () => {
  it("expires items in deadline order with one timer, removed items never", async () => {
    const fired: number[] = [];
    let done!: () => void;
    const all = new Promise<void>((r) => (done = r));
    const heap = new DeadlineHeap<{ deadline: number; heapIndex: number; n: number }>((item) => {
      fired.push(item.n);
      if (fired.length === 4) done();
    });
    const now = Date.now();
    const items = [50, 10, 40, 20, 30].map((d, n) => ({ deadline: now + d, heapIndex: -1, n }));
    for (const it of items) heap.push(it);
    heap.remove(items[2]!); // deadline 40
    await all;
    expect(fired).toEqual([1, 3, 4, 0]);
    expect(heap.size).toBe(0);
    heap.close();
  });
});

describe("Deque", () => {
  it("keeps FIFO order across holes and ordered inserts", () => {
    const d = new Deque<{ n: number }>();
    const xs = Array.from({ length: 3000 }, (_, n) => ({ n }));
    for (const x of xs) d.push(x);
    for (let i = 0; i < 1500; i++) d.shift();
    d.clearAt(1);
    d.insertBefore({ n: 1500.5 }, (o) => o.n > 1500.5);
    const out: number[] = [];
    for (let x = d.shift(); x !== undefined; x = d.shift()) out.push(x.n);
    expect(out.slice(0, 3)).toEqual([1500, 1500.5, 1502]);
    expect(out).toHaveLength(1500);
  });
});

describe("serving (who may serve what)", () => {
  it("[ROUTE-4][REQ-2][REQ-3] each status answers as serving.ts's table says", () => {
    // status → [a task waits for it, a task or a request by capability goes to it now, a request by id reaches it]
    const table: Record<AgentStatus, [boolean, boolean, boolean]> = {
      ready: [true, true, true],
      busy: [true, true, true],
      unhealthy: [true, false, false],
      draining: [false, false, true],
    };
    for (const status of AGENT_STATUSES) {
      expect([awaitsWork(status), takesWorkNow(status), answersById(status)], status).toEqual(table[status]);
    }
  });

  it("a capability matches a version range and required tags on the capability or the agent", () => {
    const cache = new Map<string, boolean>();
    expect(capabilityMatches("1.4.0", ["gpu"], ["eu"], "^1.2", ["gpu", "eu"], cache)).toBe(true);
    expect(capabilityMatches("1.4.0", ["gpu"], ["eu"], "^2", undefined, cache)).toBe(false);
    expect(capabilityMatches("1.4.0", [], [], "*", ["gpu"])).toBe(false);
    expect([...cache]).toEqual([
      ["^1.2", true],
      ["^2", false],
    ]);
  });
});
