// `npm run admin -- <command>`: the operators' tool for data rights, run on the bot's machine.
//
//   users                                   people, their counts and spend (opaque ids only)
//   export-dataset <user> [--out <file>] [--format openai|vertex]
//                                           one person's curated training set as JSONL, identifiers hashed
//   forget <user> [--yes]                   erase one person (a support ticket, say), provider files and models too
//   deletions [--retry]                     provider deletions still owed to forgotten people; retry them
//
// <user> is a platform identity (`discord:<userId>`, `slack:<teamId>:<userId>`) or the opaque id
// `users` prints (`u` + 16 hex digits: a hash of the bot's internal id, the same token that ends
// that person's tuned model names at the provider).
//
// Database: the same settings as the bot (DATABASE_URL, or the embedded database in DATA_DIR). The
// embedded database can be opened by one process at a time, so stop the bot before running this
// tool against it (with DATABASE_URL both can run at once). Migrations are applied first, as at start.
// Provider deletions (forget, deletions --retry) use the fine-tuning provider from the full
// configuration; when that is incomplete the database is still cleaned and the provider deletions
// are recorded as pending, for `deletions --retry` once it is configured.
//
// Exit codes: 0 done (and for `help`, `--help`, `-h`), 1 failed or work left (refused without --yes,
// provider deletions pending), 2 usage or configuration problem (no command, an unknown one).

import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import type { z } from "zod";
import {
  ConfigError,
  type DatabaseConfig,
  loadConfig,
  loadDatabaseConfig,
  readEnvironment,
  settings,
} from "../src/config.ts";
import type { ForgetProgress } from "../src/core/data-rights/deletions.ts";
import { createDataRights } from "../src/core/data-rights/rights.ts";
import { ratingsByLevel } from "../src/core/evaluation/ratings-by-level.ts";
import { buildDataset } from "../src/core/fine-tune/dataset.ts";
import { modelSuffix } from "../src/core/fine-tune/launch.ts";
import { formatUsd, progressBar } from "../src/core/messages.ts";
import type { UserRef } from "../src/core/ports.ts";
import { type FineTuneProvider, systemClock } from "../src/core/ports.ts";
import { createPrivacyFilter } from "../src/core/privacy-filter.ts";
import { createFineTuneProvider } from "../src/core/providers/from-config.ts";
import { adapterServingFromConfig } from "../src/core/providers/open-weights-from-config.ts";
import { DataDirLockedError } from "../src/database/data-dir-lock.ts";
import { MigrationError } from "../src/database/migrate.ts";
import { type Database, type OpenDatabase, openDatabase } from "../src/database/open-database.ts";
import { createLogger } from "../src/logger.ts";

const USAGE = `Usage: npm run admin -- <command>

  users                                  list people: opaque id, platform, counts, spend
  export-dataset <user> [--out <file>] [--format openai|vertex]
                                         one person's curated dataset as JSONL (PII redacted, ids hashed)
  forget <user> [--yes]                  delete everything of one person, at the provider too
  deletions [--retry]                    provider deletions still owed; --retry tries them again
  lift                                   mean rating by personalisation level, trial arm and holdout

<user>: discord:<userId>, slack:<teamId>:<userId>, or the opaque id that \`users\` shows.
The embedded database (no DATABASE_URL) must not be in use: stop the bot first.`;

class UsageError extends Error {}

const out = (line = "") => process.stdout.write(`${line}\n`);
const err = (line = "") => process.stderr.write(`${line}\n`);

/** A one-line progress bar on stderr; on a pipe, one line per tenth of the work instead of redraws. */
class ProgressBar {
  private lastLine = "";
  private lastTenth = -1;
  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}
  update(done: number, total: number): void {
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const line = `${this.label} ${progressBar(fraction, 24)} ${done}/${total}`;
    if (line === this.lastLine) return;
    this.lastLine = line;
    const finished = done >= total;
    if (this.stream.isTTY) {
      this.stream.write(`\r${line}${finished ? "\n" : ""}`);
      return;
    }
    const tenth = Math.floor(fraction * 10);
    if (tenth !== this.lastTenth || finished) {
      this.lastTenth = tenth;
      this.stream.write(`${line}\n`);
    }
  }
}

interface Args {
  command: string | undefined;
  positional: string[];
  flags: Map<string, string | true>;
}

function parseArgs(argv: string[]): Args {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  const valued = new Set(["--out", "--format"]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-h") flags.set("--help", true);
    else if (a.startsWith("--")) {
      const [name, inline] = a.split("=", 2) as [string, string | undefined];
      if (valued.has(name)) {
        const value = inline ?? argv[++i];
        if (value === undefined) throw new UsageError(`${name} needs a value`);
        flags.set(name, value);
      } else flags.set(name, true);
    } else positional.push(a);
  }
  return { command: positional.shift(), positional, flags };
}

