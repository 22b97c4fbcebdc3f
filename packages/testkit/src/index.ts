export { freePort, run, waitFor, type Child, type RunOptions } from "./process.js";
export { startRedis, REDIS_SERVER, type RedisInstance, type RedisOptions } from "./redis.js";
export { startRedisCluster, redisCli, REDIS_CLI, type RedisCluster, type RedisClusterOptions } from "./redis-cluster.js";
