// Runs `prisma generate` when the generated client is missing or older than the schema, so
// `npm start` and `npm test` work right after `npm ci` (npm 11 runs no dependency install scripts).
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

const client = "src/generated/prisma/client.ts";
const schema = "prisma/schema.prisma";
if (!existsSync(client) || statSync(client).mtimeMs < statSync(schema).mtimeMs) {
  execFileSync(process.execPath, ["node_modules/prisma/build/index.js", "generate"], { stdio: "inherit" });
}
