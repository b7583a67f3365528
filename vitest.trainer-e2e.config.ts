// `npm run test:trainer-e2e`: the bot against a real Postgres server and the real trainer worker
// (Python, trainer/). Kept out of `npm test`, which must not need Python: .ci/run runs this after it
// has installed the trainer's venv and started the Postgres server.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/trainer-e2e/**/*.e2e.ts"],
    maxWorkers: 1,
    // Importing torch and training on a shared 2-core CPU takes a minute or two.
    testTimeout: 300_000,
    hookTimeout: 120_000,
  },
});
