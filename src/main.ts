// Composition root: read the configuration once, open the database (migrating it first), start the
// configured platforms and the scheduled jobs, and stop them all cleanly on SIGTERM/SIGINT.
//
// `npm start` execs this file in the Node process npm started (`exec node --import tsx ...`), and the
// Docker image runs it as PID 1, so the signal a supervisor or a terminal sends reaches this process
// and nothing else: there is no wrapper process to die in its place and leave the bot running.
import { ConfigError, configuredPlatforms, formatProblem, loadConfig } from "./config.ts";
import { DataDirLockedError } from "./database/data-dir-lock.ts";
import { MigrationError } from "./database/migrate.ts";
import { openDatabase } from "./database/open-database.ts";
import { DatabaseOpenError } from "./database/pglite-thread.ts";
import { createLogger } from "./logger.ts";

/** After a clean stop, handles something else left open (a socket) may not hold the exit longer. */
const EXIT_AFTER_STOP_MS = 3_000;

/** Milliseconds since this process started (performance's time origin). */
const sinceStart = () => Math.round(performance.now());

/** The first SIGTERM/SIGINT; later ones are ignored (npm forwards a terminal's Ctrl-C a second time). */
function stopSignals(): { requested: Promise<NodeJS.Signals>; received(): NodeJS.Signals | undefined } {
  let received: NodeJS.Signals | undefined;
  const requested = new Promise<NodeJS.Signals>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (received) return;
      received = signal;
      resolve(signal);
    };
    // Listen before starting anything: without a listener, SIGTERM ends the process on the spot.
    // `on`, not `once`: a repeated signal must not fall through to Node's default (exit at once).
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
  return { requested, received: () => received };
}

/** Exit codes: 2 = fix the configuration; 1 = could not start (the message says why). */
async function main(): Promise<number> {
  const signals = stopSignals();
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(undefined, { requirePlatform: true });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(
      `Configuration problems (set these in the environment or in .env; see .env.example):\n${e.problems.map((p) => `  ${formatProblem(p)}`).join("\n")}\n`,
    );
    return 2;
  }
  const platforms = configuredPlatforms(config);
  const log = createLogger(config.logLevel, undefined, {}, config.logFormat);
  let database: Awaited<ReturnType<typeof openDatabase>>;
  const openingAt = sinceStart();
  try {
    database = await openDatabase(config.database);
  } catch (e) {
    if (e instanceof DataDirLockedError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    if (e instanceof DatabaseOpenError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    if (e instanceof MigrationError) {
      process.stderr.write(`Could not apply database migrations: ${e.message}\n${e.output}\n`);
      return 1;
    }
    throw e;
  }
  // Without its database thread the bot can only fail every request: exit now, with a message a
  // person can act on, and let the supervisor (docker, systemd, Kubernetes) start it again.
  void database.crashed.then((crash) => {
    log.error("the embedded database stopped; exiting", { error: crash.detail });
    process.stderr.write(`${crash.message}\n`);
    process.exit(1);
  });
  log.info("database ready", {
    kind: database.kind,
    platforms,
    migrations: database.migrations,
    openMs: sinceStart() - openingAt,
    sinceStartMs: sinceStart(),
  });

  if (signals.received()) {
    // Stopped while starting: nothing to hand over yet.
    await database.close();
    log.info("shut down cleanly", { signal: signals.received() });
    return 0;
  }
  const { startApp, SETTLE_AFTER_CANCEL_MS } = await import("./app.ts");
  const app = await startApp({ config, db: database.db, log, healthPort: config.healthPort });
  log.info("started", { sinceStartMs: sinceStart() });
  const signal = await signals.requested;
  log.info("shutting down", { signal, graceSeconds: config.shutdownGraceMs / 1000 });
  // The stop is bounded by design (grace, then cancel); this is the backstop if something hangs.
  const limitMs = config.shutdownGraceMs + SETTLE_AFTER_CANCEL_MS + 10_000;
  setTimeout(() => {
    log.error("shutdown did not finish in time; exiting", { limitSeconds: limitMs / 1000 });
    process.exit(1);
  }, limitMs).unref();
  await app.stop();
  // Only now: every reply under way has stored its outcome (or was given up on after the bound).
  await database.close();
  log.info("shut down cleanly", { signal });
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), EXIT_AFTER_STOP_MS).unref();
  },
  (e: unknown) => {
    process.stderr.write(`Unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), EXIT_AFTER_STOP_MS).unref();
  },
);
