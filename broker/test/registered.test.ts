/**
 * What the reference broker announces in `registered` [REG-14] and puts in `task` [TASK-34]: beside
 * conformance broker.task.defaults (which checks that they are there and agree), these check that the
 * broker's flags set them and that, unconfigured, they are §14's defaults.
 */
import { describe, expect, it } from "vitest";
import { DEFAULTS, encodePayload, type Register } from "@agentwire/wire";
import { Peer } from "@agentwire/testkit/peer";
import { startBroker, type RunningBroker } from "./helpers/backends.js";

async function session(b: RunningBroker, register: Omit<Register, "type"> = {}) {
  const peer = await Peer.connect(b.url);
  peer.send({ type: "register", ...register });
  return { peer, registered: await peer.next("registered") };
}

describe("registered announces the broker's defaults [REG-14]", () => {
  it("unconfigured: the defaults of SPEC.md §14", async () => {
    await using b = await startBroker();
    const { peer, registered } = await session(b);
    await using _p = peer;
    expect(registered).toMatchObject({ task_timeout_ms: DEFAULTS.taskTimeoutMs, request_timeout_ms: DEFAULTS.requestTimeoutMs, max_attempts: DEFAULTS.maxAttempts });
  });

  it("--task-timeout-ms, --request-timeout-ms and --max-attempts set what it announces and applies", async () => {
    await using b = await startBroker(["--task-timeout-ms", "4321", "--request-timeout-ms", "1234", "--max-attempts", "7"]);
    await using agent = (await session(b, { capabilities: [{ name: "c" }] })).peer;
    const { peer, registered } = await session(b);
    await using client = peer;
    expect(registered).toMatchObject({ task_timeout_ms: 4321, request_timeout_ms: 1234, max_attempts: 7 });
    client.send({ type: "submit", ref: "s", capability: "c", input: encodePayload(null) });
    const task = await agent.next("task");
    expect(task.max_attempts).toBe(7);
    expect(task.remaining_ms).toBeGreaterThan(0);
    expect(task.remaining_ms).toBeLessThanOrEqual(4321);
  });
});
