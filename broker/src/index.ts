export { startBroker, type Broker } from "./broker.js";
export { parseConfig, defaults, usage, ConfigError, type BrokerConfig, type TokenAcl } from "./config.js";
export { MemoryBackend, type Backend } from "./backend.js";
