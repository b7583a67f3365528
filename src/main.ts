// Composition root: read the configuration once, open the database (migrating it first), start the
// configured platforms and the scheduled jobs, and stop them all cleanly on SIGTERM/SIGINT.
import { ConfigError, configuredPlatforms, formatProblem, loadConfig } from "./config.ts";
import { DataDirLockedError } from "./database/data-dir-lock.ts";
import { MigrationError } from "./database/migrate.ts";
import { openDatabase } from "./database/open-database.ts";
import { createLogger } from "./logger.ts";

/** Exit codes: 2 = fix the configuration; 1 = could not start (the message says why). */
async function main(): Promise<number> {
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
  try {
    database = await openDatabase(config.database);
  } catch (e) {
    if (e instanceof DataDirLockedError) {
      process.stderr.write(`${e.message}\n`);
      return 1;
    }
    if (e instanceof MigrationError) {
      process.stderr.write(`Could not apply database migrations: ${e.message}\n${e.output}\n`);
      return 1;
    }
    throw e;
  }
  // Listen before starting anything: without a listener, SIGTERM ends the process on the spot.
  const stopRequested = new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  log.info("database ready", { kind: database.kind, platforms });

  const { startApp } = await import("./app.ts");
  const app = await startApp({ config, db: database.db, log, healthPort: config.healthPort });
  await stopRequested;
  log.info("shutting down");
  await app.stop();
  await database.close();
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`Unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
