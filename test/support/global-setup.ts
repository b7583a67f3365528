// Runs once per `npm test`: builds a template database by applying the real migrations with
// Prisma's migrate engine, then dumps it. Each test file starts from a copy of that dump, which
// takes a fraction of a second instead of a migrate run per file.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { openPGlite } from "../../src/database/adapters.ts";
import { migratePGlite } from "../../src/database/open-database.ts";

declare module "vitest" {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), "bot-template-"));
  const pglite = await openPGlite(undefined);
  await migratePGlite(pglite);
  const dump = await pglite.dumpDataDir("none");
  await pglite.close();
  const file = join(dir, "template.tar");
  writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
  project.provide("templateDatabase", file);
  return () => rmSync(dir, { recursive: true, force: true });
}
