export { freePort, run, waitFor, type Child, type RunOptions } from "./process.js";
export { startRedis, REDIS_SERVER, type RedisInstance, type RedisOptions } from "./redis.js";
