// /healthz and /metrics on one small HTTP server. Health is "the database answered a check lately and
// every configured platform is connected"; orchestrators (docker compose, Kubernetes) poll it.
//
// /healthz answers from what the process already knows and never waits on the database itself: a
// poll that queued behind the replies' queries took up to a second under load, and an orchestrator
// that times out a busy bot's health check restarts it. The database is checked in the background
// instead (databaseCheck below), and /healthz reads the last result.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { RunningPlatform } from "../bots/platform.ts";
import type { Database } from "../database/open-database.ts";
import type { Metrics } from "./metrics.ts";

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/** How often the database is checked, how long one check may take, and how old a success may be. */
export const DATABASE_CHECK = { everyMs: 5_000, timeoutMs: 3_000, freshForMs: 20_000 } as const;

/**
 * `SELECT 1` every `everyMs`, each bounded by `timeoutMs`. `healthy()` is true while a check
 * succeeded within the last `freshForMs`: a database that is down or hangs goes unhealthy within
 * that time, while one that is merely slow for a few seconds under load (one late check) does not.
 */
function databaseCheck(db: Database, timing: typeof DATABASE_CHECK) {
  let lastOkAt = Number.NEGATIVE_INFINITY;
  let running: Promise<void> | undefined;
  const check = () => {
    running ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("database check timed out")), timing.timeoutMs);
      });
      try {
        await Promise.race([db.$queryRaw`SELECT 1`, timedOut]);
        lastOkAt = performance.now();
      } catch {
        // Not healthy once the last success is older than freshForMs.
      } finally {
        clearTimeout(timer);
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void check(), timing.everyMs);
  timer.unref();
  return {
    first: check(),
    healthy: () => performance.now() - lastOkAt <= timing.freshForMs,
    stop: () => clearInterval(timer),
  };
}

export async function startHealthServer(deps: {
  port: number;
  db: Database;
  platforms: Partial<Record<string, RunningPlatform>>;
  metrics: Metrics;
  /** Tests shorten the database check's timing. */
  databaseCheck?: typeof DATABASE_CHECK;
}): Promise<HealthServer> {
  const dbCheck = databaseCheck(deps.db, deps.databaseCheck ?? DATABASE_CHECK);
  // The first /healthz already knows the database's state.
  await dbCheck.first;
  const server: Server = createServer(async (req, res) => {
    try {
      if (req.method === "GET" && req.url === "/healthz") {
        const database = dbCheck.healthy();
        const platforms = Object.fromEntries(
          Object.entries(deps.platforms).map(([name, p]) => [name, p?.connected() ?? false]),
        );
        const ok = database && Object.values(platforms).every(Boolean);
        res.writeHead(ok ? 200 : 503, { "content-type": "application/json" });
        res.end(JSON.stringify({ status: ok ? "ok" : "unavailable", database, platforms }));
        return;
      }
      if (req.method === "GET" && req.url === "/metrics") {
        const body = await deps.metrics.registry.metrics();
        res.writeHead(200, { "content-type": deps.metrics.registry.contentType });
        res.end(body);
        return;
      }
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found: try /healthz or /metrics\n");
    } catch {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end("internal error\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(deps.port, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        dbCheck.stop();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
