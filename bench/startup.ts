// `npm run bench:startup`: how long `npm start` takes to a healthy /healthz, and where it goes.
// Runs the real `npm start` (against the Discord and OpenAI emulators on 127.0.0.1) once on an
// empty data directory and then BENCH_STARTS times (default 5) on the migrated one, reading the
// phases the bot logs (database opened, started) and the time SIGTERM to npm takes to a clean exit.
// It also times Prisma's migrate engine on a database with nothing to apply: what a start pays when
// the migration check cannot skip it.
//
// Progress goes to stderr, the table to stdout, the numbers to bench-results/startup.json.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { settings } from "../src/config.ts";
import { openPGlite } from "../src/database/adapters.ts";
import { pgliteDir } from "../src/database/data-dir-lock.ts";
import { migratePGlite } from "../src/database/open-database.ts";
import { startDiscordEmulator } from "../test/emulators/discord/index.ts";
import { startOpenAIEmulator } from "../test/emulators/openai/index.ts";
import { fmt, table } from "./stats.ts";

const STARTS = Number.parseInt(process.env.BENCH_STARTS ?? "5", 10);
const repo = join(import.meta.dirname, "..");

interface StartRun {
  kind: "empty database" | "nothing to migrate";
  /** From spawning `npm start` to the first 200 from /healthz. */
  healthyMs: number;
  /** Logged by the bot, from its own process start. */
  databaseReadyMs?: number;
  openDatabaseMs?: number;
  startedMs?: number;
  migrations?: string;
  /** CPU time (user + system) of npm and of the bot's process when it became healthy. */
  npmCpuMs?: number;
  botCpuMs?: number;
  /** From SIGTERM to npm until npm exited (the bot's shutdown included). */
  stopMs: number;
  exitCode: number | null;
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    import("node:net").then(({ createServer }) => {
      const s = createServer();
      s.listen(0, "127.0.0.1", () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
  });
}

/** utime + stime of a process, in ms (Linux /proc; undefined elsewhere). */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of stat (counting from 1), in clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** The processes npm started (the bot, when `npm start` execs it). */
function childrenOf(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function field(out: string, msg: string, name: string): number | string | undefined {
  for (const line of out.split("\n")) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    try {
      return (JSON.parse(line) as Record<string, number | string>)[name];
    } catch {}
  }
  return undefined;
}

async function oneStart(env: Record<string, string>, kind: StartRun["kind"]): Promise<StartRun> {
  const port = Number(env.HEALTH_PORT);
  const t0 = performance.now();
  const child: ChildProcess = spawn("npm", ["start"], { cwd: repo, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  let healthyMs: number | undefined;
  while (healthyMs === undefined) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${out}`);
    if (performance.now() - t0 > 120_000) throw new Error(`not healthy after 120 s:\n${out}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (res.status === 200) healthyMs = performance.now() - t0;
    } catch {}
    if (healthyMs === undefined) await new Promise((r) => setTimeout(r, 25));
  }
  const bot = childrenOf(child.pid)[0];
  const npmCpuMs = cpuMs(child.pid);
  const botCpuMs = cpuMs(bot);
  const stopAt = performance.now();
  child.kill("SIGTERM");
  const exitCode = await exited;
  return {
    kind,
    healthyMs,
    databaseReadyMs: field(out, "database ready", "sinceStartMs") as number | undefined,
    openDatabaseMs: field(out, "database ready", "openMs") as number | undefined,
    startedMs: field(out, "started", "sinceStartMs") as number | undefined,
    migrations: field(out, "database ready", "migrations") as string | undefined,
    npmCpuMs,
    botCpuMs,
    stopMs: performance.now() - stopAt,
    exitCode,
  };
}

async function main() {
  const loadStart = os.loadavg();
  const discord = await startDiscordEmulator({
    token: "bench-token",
    applicationId: "1000",
    botUserId: "1000",
  });
  discord.addGuild({ id: "2000", name: "g", channels: [{ id: "2001", name: "general" }], members: [] });
  const openai = await startOpenAIEmulator();
  const dir = mkdtempSync(join(os.tmpdir(), "bot-bench-start-"));
  const runs: StartRun[] = [];
  let engineMs: number[] = [];
  try {
    // Every setting blank first, so a developer's .env does not change what is measured.
    const blank = Object.fromEntries(Object.keys(settings).map((k) => [k, ""]));
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ...blank,
      DISCORD_TOKEN: "bench-token",
      DISCORD_APPLICATION_ID: "1000",
      DISCORD_API_URL: discord.apiUrl,
      OPENAI_API_KEY: "bench",
      OPENAI_BASE_URL: `${openai.url}/v1`,
      FINETUNE_PROVIDER: "none",
      HEALTH_PORT: String(await freePort()),
      DATA_DIR: join(dir, "data"),
    };
    process.stderr.write("npm start on an empty data directory…\n");
    runs.push(await oneStart(env, "empty database"));
    for (let i = 0; i < STARTS; i++) {
      process.stderr.write(`npm start with nothing to migrate (${i + 1}/${STARTS})…\n`);
      runs.push(await oneStart(env, "nothing to migrate"));
    }
    process.stderr.write("Prisma's migrate engine on the migrated database…\n");
    const pglite = await openPGlite(pgliteDir(env.DATA_DIR));
    engineMs = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await migratePGlite(pglite);
      engineMs.push(performance.now() - t);
    }
    await pglite.close();
  } finally {
    await discord.close();
    await openai.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const ms = (v: number | undefined) => (v === undefined ? "—" : fmt(v));
  process.stdout.write(
    `${table(
      [
        "start",
        "healthy (ms)",
        "db ready (ms)",
        "open db (ms)",
        "started (ms)",
        "migrations",
        "npm CPU (ms)",
        "bot CPU (ms)",
        "SIGTERM→exit (ms)",
        "exit",
      ],
      runs.map((r) => [
        r.kind,
        ms(r.healthyMs),
        ms(r.databaseReadyMs),
        ms(r.openDatabaseMs),
        ms(r.startedMs),
        r.migrations ?? "—",
        ms(r.npmCpuMs),
        ms(r.botCpuMs),
        ms(r.stopMs),
        String(r.exitCode),
      ]),
    )}\n`,
  );
  process.stdout.write(
    `\nPrisma migrate engine with nothing to apply: ${engineMs.map((v) => fmt(v)).join(", ")} ms\n`,
  );
  process.stdout.write(
    `Load average at start ${loadStart.map((x) => x.toFixed(2)).join(" ")}, at end ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")} (${os.cpus().length} cores)\n`,
  );
  mkdirSync(join(repo, "bench-results"), { recursive: true });
  writeFileSync(
    join(repo, "bench-results", "startup.json"),
    JSON.stringify({ runs, engineMs, loadStart, loadEnd: os.loadavg() }, null, 2),
  );
}

await main();
