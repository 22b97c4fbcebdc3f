export { freePort, run, waitFor, type Child, type LocalServer, type RunOptions } from "./process.js";
export { startRedis, REDIS_SERVER, type RedisInstance, type RedisOptions } from "./redis.js";
export { startPostgres, postgresBinDir, type PostgresInstance, type PostgresOptions } from "./postgres.js";
export { startRedisCluster, redisCli, REDIS_CLI, type RedisCluster, type RedisClusterOptions } from "./redis-cluster.js";
export { LISTENING, agentsOn, brokerBin, repoRoot, startBroker, type BrokerOptions, type BrokerProcess, type RunningBroker } from "./broker.js";
export {
  BACKENDS,
  STORES,
  releaseClusters,
  startClusterStore,
  startMeshPair,
  startRedisBroker,
  startRedisStore,
  type BackendFactory,
  type MeshStore,
  type StoreFactory,
} from "./backends.js";
export { blocksRunBy } from "./docs.js";
