// Starts the embedded database in its own worker thread (pglite-worker.ts) and gives back a URL the
// main thread's node-postgres connects to. The socket is a unix socket in a fresh directory only this
// user can enter (pglite-socket has no authentication, so loopback TCP would let any local account
// in); on Windows, which has no unix sockets for node-postgres, loopback TCP.
//
// The worker's life is tied to the bot's: `stop()` shuts Postgres down cleanly (a checkpoint) and
// waits for the thread to end; a thread that ends any other way is a crash, reported once through
// `crashed` so the composition root can exit with a message (and the supervisor restart the bot).
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { WorkerCommand, WorkerReport, WorkerStart } from "./pglite-worker.ts";
import { projectRoot } from "./project-root.ts";

/** How long a clean stop may take (Postgres' shutdown checkpoint) before the thread is terminated. */
const STOP_TIMEOUT_MS = 15_000;

export class DatabaseWorkerCrashedError extends Error {
  constructor(readonly detail: string) {
    super(
      `The embedded database stopped unexpectedly (${detail}). The bot is exiting so that its supervisor ` +
        "restarts it; every transaction committed before this is on disk in DATA_DIR. If this repeats, " +
        "check free disk space and memory and the log lines before this one, or run on a Postgres server " +
        "(DATABASE_URL).",
    );
    this.name = "DatabaseWorkerCrashedError";
  }
}

export class DatabaseOpenError extends Error {
  constructor(dataDir: string, cause: string) {
    super(`Could not open the embedded database in ${dataDir}: ${cause}`);
    this.name = "DatabaseOpenError";
  }
}

export interface PGliteThread {
  /** A postgres:// URL for node-postgres (and Prisma's migrate engine) reaching the worker. */
  url: string;
  /** Resolves (never rejects) with the crash, if the thread ever ends without being asked to. */
  crashed: Promise<DatabaseWorkerCrashedError>;
  /** Shuts the database down (flushing it) and ends the thread; safe to call twice. */
  stop(): Promise<void>;
  /** For tests: the thread itself (terminating it is how a crash is simulated). */
  readonly worker: Worker;
}

/**
 * The worker's entry: the bundle's `dist/pglite-worker.js` when the bot runs from dist/ (npm start,
 * the Docker image), otherwise the TypeScript source, loaded through tsx's hooks (tsx, vitest).
 */
function workerEntry(): { url: URL; typescript: boolean } {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith(".ts"))
    return { url: pathToFileURL(join(projectRoot(), "dist", "pglite-worker.js")), typescript: false };
  return { url: new URL("./pglite-worker.ts", import.meta.url), typescript: true };
}

function spawnWorker(start: WorkerStart): Worker {
  const entry = workerEntry();
  if (!entry.typescript) return new Worker(entry.url, { workerData: start });
  // A worker does not inherit the main thread's loader hooks (tsx's, vitest's): register tsx's in
  // the thread before importing the source.
  const require = createRequire(import.meta.url);
  const tsxApi = pathToFileURL(
    join(require.resolve("tsx/package.json"), "..", "dist", "esm", "api", "index.mjs"),
  );
  const code = `import { register } from ${JSON.stringify(tsxApi.href)}; register(); await import(${JSON.stringify(entry.url.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: start });
}

function urlFor(listen: string, socketDir: string | undefined): string {
  // node-postgres takes a directory as `host` and connects to `<dir>/.s.PGSQL.<port>`.
  if (socketDir) return `postgresql://postgres@localhost:5432/postgres?host=${encodeURIComponent(socketDir)}`;
  return `postgresql://postgres:postgres@${listen}/postgres?sslmode=disable`;
}

export async function startPGliteThread(pgliteDataDir: string): Promise<PGliteThread> {
  const socketDir = process.platform === "win32" ? undefined : mkdtempSync(join(tmpdir(), "bot-db-"));
  const listen: WorkerStart["listen"] = socketDir
    ? { path: join(socketDir, ".s.PGSQL.5432") }
    : { host: "127.0.0.1" };
  const worker = spawnWorker({ dataDir: pgliteDataDir, listen });
  const removeSocketDir = () => {
    if (socketDir) rmSync(socketDir, { recursive: true, force: true });
  };

  let stopping = false;
  let reportCrash: (e: DatabaseWorkerCrashedError) => void = () => {};
  const crashed = new Promise<DatabaseWorkerCrashedError>((resolve) => {
    reportCrash = resolve;
  });
  let lastError: Error | undefined;
  const exited = new Promise<number>((resolve) => worker.once("exit", resolve));

  const ready = new Promise<string>((resolve, reject) => {
    worker.on("message", (m: WorkerReport) => {
      if (m.type === "ready") resolve(m.listen);
      else if (m.type === "failed") reject(new DatabaseOpenError(pgliteDataDir, m.message));
    });
    worker.on("error", (e) => {
      lastError = e;
      reject(new DatabaseOpenError(pgliteDataDir, e.message));
    });
    void exited.then((code) =>
      reject(new DatabaseOpenError(pgliteDataDir, `the database thread ended (exit code ${code})`)),
    );
  });

  let listening: string;
  try {
    listening = await ready;
  } catch (e) {
    await worker.terminate();
    removeSocketDir();
    throw e;
  }

  void exited.then((code) => {
    removeSocketDir();
    if (stopping) return;
    const detail = lastError
      ? `its thread failed: ${lastError.name}: ${lastError.message}`
      : `its thread ended with exit code ${code}`;
    reportCrash(new DatabaseWorkerCrashedError(detail));
  });

  let stopped: Promise<void> | undefined;
  return {
    url: urlFor(listening, socketDir),
    crashed,
    worker,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        worker.postMessage({ type: "close" } satisfies WorkerCommand);
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
        });
        const result = await Promise.race([exited, timedOut]);
        clearTimeout(timer);
        if (result === "timeout") {
          await worker.terminate();
          throw new Error(
            `The embedded database did not shut down within ${STOP_TIMEOUT_MS / 1000} s; its thread was ended. Postgres recovers from its write-ahead log on the next start.`,
          );
        }
        if (lastError)
          throw new Error(`The embedded database failed while shutting down: ${lastError.message}`);
      })();
      return stopped;
    },
  };
}