/** One setting as the bot would read it (default included), without requiring the whole configuration. */
function setting<K extends keyof typeof settings>(name: K) {
  const env = readEnvironment();
  const parsed = settings[name].schema.safeParse(env[name]);
  if (!parsed.success) throw new UsageError(`${name} is invalid: ${parsed.error.issues[0]?.message ?? ""}`);
  return parsed.data as z.output<(typeof settings)[K]["schema"]>;
}

/** The adapter serving of the full configuration, when there is an adapter server to unload from. */
function adapterServingForAdmin(db: Database, log: ReturnType<typeof createLogger>) {
  try {
    return adapterServingFromConfig(loadConfig(), { db, log });
  } catch (e) {
    if (e instanceof ConfigError) return undefined;
    throw e;
  }
}

/**
 * The fine-tuning provider of the full configuration, or why there is none: the bot's own choice
 * (src/core/providers/from-config.ts), Vertex credentials included.
 */
function providerFromConfig(db: Database): { provider?: FineTuneProvider; why?: string } {
  try {
    // The self-hosted provider's queue is a table in this database.
    const provider = createFineTuneProvider(loadConfig(), { db });
    return provider ? { provider } : { why: "FINETUNE_PROVIDER is none" };
  } catch (e) {
    if (e instanceof ConfigError) return { why: e.problems.map((p) => p.variable).join(", ") };
    throw e;
  }
}

const OPAQUE_ID = /^u[0-9a-f]{16}$/;

/** The person named by a platform identity or by the opaque id `users` prints. */
async function findUser(db: Database, who: string) {
  if (!OPAQUE_ID.test(who)) return db.user.findUnique({ where: { externalId: who } });
  let cursor: string | undefined;
  for (;;) {
    const page = await db.user.findMany({
      select: { id: true },
      orderBy: { id: "asc" },
      take: 5000,
      ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
    });
    const hit = page.find((u) => modelSuffix(u.id) === who);
    if (hit) return db.user.findUnique({ where: { id: hit.id } });
    if (page.length < 5000) return null;
    cursor = page.at(-1)!.id;
  }
}

function platformOf(externalId: string): UserRef["platform"] {
  return externalId.startsWith("slack:") ? "slack" : "discord";
}

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)];
}

// ---------------------------------------------------------------------------------------------
// Commands

/** Does it learn: mean rating by level, arm and holdout, for everyone (README, "Reading the lift"). */
async function lift(db: Database): Promise<number> {
  const rows = await ratingsByLevel(db);
  if (!rows.length) {
    out("No rated replies with a recorded level yet.");
    return 0;
  }
  out(["level", "arm", "holdout", "ratings", "mean"].map((h) => h.padEnd(12)).join(""));
  for (const r of rows)
    out(
      [r.level, r.arm ?? "-", r.holdout ? "yes" : "no", String(r.n), r.mean.toFixed(2)]
        .map((c) => c.padEnd(12))
        .join(""),
    );
  return 0;
}

