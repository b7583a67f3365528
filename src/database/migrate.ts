// Applies prisma/migrations with Prisma's own migrate engine (`prisma migrate deploy`), run as a child
// process against a Postgres URL: the real server's, or the embedded database served on loopback.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { projectRoot } from "./project-root.ts";

const require = createRequire(import.meta.url);

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
    this.name = "MigrationError";
  }
}

const SUCCESS = /All migrations have been successfully applied\.|No pending migrations to apply\./;

function prismaCli(): string {
  return join(dirname(require.resolve("prisma/package.json")), "build", "index.js");
}

/** Runs `prisma migrate deploy`; resolves with Prisma's output, rejects with it on failure. */
export function applyMigrations(databaseUrl: string): Promise<string> {
  return runPrismaCli(databaseUrl, ["migrate", "deploy"]);
}

/** Runs the Prisma CLI against `databaseUrl`; `echo` streams its output to ours as well. */
export function runPrismaCli(
  databaseUrl: string,
  args: string[],
  options: { echo?: boolean } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [prismaCli(), ...args], {
      cwd: projectRoot(),
      // The URL can carry a password: it goes to the child through its environment, never its argv.
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        CHECKPOINT_DISABLE: "1",
        PRISMA_HIDE_UPDATE_MESSAGE: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let finished = false;
    child.stdout.on("data", (d) => {
      output += d;
      if (options.echo) process.stdout.write(d);
      // Prisma 6.19's CLI leaves a 10 s timer behind after it has applied everything and printed
      // its verdict, so it idles before exiting. Its work is committed by then: stop waiting.
      if (!finished && SUCCESS.test(output)) {
        finished = true;
        setTimeout(() => child.kill("SIGTERM"), 100).unref();
      }
    });
    child.stderr.on("data", (d) => {
      output += d;
      if (options.echo) process.stderr.write(d);
    });
    child.on("error", (e) => reject(new MigrationError(`could not start prisma: ${e.message}`, output)));
    child.on("close", (code) => {
      if (code === 0 || finished) resolve(output);
      else reject(new MigrationError(`prisma ${args.join(" ")} failed (exit ${code})`, output));
    });
  });
}
