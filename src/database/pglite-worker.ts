// The embedded database's own thread. PGlite is Postgres compiled to WebAssembly: every statement
// runs synchronously on the thread that owns it, so on the bot's main thread a slow query stalled
// Slack's acks, Discord's gateway and /healthz with it. Here it runs beside them, served over the
// Postgres wire protocol (pglite-socket) on a socket only this process can reach; the main thread's
// Prisma client speaks to it through node-postgres, as it would to a Postgres server.
//
// Started by pglite-thread.ts (never run directly). Messages:
//   in:  { type: "close" }                      stop serving, shut Postgres down (flushes), exit
//   out: { type: "ready", listen }              serving; `listen` is the socket path or host:port
//        { type: "failed", message, stack? }    could not open the database (the thread then ends)
//        { type: "closed" }                     shut down cleanly
import { parentPort, workerData } from "node:worker_threads";
import type { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { openPGlite } from "./adapters.ts";

export interface WorkerStart {
  /** The PGlite directory (DATA_DIR/pglite). The main thread holds DATA_DIR's lock. */
  dataDir: string;
  /** A unix socket path, or loopback TCP (port 0 picks one) where there are no unix sockets. */
  listen: { path: string } | { host: "127.0.0.1" };
}

export type WorkerReport =
  | { type: "ready"; listen: string }
  | { type: "failed"; message: string; stack?: string }
  | { type: "closed" };

export type WorkerCommand = { type: "close" };

const port = parentPort;
if (!port) throw new Error("pglite-worker.ts runs as a worker thread (see pglite-thread.ts)");
const start = workerData as WorkerStart;
const report = (r: WorkerReport) => port.postMessage(r);

let db: PGlite | undefined;
let server: PGLiteSocketServer | undefined;
try {
  db = await openPGlite(start.dataDir);
  // One connection: PGlite has one session, and the main thread's pool holds one connection.
  server = new PGLiteSocketServer({
    db,
    ...("path" in start.listen ? { path: start.listen.path } : { host: start.listen.host, port: 0 }),
    maxConnections: 1,
  });
  await server.start();
  report({ type: "ready", listen: server.getServerConn() });
} catch (e) {
  if (db && !db.closed) await db.close().catch(() => {});
  const error = e instanceof Error ? e : new Error(String(e));
  report({ type: "failed", message: error.message, ...(error.stack ? { stack: error.stack } : {}) });
  port.close();
}

port.on("message", (command: WorkerCommand) => {
  if (command.type !== "close") return;
  void (async () => {
    await server?.stop();
    // Postgres' own shutdown: a checkpoint, so the files on disk hold every committed transaction.
    if (db && !db.closed) await db.close();
    report({ type: "closed" });
    // Nothing else holds the thread open: it ends, and the main thread sees exit code 0.
    port.close();
  })();
});
