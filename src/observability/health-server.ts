// /healthz and /metrics on one small HTTP server. Health is "the database answers and every
// configured platform is connected"; orchestrators (docker compose, Kubernetes) poll it.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { RunningPlatform } from "../bots/platform.ts";
import type { Database } from "../database/open-database.ts";
import type { Metrics } from "./metrics.ts";

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(deps: {
  port: number;
  db: Database;
  platforms: Partial<Record<string, RunningPlatform>>;
  metrics: Metrics;
}): Promise<HealthServer> {
  const server: Server = createServer(async (req, res) => {
    try {
      if (req.method === "GET" && req.url === "/healthz") {
        let database = true;
        try {
          await deps.db.$queryRaw`SELECT 1`;
        } catch {
          database = false;
        }
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
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
