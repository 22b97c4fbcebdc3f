/**
 * Mesh capabilities as one A2A agent (A2A 1.0, JSON-RPC binding): the Agent Card at
 * `<base>/.well-known/agent-card.json` lists them as skills, read from the registry when the card is
 * fetched; `SendMessage` and `SendStreamingMessage` run a task (MeshExecutor), `GetTask` and
 * `CancelTask` follow and cancel it. A Node HTTP handler: standalone (`a2aServer`) or on the broker's
 * port (`a2aMount`), where the broker checked the bearer token and the bridge connects back with it.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import express, { type Request } from "express";
import { A2A_PROTOCOL_VERSION, AGENT_CARD_PATH, type AgentCard, type AgentSkill } from "@a2a-js/sdk";
import { DefaultRequestHandler, InMemoryTaskStore, type RequestContext } from "@a2a-js/sdk/server";
import { agentCardHandler, jsonRpcHandler } from "@a2a-js/sdk/server/express";
import { AgentwireError, ERROR_CODES, connect, isErrorCode, type Client, type Logger } from "@agentwire/sdk";
import { MeshExecutor } from "./executor.js";

export interface A2aHandlerOptions {
  /** The broker's WebSocket URL; default (a mount): the broker that received the request. */
  url?: string;
  /** Token for the broker; default: the request's bearer token. */
  token?: string;
  /** The capabilities exposed as skills (default: every capability in the registry). */
  capabilities?: string[];
  /** Path prefix the handler serves under, e.g. /a2a (default: none). */
  prefix?: string;
  /** The card's name and description. */
  name?: string;
  description?: string;
  logger?: Logger;
}

export interface A2aHandler {
  readonly prefix: string;
  handle(req: IncomingMessage, res: ServerResponse): void;
  close(): Promise<void>;
}

/** The request's caller as A2A's server sees it: the bearer token it came with. */
class TokenUser {
  constructor(readonly token: string | undefined) {}
  get isAuthenticated(): boolean {
    return this.token !== undefined;
  }
  /** Tasks are kept per user name: a digest of the token, so the token itself is never logged. */
  get userName(): string {
    return this.token === undefined ? "" : createHash("sha256").update(this.token).digest("hex").slice(0, 16);
  }
}

export function a2aHandler(options: A2aHandlerOptions = {}): A2aHandler {
  const prefix = options.prefix ?? "";
  const clients = new Map<string, Promise<Client>>();
  const clientFor = (url: string, token: string | undefined): Promise<Client> => {
    const key = `${url} ${token ?? ""}`;
    let c = clients.get(key);
    if (c === undefined) {
      c = connect({ url, token, name: "agentwire-a2a", logger: options.logger });
      clients.set(key, c);
      c.catch(() => clients.delete(key));
    }
    return c;
  };
  // The broker this request reached, per request (a mount), or the one named.
  const brokerOf = new WeakMap<object, string>();
  const executor = new MeshExecutor({
    exposed: options.capabilities,
    clientFor: (ctx: RequestContext) => {
      const user = ctx.context.user as TokenUser | undefined;
      const url = options.url ?? brokerOf.get(user ?? {});
      if (url === undefined) return Promise.reject(new Error("no broker URL"));
      return clientFor(url, options.token ?? user?.token);
    },
  });

  const skills = async (req: IncomingMessage): Promise<AgentSkill[]> => {
    const client = await clientFor(options.url ?? localBroker(req), options.token ?? bearer(req));
    const seen = new Map<string, AgentSkill>();
    for (const agent of await client.agents()) {
      for (const cap of agent.capabilities) {
        if (seen.has(cap.name) || (options.capabilities !== undefined && !options.capabilities.includes(cap.name))) continue;
        seen.set(cap.name, { id: cap.name, name: cap.name, description: cap.description ?? `the agentwire capability ${cap.name}`, tags: cap.tags ?? [], examples: [], inputModes: ["application/json", "text/plain"], outputModes: ["application/json"], securityRequirements: [] });
      }
    }
    return [...seen.values()];
  };
  const cardFor = async (req: IncomingMessage, base: string): Promise<AgentCard> => ({
    name: options.name ?? "agentwire mesh",
    description: options.description ?? "Capabilities of an agentwire mesh: each skill runs one task on an agent that offers it. Name the skill in the message's metadata.skill; send its input as a data part.",
    supportedInterfaces: [{ url: base, protocolBinding: "JSONRPC", tenant: "", protocolVersion: A2A_PROTOCOL_VERSION }],
    provider: undefined,
    version: "0.1.0",
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ["application/json", "text/plain"],
    defaultOutputModes: ["application/json"],
    skills: await skills(req),
    signatures: [],
  });
  // The request handler reads the protocol versions it accepts from its card; the served card is cardFor's.
  const baseCard = (): AgentCard => ({ name: options.name ?? "agentwire mesh", description: "", supportedInterfaces: [{ url: "", protocolBinding: "JSONRPC", tenant: "", protocolVersion: A2A_PROTOCOL_VERSION }], provider: undefined, version: "0.1.0", capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false }, securitySchemes: {}, securityRequirements: [], defaultInputModes: [], defaultOutputModes: [], skills: [], signatures: [] });
  const requestHandler = new DefaultRequestHandler(baseCard(), new InMemoryTaskStore(), executor);

  const router = express.Router();
  // The card names the URL it was fetched under, so it is right behind any prefix or port.
  router.use(`/${AGENT_CARD_PATH}`, (req, res, next) => {
    const base = `http://${req.headers.host ?? "localhost"}${prefix}`;
    cardFor(req, base).then(
      (card) => agentCardHandler({ agentCardProvider: async () => card })(req, res, next),
      // The registry could not be read: a token the broker refused, or no broker to ask.
      (err: unknown) => {
        const e = err instanceof AgentwireError ? err : undefined;
        const status = e !== undefined && isErrorCode(e.code) ? ERROR_CODES[e.code].http : 502;
        res.status(status).json({ error: { code: e?.code ?? "internal", message: err instanceof Error ? err.message : String(err) } });
      },
    );
  });
  router.use(
    jsonRpcHandler({
      requestHandler,
      userBuilder: async (req: Request) => {
        const user = new TokenUser(options.token ?? bearer(req));
        brokerOf.set(user, options.url ?? localBroker(req));
        return user;
      },
    }),
  );
  const app = express();
  app.disable("x-powered-by");
  app.use(prefix === "" ? "/" : prefix, router);

  return {
    prefix,
    handle: (req, res) => void app(req as Request, res as never),
    async close() {
      const open = [...clients.values()];
      clients.clear();
      await Promise.allSettled(open.map(async (c) => (await c).close()));
    },
  };
}

/** `/a2a` (or `prefix`) on the broker's own port: an HttpMount for `startBroker({ ...config, mounts: [a2aMount()] })`. */
export function a2aMount(options: Omit<A2aHandlerOptions, "url" | "token"> = {}): A2aHandler {
  return a2aHandler({ ...options, prefix: options.prefix ?? "/a2a" });
}

/** The WebSocket URL of the server that accepted `req`. */
export function localBroker(req: IncomingMessage): string {
  const host = req.socket.localAddress ?? "127.0.0.1";
  const h = host.startsWith("::ffff:") ? host.slice(7) : host;
  return `ws://${h.includes(":") ? `[${h}]` : h}:${req.socket.localPort}/`;
}

function bearer(req: IncomingMessage): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
}
