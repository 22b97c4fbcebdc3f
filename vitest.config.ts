import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Suites spawn real brokers and redis-servers; on a 2-core machine fewer workers are steadier.
    maxWorkers: 2,
    reporters: ["default", "./scripts/summary-reporter.mjs"],
  },
});
