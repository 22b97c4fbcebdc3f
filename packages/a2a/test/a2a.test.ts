/**
 * The A2A bridge with the A2A SDK's own client and server: mesh capabilities as an A2A agent (card,
 * send, stream, get, cancel; standalone and mounted on the broker's port behind its auth), and a remote
 * A2A agent (the SDK's server, in this process) called through the mesh with `client.submit`.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { AGENT_CARD_PATH, A2A_PROTOCOL_VERSION, Role, TaskState, type AgentCard, type Message, type Task } from "@a2a-js/sdk";
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory, type Client as A2aClient } from "@a2a-js/sdk/client";
import { AgentEvent, DefaultRequestHandler, InMemoryTaskStore, type AgentExecutor } from "@a2a-js/sdk/server";
import { agentCardHandler, jsonRpcHandler, UserBuilder } from "@a2a-js/sdk/server/express";
import { defaults, startBroker as startBrokerInProcess } from "@agentwire/broker";
import { connect, type Agent, type Client } from "@agentwire/sdk";
import { startBroker, waitFor, type BrokerProcess } from "@agentwire/testkit";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { a2aAgent, a2aMount, a2aServer, dataPart, userMessage, valueOf, type A2aAgent, type A2aServer } from "../src/index.js";
import { mathAgent, type WaitLog } from "./agents.js";

const send = (skill: string, input: unknown) => ({ tenant: "", message: userMessage([dataPart(input)], { skill }), configuration: undefined, metadata: {} });

let broker: BrokerProcess;
let agent: Agent;
const log: WaitLog = { started: [], aborted: [] };

beforeAll(async () => {
  broker = await startBroker();
  agent = await mathAgent(broker.url, log);
});
afterAll(async () => {
  await agent?.close();
  await broker?.stop();
});

describe("mesh capabilities as an A2A agent", () => {
  let server: A2aServer;
  let a2a: A2aClient;
  beforeAll(async () => {
    server = await a2aServer({ url: broker.url, capabilities: ["math.add", "count.up", "wait.forever"] });
    a2a = await new ClientFactory().createFromUrl(server.url);
  });
  afterAll(async () => {
    await server?.close();
  });

  it("serves the Agent Card at the well-known path with a skill per capability", async () => {
    const res = await fetch(`${server.url}/${AGENT_CARD_PATH}`);
    expect(res.status).toBe(200);
    const card = await a2a.getAgentCard();
    expect(card.skills.map((s) => s.id).sort()).toEqual(["count.up", "math.add", "wait.forever"]);
    expect(card.skills.find((s) => s.id === "math.add")?.description).toBe("Adds two numbers.");
    expect(card.capabilities?.streaming).toBe(true);
  });

  it("runs a task for a message and returns its output as an artifact; tasks/get reads it back", async () => {
    const result = (await a2a.sendMessage(send("math.add", { a: 2, b: 3 }))) as Task;
    expect(result.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(valueOf(result.artifacts[0]!.parts)).toEqual({ sum: 5 });
    const again = await a2a.getTask({ tenant: "", id: result.id });
    expect(again.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(typeof again.status?.message === "undefined" || again.id === result.id).toBe(true);
  });

  it("streams the task's progress as working status updates over SSE", async () => {
    const states: TaskState[] = [];
    const progress: unknown[] = [];
    let output: unknown;
    for await (const e of a2a.sendMessageStream(send("count.up", { n: 3 }))) {
      const p = e.payload;
      if (p?.$case === "statusUpdate") {
        states.push(p.value.status!.state);
        if (p.value.metadata?.progress === true) progress.push(valueOf(p.value.status!.message!.parts));
      }
      if (p?.$case === "artifactUpdate") output = valueOf(p.value.artifact!.parts);
    }
    expect(progress).toEqual([{ step: 1 }, { step: 2 }, { step: 3 }]);
    expect(output).toBe(3);
    expect(states.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
  });

  it("cancels the agentwire task on tasks/cancel; the agent sees the abort", async () => {
    const before = log.started.length;
    let taskId: string | undefined;
    let last: TaskState | undefined;
    const stream = (async () => {
      for await (const e of a2a.sendMessageStream(send("wait.forever", null))) {
        const p = e.payload;
        if (p?.$case === "task") taskId = p.value.id;
        if (p?.$case === "statusUpdate") last = p.value.status!.state;
      }
    })();
    const agentwireId = await waitFor(() => log.started[before], 10_000, "the task to start on the agent");
    const id = await waitFor(() => taskId, 10_000, "the A2A task id");
    await a2a.cancelTask({ tenant: "", id, metadata: {} });
    await waitFor(() => (log.aborted.includes(agentwireId) ? true : undefined), 10_000, "the agent to see the abort");
    await stream;
    expect(last).toBe(TaskState.TASK_STATE_CANCELED);
  });

  it("rejects a message that names no exposed skill", async () => {
    const result = (await a2a.sendMessage(send("not.there", {}))) as Task;
    expect(result.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
  });
});

describe("the A2A agent mounted on the broker's port behind its auth", () => {
  const TOKEN = "a2a-secret";
  let b: Awaited<ReturnType<typeof startBrokerInProcess>>;
  let math: Agent;
  let base: string;
  beforeAll(async () => {
    b = await startBrokerInProcess({ ...defaults(), port: 0, auth: { tokens: [{ token: TOKEN }] }, mounts: [a2aMount()] }, pino({ level: "silent" }));
    base = `http://127.0.0.1:${b.address.port}/a2a`;
    math = await mathAgent(`ws://127.0.0.1:${b.address.port}/`, { started: [], aborted: [] }, TOKEN);
  });
  afterAll(async () => {
    await math?.close();
    await b?.close();
  });

  it("answers 401 without the token", async () => {
    const res = await fetch(`${base}/${AGENT_CARD_PATH}`);
    expect(res.status).toBe(401);
  });

  it("standalone over that broker, passes each request's token on: none gets the broker's 401", async () => {
    await using standalone = await a2aServer({ url: `ws://127.0.0.1:${b.address.port}/` });
    const refused = await fetch(`${standalone.url}/${AGENT_CARD_PATH}`);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    const card = await fetch(`${standalone.url}/${AGENT_CARD_PATH}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(card.status).toBe(200);
    expect(((await card.json()) as { skills: { id: string }[] }).skills.map((s) => s.id)).toContain("math.add");
  });

  it("serves the card and runs a task with the token", async () => {
    const authed: typeof fetch = (input, init) => fetch(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), authorization: `Bearer ${TOKEN}` } });
    const factory = new ClientFactory(
      ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
        transports: [new JsonRpcTransportFactory({ fetchImpl: authed })],
        cardResolver: new DefaultAgentCardResolver({ fetchImpl: authed }),
      }),
    );
    // The card path is resolved against the base URL: a base under a prefix ends with a slash.
    const a2a = await factory.createFromUrl(`${base}/`);
    expect((await a2a.getAgentCard()).supportedInterfaces[0]?.url).toBe(base);
    const result = (await a2a.sendMessage(send("math.add", { a: 40, b: 2 }))) as Task;
    expect(valueOf(result.artifacts[0]!.parts)).toEqual({ sum: 42 });
  });
});

describe("a remote A2A agent as an agentwire capability", () => {
  let http: Server;
  let bridged: A2aAgent;
  let client: Client;
  const cancelled: string[] = [];

  beforeAll(async () => {
    // An A2A agent written with the SDK alone: reverses text, reporting a working update first.
    const executor: AgentExecutor = {
      execute: async (ctx, bus) => {
        const { taskId, contextId } = ctx;
        const text = String(valueOf(ctx.userMessage.parts));
        const task: Task = { id: taskId, contextId, status: { state: TaskState.TASK_STATE_SUBMITTED, timestamp: undefined, message: undefined }, artifacts: [], history: [ctx.userMessage], metadata: undefined };
        bus.publish(AgentEvent.task(task));
        const msg = (value: unknown): Message => ({ messageId: randomUUID(), role: Role.ROLE_AGENT, parts: [dataPart(value)], taskId, contextId, metadata: undefined, extensions: [], referenceTaskIds: [] });
        bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: { state: TaskState.TASK_STATE_WORKING, timestamp: undefined, message: msg({ reversing: text.length }) }, metadata: undefined }));
        if (text === "wait") {
          await waitFor(() => (cancelled.includes(taskId) ? true : undefined), 20_000, "cancel");
          bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: { state: TaskState.TASK_STATE_CANCELED, timestamp: undefined, message: undefined }, metadata: undefined }));
          return;
        }
        bus.publish(AgentEvent.artifactUpdate({ taskId, contextId, artifact: { artifactId: "out", name: "out", description: "", parts: [dataPart([...text].reverse().join(""))], metadata: undefined, extensions: [] }, append: false, lastChunk: true, metadata: undefined }));
        bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: { state: TaskState.TASK_STATE_COMPLETED, timestamp: undefined, message: undefined }, metadata: undefined }));
      },
      cancelTask: async (taskId) => void cancelled.push(taskId),
    };
    const app = express();
    http = createServer(app);
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const card: AgentCard = {
      name: "Reverser",
      description: "Reverses text.",
      supportedInterfaces: [{ url, protocolBinding: "JSONRPC", tenant: "", protocolVersion: A2A_PROTOCOL_VERSION }],
      provider: undefined,
      version: "1.0.0",
      capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
      securitySchemes: {},
      securityRequirements: [],
      defaultInputModes: ["text/plain"],
      defaultOutputModes: ["text/plain"],
      skills: [{ id: "reverse", name: "reverse", description: "Reverses text.", tags: [], examples: [], inputModes: ["text/plain"], outputModes: ["text/plain"], securityRequirements: [] }],
      signatures: [],
    };
    const requestHandler = new DefaultRequestHandler(card, new InMemoryTaskStore(), executor);
    app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: requestHandler }));
    app.use(jsonRpcHandler({ requestHandler, userBuilder: UserBuilder.noAuthentication }));
    bridged = await a2aAgent({ card: url, broker: broker.url, capability: "text.reverse" });
    client = await connect({ url: broker.url });
  });
  afterAll(async () => {
    await client?.close();
    await bridged?.close();
    http?.closeAllConnections();
    await new Promise((resolve) => http?.close(resolve));
  });

  it("is called by client.submit through the mesh, its working updates as progress", async () => {
    expect(bridged.capability).toBe("text.reverse");
    const handle = client.submit("text.reverse", "agentwire");
    const progress: unknown[] = [];
    for await (const e of handle) if (e.type === "progress") progress.push(e.data);
    expect(await handle).toBe("eriwtnega");
    expect(progress).toEqual([{ reversing: 9 }]);
  });

  it("cancels the A2A task when the agentwire task is cancelled", async () => {
    const handle = client.submit("text.reverse", "wait");
    for await (const e of handle) if (e.type === "progress") break;
    await handle.cancel();
    await expect(handle.result).rejects.toMatchObject({ code: "cancelled" });
    await waitFor(() => (cancelled.length === 1 ? true : undefined), 10_000, "the A2A agent to be asked to cancel");
  });
});
