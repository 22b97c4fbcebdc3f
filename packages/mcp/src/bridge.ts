/** One connection to the mesh with its tool catalog, shared by the MCP sessions that use the same broker and token. */
import { connect, type Client, type Logger } from "@agentwire/sdk";
import { ToolCatalog, type CatalogOptions } from "./tools.js";

export interface BridgeOptions extends CatalogOptions {
  /** The broker's WebSocket URL, e.g. ws://127.0.0.1:7400. */
  url: string;
  token?: string;
  /** The client's name on the mesh (default agentwire-mcp). */
  name?: string;
  logger?: Logger;
}

export interface Bridge {
  readonly client: Client;
  readonly catalog: ToolCatalog;
  close(): Promise<void>;
}

export async function openBridge(options: BridgeOptions): Promise<Bridge> {
  const client = await connect({ url: options.url, token: options.token, name: options.name ?? "agentwire-mcp", logger: options.logger });
  const catalog = new ToolCatalog(client, options);
  try {
    await catalog.start();
  } catch (err) {
    await client.close();
    throw err;
  }
  return {
    client,
    catalog,
    async close() {
      catalog.stop();
      await client.close();
    },
  };
}