async function users(db: Database): Promise<number> {
  const total = await db.user.count();
  const PAGE = 500;
  const progress = total > PAGE ? new ProgressBar("users") : undefined;
  const rows: string[][] = [];
  let chatTotal = 0;
  let trainingTotal = 0;
  let cursor: string | undefined;
  for (;;) {
    const page = await db.user.findMany({
      orderBy: { id: "asc" },
      take: PAGE,
      ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
    });
    if (!page.length) break;
    cursor = page.at(-1)!.id;
    const ids = page.map((u) => u.id);
    const [spend, models] = await Promise.all([
      db.costLedgerEntry.groupBy({
        by: ["userId", "kind"],
        where: { userId: { in: ids }, status: { in: ["reserved", "settled"] } },
        _sum: { amountUsd: true },
      }),
      db.modelVersion.groupBy({ by: ["userId"], where: { userId: { in: ids } }, _count: { _all: true } }),
    ]);
    for (const u of page) {
      const usd = (kind: string) =>
        Number(spend.find((s) => s.userId === u.id && s.kind === kind)?._sum.amountUsd ?? 0);
      chatTotal += usd("chat");
      trainingTotal += usd("training");
      rows.push([
        modelSuffix(u.id),
        u.platform,
        String(u.exchangeCount),
        String(u.ratedCount),
        String(u.highRatedCount),
        String(u.readyCount),
        String(models.find((m) => m.userId === u.id)?._count._all ?? 0),
        u.optedOut ? "yes" : "no",
        formatUsd(usd("chat")),
        formatUsd(usd("training")),
      ]);
    }
    progress?.update(rows.length, total);
    if (page.length < PAGE) break;
  }
  for (const line of table(
    ["USER", "PLATFORM", "EXCHANGES", "RATED", "HIGH", "READY", "MODELS", "OPTED OUT", "CHAT", "TRAINING"],
    rows,
  ))
    out(line);
  out(
    `${rows.length} ${rows.length === 1 ? "person" : "people"}; spend (all time, reserved + settled): chat ${formatUsd(chatTotal)}, training ${formatUsd(trainingTotal)}`,
  );
  return 0;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

async function exportDataset(db: Database, args: Args): Promise<number> {
  const who = args.positional[0];
  if (!who) throw new UsageError("export-dataset needs a user");
  const format = (args.flags.get("--format") ??
    (setting("FINETUNE_PROVIDER") === "vertex" ? "vertex" : "openai")) as string;
  if (format !== "openai" && format !== "vertex") throw new UsageError("--format is openai or vertex");
  const user = await findUser(db, who);
  if (!user) {
    err(`No such user: ${who}`);
    return 1;
  }
  const minRating = setting("FINETUNE_MIN_RATING");
  const sources = await db.exchange.findMany({
    where: { userId: user.id, status: "answered", rating: { gte: minRating } },
    select: { id: true, userText: true, replyText: true, status: true, rating: true, createdAt: true },
    orderBy: { id: "asc" },
  });
  // Their own platform ids (a mention of themselves, say) are identifiers too.
  const own = [...new Set([user.externalId, user.externalId.split(":").at(-1)!])].filter(
    (s) => s.length >= 4,
  );
  const privacy = createPrivacyFilter({
    extraPatterns: own.map((id) => ({ name: "user-id", pattern: `(?<![\\w])${escapeRegExp(id)}(?![\\w])` })),
  });
  const dataset = buildDataset(sources, {
    provider: format,
    systemPrompt: setting("SYSTEM_PROMPT"),
    minReplyChars: setting("FINETUNE_MIN_REPLY_CHARS"),
    privacy,
    validationFraction: 0,
  });
  // Lines come out in chronological order (createdAt, then id): pair them with their exchanges.
  const used = new Set(dataset.usedIds);
  const ordered = sources
    .filter((s) => used.has(s.id))
    .sort(
      (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
  const lines = dataset.trainJsonl.split("\n").filter(Boolean);
  if (lines.length !== ordered.length) throw new Error("dataset lines and examples do not line up");
  const userHash = modelSuffix(user.id);
  // Keyed by the internal id, so example hashes cannot be reversed by trying small integers.
  const exampleHash = (id: bigint) =>
    `e${createHmac("sha256", user.id).update(id.toString()).digest("hex").slice(0, 16)}`;
  const jsonl = lines
    .map(
      (line, i) =>
        `${JSON.stringify({ user: userHash, example: exampleHash(ordered[i]!.id), ...JSON.parse(line) })}\n`,
    )
    .join("");
  const file = args.flags.get("--out");
  if (typeof file === "string") writeFileSync(file, jsonl);
  else process.stdout.write(jsonl);
  const drops = Object.entries(dataset.stats.drops)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  err(
    `${userHash}: ${dataset.stats.examples} examples (${format} format) from ${sources.length} highly rated exchanges` +
      `${drops.length ? `; dropped: ${drops.join(", ")}` : ""}; ${dataset.stats.redactions} personal data items redacted` +
      `${typeof file === "string" ? `; written to ${file}` : ""}.`,
  );
  err(
    "Each line is the provider's format plus `user` and `example` (hashed ids); drop those two keys before uploading.",
  );
  return 0;
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim().toLowerCase() === "forget";
  } finally {
    rl.close();
  }
}

function progressReporter() {
  const bars = new Map<string, ProgressBar>();
  return (p: ForgetProgress) => {
    const label = p.phase === "database" ? "database" : "provider";
    const bar = bars.get(label) ?? new ProgressBar(label.padEnd(8));
    bars.set(label, bar);
    bar.update(p.done, p.total);
  };
}

async function forget(db: Database, args: Args): Promise<number> {
  const who = args.positional[0];
  if (!who) throw new UsageError("forget needs a user");
  const user = await findUser(db, who);
  if (!user && OPAQUE_ID.test(who)) {
    err(
      `No such user: ${who}. For someone already forgotten, pass their platform identity to retry what is left.`,
    );
    return 1;
  }
  const ref: UserRef = user
    ? { externalId: user.externalId, platform: user.platform === "slack" ? "slack" : "discord" }
    : { externalId: who, platform: platformOf(who) };
  if (user) {
    const [proposals, jobs, models] = await Promise.all([
      db.fineTuneProposal.count({ where: { userId: user.id } }),
      db.fineTuneJob.count({ where: { userId: user.id } }),
      db.modelVersion.count({ where: { userId: user.id } }),
    ]);
    err(
      `${modelSuffix(user.id)} (${user.platform}): ${count(user.exchangeCount, "exchange")}, ${count(proposals, "training offer")}, ` +
        `${count(jobs, "training")} and ${count(models, "model version")} will be deleted, with their files and models at the provider.`,
    );
  } else {
    err(`${who} is not in the database; retrying provider deletions left from an earlier forget, if any.`);
  }
  if (!args.flags.has("--yes") && !(await confirm('Type "forget" to confirm: '))) {
    err("Not confirmed: nothing was deleted. Re-run with --yes to confirm without a prompt.");
    return 1;
  }
  const { provider, why } = providerFromConfig(db);
  if (!provider)
    err(`No fine-tuning provider configured (${why}): provider deletions will be recorded as pending.`);
  const log = createLogger("warn");
  // An adapter server (vLLM, a Together deployment) stops serving the person's adapters first.
  const adapters = adapterServingForAdmin(db, log);
  const rights = createDataRights({
    db,
    clock: systemClock,
    log,
    provider,
    minRating: setting("FINETUNE_MIN_RATING"),
    ...(adapters ? { beforeForget: (userId: string) => adapters.unloadAll(userId) } : {}),
  });
  const result = await rights.forget(ref, progressReporter());
  out(result.text);
  for (const line of result.undeleted) out(`  not deleted: ${line}`);
  return result.ok ? 0 : 1;
}

async function deletions(db: Database, args: Args): Promise<number> {
  if (args.flags.has("--retry")) {
    const { provider, why } = providerFromConfig(db);
    if (!provider) {
      err(`No fine-tuning provider configured (${why}): nothing can be retried.`);
      return 2;
    }
    const rights = createDataRights({
      db,
      clock: systemClock,
      log: createLogger("warn"),
      provider,
      minRating: 4,
    });
    const bar = new ProgressBar("provider");
    const r = await rights.retryDeletions({ onProgress: (p) => bar.update(p.done, p.total) });
    out(
      `${r.deleted} deleted; ${r.remaining} still to retry; ${r.unsupported} for an operator to delete by hand.`,
    );
    if (r.remaining) return 1;
  }
  const records = await db.deletionRecord.findMany({ orderBy: { id: "asc" } });
  if (!records.length) {
    out("No provider deletions are outstanding.");
    return 0;
  }
  for (const line of table(
    ["ID", "PROVIDER", "KIND", "STATUS", "ATTEMPTS", "RESOURCE", "REASON"],
    records.map((r) => [
      r.id.toString(),
      r.provider,
      r.kind,
      r.status,
      String(r.attempts),
      r.resourceId,
      r.reason ?? "",
    ]),
  ))
    out(line);
  return 0;
}

// ---------------------------------------------------------------------------------------------

/**
 * openDatabase, tried again when Prisma's migrate engine loses its connection to the embedded
 * database's loopback server (P1017, seen on loaded machines). Migrating is idempotent.
 */
async function open(config: DatabaseConfig): Promise<OpenDatabase> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openDatabase(config);
    } catch (e) {
      if (attempt >= 3 || !(e instanceof MigrationError && /\bP1017\b/.test(e.output))) throw e;
    }
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  // Asking for help is a success (stdout, 0); no command at all is a usage problem (stderr, 2).
  if (args.command === "help" || args.flags.has("--help")) {
    out(USAGE);
    return 0;
  }
  if (!args.command) {
    err(USAGE);
    return 2;
  }
  const commands: Record<string, (db: Database, args: Args) => Promise<number>> = {
    users,
    "export-dataset": exportDataset,
    forget,
    deletions,
    lift,
  };
  const run = commands[args.command];
  if (!run) throw new UsageError(`Unknown command "${args.command}".`);
  let opened: OpenDatabase;
  try {
    opened = await open(loadDatabaseConfig());
  } catch (e) {
    if (e instanceof DataDirLockedError) {
      err(
        `${e.message}\nThe admin tool opens the embedded database itself: stop the bot first, or use DATABASE_URL.`,
      );
      return 2;
    }
    throw e;
  }
  try {
    return await run(opened.db, args);
  } finally {
    await opened.close();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError || e instanceof ConfigError) {
    err(e.message);
    err("");
    err(USAGE);
    process.exitCode = 2;
  } else {
    err(`admin: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}
