// What the numbers were measured on.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, join } from "node:path";
import type { Database } from "../src/database/open-database.ts";

const require = createRequire(import.meta.url);

/** A dependency's version, from the package.json above its entry point (not every package exports it). */
function packageVersion(name: string): string {
  try {
    let dir = dirname(require.resolve(name));
    for (let i = 0; i < 6; i++, dir = dirname(dir)) {
      const file = join(dir, "package.json");
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === name && pkg.version) return pkg.version;
    }
  } catch {}
  return "unknown";
}

export interface MachineFacts {
  cpuModel: string;
  cpus: number;
  availableParallelism: number;
  memoryGb: number;
  os: string;
  node: string;
  pglite: string;
  prisma: string;
  /** 1, 5 and 15 minute load averages when the run started and ended: other work on the machine. */
  loadAverageStart: number[];
  loadAverageEnd?: number[];
}

export function machineFacts(): MachineFacts {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cpus: cpus.length,
    availableParallelism: os.availableParallelism(),
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    pglite: packageVersion("@electric-sql/pglite"),
    prisma: packageVersion("@prisma/client"),
    loadAverageStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export async function databaseFacts(db: Database): Promise<{ server: string; pgvector: string }> {
  const rows = await db.$queryRawUnsafe<Array<{ server: string; pgvector: string | null }>>(
    `SELECT version() AS server, (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector`,
  );
  return { server: rows[0]?.server ?? "unknown", pgvector: rows[0]?.pgvector ?? "none" };
}
