export { startBroker, type Broker } from "./broker.js";
export { parseConfig, defaults, usage, ConfigError, type BrokerConfig, type TokenAcl } from "./config.js";
export { LocalMesh, type MeshPort, type MeshHost } from "./backend.js";
export { EventBus, taskEvent, agentEvent, TASK_EVENTS, AGENT_EVENTS, type Listener, type TaskEvent, type AgentEvent, type TaskEventType, type AgentEventType } from "./events.js";
export type { HttpMount } from "./http.js";
