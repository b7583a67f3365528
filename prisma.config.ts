// Prisma's CLI (generate, migrate) runs here. Prisma 6.19's WebAssembly schema engine (`engine: "js"`)
// migrates through a driver adapter, so it works offline and against the embedded PGlite database.
import { defineConfig } from "prisma/config";
import { loadDatabaseConfig } from "./src/config.ts";
import { createMigrationAdapter } from "./src/database/adapters.ts";

export default defineConfig({
  experimental: { adapter: true },
  schema: "prisma/schema.prisma",
  engine: "js",
  adapter: () => createMigrationAdapter(loadDatabaseConfig()),
});
