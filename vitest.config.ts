import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // PGlite runs Postgres in WebAssembly: each file's database needs a moment to boot, and the
    // machine has two cores, so keep the pool small and the timeouts generous.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ["test/support/global-setup.ts"],
    // Drops the databases a file kept for its tests (test/support/database.ts) when the file ends.
    setupFiles: ["test/support/file-hooks.ts"],
  },
});
