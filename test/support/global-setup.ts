// Runs once per test run. It builds the template the test databases are copied from, by applying
// the real migrations with Prisma's migrate engine:
//  * always, an embedded (PGlite) database, dumped to a file: each test file loads that dump, which
//    takes a fraction of the time of a migrate run;
//  * with TEST_DATABASE_URL, also a template database on that server (`bot_template_<run>`), which
//    the test files copy with CREATE DATABASE ... TEMPLATE. Teardown drops it and its copies; a run
//    that died before its teardown is cleaned up by the next one (see postgres-server.ts).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { openPGlite } from "../../src/database/adapters.ts";
import { applyMigrations } from "../../src/database/migrate.ts";
import { migratePGlite } from "../../src/database/open-database.ts";
import {
  claimRun,
  connect,
  databaseUrl,
  describeServer,
  ident,
  newRunId,
  releaseRun,
  TEST_DATABASE_URL,
  type TestServer,
  templateName,
  waitUntilIdle,
} from "./postgres-server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    templateDatabase: string;
    /** Set when the tests run against a Postgres server (TEST_DATABASE_URL). */
    testServer: TestServer | undefined;
  }
}

async function buildPGliteTemplate(file: string): Promise<void> {
  const pglite = await openPGlite(undefined);
  try {
    await migratePGlite(pglite);
    const dump = await pglite.dumpDataDir("none");
    writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
  } finally {
    await pglite.close();
  }
}

/** Creates and migrates this run's template on the server; returns how to end the run. */
async function buildServerTemplate(adminUrl: string): Promise<{ server: TestServer; end(): Promise<void> }> {
  const admin = await connect(adminUrl, TEST_DATABASE_URL);
  const runId = newRunId();
  const template = templateName(runId);
  try {
    const stale = await claimRun(admin, runId);
    if (stale.length) console.log(`test databases left by runs that died, dropped: ${stale.join(", ")}`);
    await admin.query(`CREATE DATABASE ${ident(template)}`);
    try {
      await applyMigrations(databaseUrl(adminUrl, template));
    } catch (e) {
      const output = (e as { output?: string }).output ?? "";
      throw new Error(
        `migrating the test template on ${describeServer(adminUrl)} failed; the server needs pgvector >= 0.8 ` +
          `and a role that may create the vector extension (or pgvector installed in template1).\n${output}`,
      );
    }
    await waitUntilIdle(admin, template);
  } catch (e) {
    await releaseRun(admin, runId).catch(() => {});
    throw e;
  }
  console.log(`test databases on ${describeServer(adminUrl)}, copied from ${template}`);
  return { server: { adminUrl, runId, template }, end: () => releaseRun(admin, runId) };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), "bot-template-"));
  const file = join(dir, "template.tar");
  const url = process.env[TEST_DATABASE_URL] || undefined;
  // Both at once: each is mostly a migrate engine process of its own.
  const [pglite, built] = await Promise.allSettled([
    buildPGliteTemplate(file),
    url ? buildServerTemplate(url) : Promise.resolve(undefined),
  ]);
  const server = built.status === "fulfilled" ? built.value : undefined;
  if (pglite.status === "rejected" || built.status === "rejected") {
    rmSync(dir, { recursive: true, force: true });
    await server?.end();
    throw pglite.status === "rejected" ? pglite.reason : (built as PromiseRejectedResult).reason;
  }
  project.provide("templateDatabase", file);
  project.provide("testServer", server?.server);
  return async () => {
    rmSync(dir, { recursive: true, force: true });
    await server?.end();
  };
}
