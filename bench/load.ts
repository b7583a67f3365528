// The load test: a burst of mentions through the real SDKs against the emulators, all on loopback in
// this one process (the emulators share the bot's event loop, so every figure includes their work
// too), with the model answering instantly. What it measures is what Slack and Discord see while
// the bot is busy: how long an ack takes, how long /healthz takes, whether anything is lost.
//
//   npm run bench:load             this section alone (npm run bench runs it after the others)
//   BENCH_LOAD_TARGETS=worker,in-process,postgres   which databases (default: worker, and postgres
//                                  when DATABASE_URL is set); "in-process" is PGlite on the bot's
//                                  thread, as before issue 15, for the before/after ratio
//   BENCH_LOAD_MENTIONS=200 BENCH_LOAD_USERS=50
//
// Slack: 200 app_mention events from 50 users, sent at once as signed HTTP requests to Bolt's
// /slack/events from a worker thread (as from Slack's side); ack latency = the HTTP response time.
// Discord: 200 MESSAGE_CREATE dispatches over the gateway to discord.js, one channel each, and one
// /assistant status per person right after them; ack latency = a command's dispatch to its
// interaction callback (gateway messages need no acknowledgement). A mention's dispatch to the
// bot's first REST call for it is reported beside it. Also a statement's round trip in-process vs
// over the worker's socket.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { type App, startApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { type OpenDatabase, openDatabase } from "../src/database/open-database.ts";
import { createLogger } from "../src/logger.ts";
import { startHealthServer } from "../src/observability/health-server.ts";
import { startDiscordEmulator } from "../test/emulators/discord/index.ts";
import { startOpenAIEmulator } from "../test/emulators/openai/index.ts";
import { signedHeaders, startSlackEmulator } from "../test/emulators/slack/index.ts";
import { eventCallback } from "../test/emulators/slack/payloads.ts";
import { openBench } from "./db.ts";
import { fmt, type Summary, summarize, table } from "./stats.ts";

export type LoadTarget = "worker" | "in-process" | "postgres";

export interface BurstResult {
  platform: "slack" | "discord";
  mentions: number;
  users: number;
  /**
   * What the platform waits on: Slack, the HTTP response to each event; Discord, the callback to
   * each slash command sent during the burst (gateway messages need no acknowledgement).
   */
  ack: Summary;
  /** Acks that took longer than the platforms' 3 s (Slack retries, Discord fails the command) or never came. */
  acksOver3s: number;
  /** How many acks were asked for: the events (Slack) or the slash commands (Discord). */
  acksAsked: number;
  /**
   * Discord: a mention's dispatch to the bot's first REST call for it (its typing indicator, or the
   * answer for one that waited in the queue). Not an ack; bounded by the REST budget.
   */
  firstCall?: Summary;
  /** Mention sent to its answer posted (the first chat.postMessage / message POST for it). */
  answer: Summary;
  health: Summary;
  /** `SELECT 1` from the bot's thread during the burst: what /healthz waited on before issue 15. */
  select1: Summary;
  /** Event-loop delay of the bot's thread during the burst (ms). */
  loopDelayP99Ms: number;
  answeredPerSecond: number;
  elapsedSeconds: number;
  replies: number;
  busy: number;
  lost: number;
  duplicated: number;
}

export interface StatementCost {
  target: LoadTarget;
  select1: Summary;
  findFirst: Summary;
}

export interface LoadResults {
  target: LoadTarget;
  statements?: StatementCost;
  bursts: BurstResult[];
}

const SIGNING = {
  teamId: "T0LOAD",
  botUserId: "U0BOT",
  botId: "B0BOT",
  botToken: "xoxb-load",
  signingSecret: "load-secret",
};
const GUILD = "2000";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function openTarget(
  target: LoadTarget,
  serverUrl: string | undefined,
): Promise<{ db: OpenDatabase["db"]; close(): Promise<void> }> {
  if (target === "postgres") return openBench("postgres", serverUrl);
  const dir = mkdtempSync(join(os.tmpdir(), "bench-load-"));
  const opened = await openDatabase(
    { dataDir: dir },
    { embedded: target === "worker" ? "worker" : "in-process" },
  );
  return {
    db: opened.db,
    async close() {
      await opened.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function statementCost(target: LoadTarget, db: OpenDatabase["db"], n: number): Promise<StatementCost> {
  const time = async (q: () => Promise<unknown>) => {
    for (let i = 0; i < 20; i++) await q();
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await q();
      samples.push(performance.now() - t);
    }
    return summarize(samples);
  };
  return {
    target,
    select1: await time(() => db.$queryRaw`SELECT 1`),
    findFirst: await time(() => db.user.findFirst({ where: { externalId: "slack:nobody" } })),
  };
}

/** Samples a latency every `everyMs` until stopped. */
function poller(sample: () => Promise<unknown>, everyMs: number) {
  const samples: number[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const t = performance.now();
      await sample().catch(() => {});
      samples.push(performance.now() - t);
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return summarize(samples);
    },
  };
}

async function waitAll(count: () => number, total: number, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (count() < total && performance.now() < end) await sleep(50);
}

interface Rig {
  app: App;
  slackPort: number | undefined;
  healthUrl: string;
  closeHealth(): Promise<void>;
  slack: Awaited<ReturnType<typeof startSlackEmulator>>;
  discord: Awaited<ReturnType<typeof startDiscordEmulator>>;
}

async function slackBurst(
  rig: Rig,
  db: OpenDatabase["db"],
  mentions: number,
  users: number,
): Promise<BurstResult> {
  const emu = rig.slack;
  const events = Array.from({ length: mentions }, (_, i) =>
    emu.events.appMention({
      userId: `U0L${i % users}`,
      channelId: `C0L${i % users}`,
      text: `<@${SIGNING.botUserId}> question ${i}`,
    }),
  );
  const tsOf = new Set(events.map((e) => String(e.ts)));
  // An answer starts as a post in the mention's thread, or (STREAM_REPLIES, the default) as a
  // stream started there.
  const answerCalls = () =>
    [...emu.callsTo("chat.postMessage"), ...emu.callsTo("chat.startStream")].filter(
      (c) => c.response.ok === true,
    );
  const postsFor = () => {
    const byTs = new Map<string, string[]>();
    for (const c of answerCalls()) {
      const ts = String(c.args.thread_ts);
      if (tsOf.has(ts))
        byTs.set(ts, [...(byTs.get(ts) ?? []), String(c.args.text ?? c.args.markdown_text ?? "")]);
    }
    return byTs;
  };
  // Signed as the emulator signs them, but sent from a worker thread: Slack sends from another
  // machine, and a sender on the bot's own event loop measured mostly its own wait for that loop
  // (fetch needs several turns of it per request), not how long the bot took to answer.
  const requests = events.map((e) => {
    const body = JSON.stringify(eventCallback(emu.options, e));
    return {
      body,
      headers: { "content-type": "application/json", ...signedHeaders(SIGNING.signingSecret, body) },
    };
  });
  const url = `http://127.0.0.1:${rig.slackPort}/slack/events`;
  let sentAt = 0;
  const answerTimes = () =>
    events.flatMap((e) => {
      const first = answerCalls()
        .filter((c) => String(c.args.thread_ts) === String(e.ts))
        .sort((a, b) => a.at - b.at)[0];
      return first ? [first.at - sentAt] : [];
    });
  return burst(rig, db, "slack", mentions, users, async () => {
    sentAt = Date.now();
    const deliveries = await sendFromWorker(url, requests);
    const refused = deliveries.find((d) => d.status !== 200 && d.status !== 0);
    if (refused) throw new Error(`Bolt answered ${refused.status}`);
    // The sender gives up after 15 s (Slack itself after 3 s, then retries): that is an ack of at
    // least that long, and counted among those over 3 s.
    return { acks: deliveries.map((d) => d.ms), acksAsked: mentions, answers: postsFor, answerTimes };
  });
}

/** POSTs every request at once from a worker thread (its own event loop); status 0: no answer. */
function sendFromWorker(
  url: string,
  requests: Array<{ body: string; headers: Record<string, string> }>,
): Promise<Array<{ status: number; ms: number }>> {
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    Promise.all(workerData.requests.map(async ({ body, headers }) => {
      const t = performance.now();
      try {
        const res = await fetch(workerData.url, { method: "POST", headers, body, signal: AbortSignal.timeout(15000) });
        await res.arrayBuffer();
        return { status: res.status, ms: performance.now() - t };
      } catch {
        return { status: 0, ms: performance.now() - t };
      }
    })).then((results) => parentPort.postMessage(results));`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { url, requests } });
    worker.once("message", (results: Array<{ status: number; ms: number }>) => {
      resolve(results);
      void worker.terminate();
    });
    worker.once("error", reject);
  });
}

async function discordBurst(
  rig: Rig,
  db: OpenDatabase["db"],
  mentions: number,
  users: number,
): Promise<BurstResult> {
  const emu = rig.discord;
  const sent: Array<{ id: string; channelId: string; at: number }> = [];
  return burst(rig, db, "discord", mentions, users, async () => {
    for (let i = 0; i < mentions; i++) {
      const channelId = String(3000 + i);
      const at = Date.now();
      const m = emu.sendMessage({
        authorId: String(5000 + (i % users)),
        content: `question ${i}`,
        mentionsBot: true,
        channelId,
        guildId: GUILD,
      });
      sent.push({ id: m.id, channelId, at });
    }
    // One /assistant status per person while the mentions' replies queue: what Discord waits on
    // (a callback within 3 s) must not wait behind them.
    const commands = Array.from({ length: users }, (_, u) => {
      const at = Date.now();
      const id = emu.slashCommand({
        userId: String(5000 + u),
        guildId: GUILD,
        channelId: String(3000 + u),
        name: "assistant",
        subcommand: "status",
      });
      return { id, at };
    });
    const answers = () => {
      const byId = new Map<string, string[]>();
      const ids = new Set(sent.map((s) => s.id));
      for (const m of emu.state.messages.values()) {
        const ref = m.message.message_reference?.message_id;
        if (ref && ids.has(ref) && m.message.author.id === "1000" && !m.deleted)
          byId.set(ref, [...(byId.get(ref) ?? []), m.message.content]);
      }
      return byId;
    };
    // The acks are read once every mention has an answer (the requests are recorded by then). The
    // first REST call for a mention is its typing indicator, or its reply when it waited in the
    // queue (queued replies skip typing: see src/bots/discord/messages.ts).
    await waitAll(() => answers().size, mentions, 180_000);
    const callbackAt = (c: { id: string; at: number }) =>
      emu.sent.find((r) => r.method === "POST" && r.path.startsWith(`/interactions/${c.id}/`))?.at;
    await waitAll(() => commands.filter((c) => callbackAt(c) !== undefined).length, commands.length, 30_000);
    const acks = commands.flatMap((c) => {
      const at = callbackAt(c);
      return at === undefined ? [] : [at - c.at];
    });
    const firstCalls = sent.map((s) => {
      const first = emu.sent.find(
        (r) =>
          r.method === "POST" &&
          r.at >= s.at &&
          (r.path === `/channels/${s.channelId}/typing` || r.path === `/channels/${s.channelId}/messages`),
      );
      return first ? first.at - s.at : Number.NaN;
    });
    const answerTimes = () =>
      sent.flatMap((s) => {
        const first = emu.sent.find(
          (r) => r.method === "POST" && r.at >= s.at && r.path === `/channels/${s.channelId}/messages`,
        );
        return first ? [first.at - s.at] : [];
      });
    return {
      acks,
      acksAsked: commands.length,
      firstCalls: firstCalls.filter((a) => !Number.isNaN(a)),
      answers,
      answerTimes,
    };
  });
}

async function burst(
  rig: Rig,
  db: OpenDatabase["db"],
  platform: "slack" | "discord",
  mentions: number,
  users: number,
  send: () => Promise<{
    acks: number[];
    acksAsked: number;
    firstCalls?: number[];
    answers: () => Map<string, string[]>;
    answerTimes: () => number[];
  }>,
): Promise<BurstResult> {
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  // On the bot's own event loop, unlike the Slack sender: a poller thread of its own, tried, was one
  // more busy thread beside the bot's, the database's and the sender's on this 2-core machine, and
  // mostly measured waiting for a core (p99 99-132 ms against 22-76 here, the bot's loop delay p99
  // 24-43 ms in both).
  const health = poller(async () => {
    const res = await fetch(rig.healthUrl);
    await res.arrayBuffer();
  }, 50);
  const select1 = poller(() => db.$queryRaw`SELECT 1`, 100);
  const started = performance.now();
  const { acks, acksAsked, firstCalls, answers, answerTimes } = await send();
  await waitAll(() => answers().size, mentions, 180_000);
  const elapsedSeconds = (performance.now() - started) / 1000;
  loop.disable();
  const [healthSummary, select1Summary] = [await health.stop(), await select1.stop()];
  // Late duplicates would come after the last first answer: give them a moment to show.
  await sleep(1_000);
  const byMention = answers();
  const texts = [...byMention.values()];
  const busyText = "I'm busy right now";
  return {
    platform,
    mentions,
    users,
    ack: summarize(acks),
    acksOver3s: acks.filter((a) => a > 3_000).length + (acksAsked - acks.length),
    acksAsked,
    ...(firstCalls ? { firstCall: summarize(firstCalls) } : {}),
    answer: summarize(answerTimes()),
    health: healthSummary,
    select1: select1Summary,
    loopDelayP99Ms: loop.percentile(99) / 1e6,
    answeredPerSecond: Math.round((byMention.size / elapsedSeconds) * 10) / 10,
    elapsedSeconds: Math.round(elapsedSeconds * 10) / 10,
    replies: texts.filter((t) => !t[0]?.includes(busyText)).length,
    busy: texts.filter((t) => t[0]?.includes(busyText)).length,
    lost: mentions - byMention.size,
    duplicated: texts.filter((t) => t.length > 1).length,
  };
}

export async function loadSuite(options: {
  targets: LoadTarget[];
  mentions: number;
  users: number;
  progress: (line: string) => void;
  /** The Postgres server for the "postgres" target (else DATABASE_URL). */
  serverUrl?: string;
}): Promise<LoadResults[]> {
  const results: LoadResults[] = [];
  for (const target of options.targets) {
    options.progress(`load: ${target} database`);
    const database = await openTarget(target, options.serverUrl);
    const openai = await startOpenAIEmulator();
    const slack = await startSlackEmulator(SIGNING);
    const discord = await startDiscordEmulator({
      token: "load-token",
      applicationId: "1000",
      botUserId: "1000",
    });
    const members = Array.from({ length: options.users }, (_, i) => String(5000 + i));
    for (const id of members) discord.addUser({ id, username: `user${id}` });
    discord.addGuild({
      id: GUILD,
      name: "load",
      channels: Array.from({ length: options.mentions }, (_, i) => ({ id: String(3000 + i), name: `c${i}` })),
      members,
    });
    let app: App | undefined;
    let closeHealth = async () => {};
    try {
      const statements = target === "postgres" ? undefined : await statementCost(target, database.db, 300);
      const config = loadConfig({
        SLACK_BOT_TOKEN: SIGNING.botToken,
        SLACK_SIGNING_SECRET: SIGNING.signingSecret,
        SLACK_PORT: "0",
        SLACK_API_URL: slack.apiUrl,
        DISCORD_TOKEN: "load-token",
        DISCORD_APPLICATION_ID: "1000",
        DISCORD_API_URL: discord.apiUrl,
        OPENAI_API_KEY: "bench",
        OPENAI_BASE_URL: `${openai.url}/v1`,
        FINETUNE_PROVIDER: "none",
        LOG_LEVEL: "error",
      });
      app = await startApp({
        config,
        db: database.db,
        log: createLogger("error"),
        schedule: false,
        recover: false,
      });
      const health = await startHealthServer({
        port: 0,
        db: database.db,
        platforms: app.platforms,
        metrics: app.metrics,
      });
      closeHealth = health.close;
      const slackPlatform = app.platforms.slack as { httpPort?: number } | undefined;
      slack.setTarget({ kind: "http", url: `http://127.0.0.1:${slackPlatform?.httpPort}/slack/events` });
      const rig: Rig = {
        app,
        slackPort: slackPlatform?.httpPort,
        healthUrl: `http://127.0.0.1:${health.port}/healthz`,
        closeHealth,
        slack,
        discord,
      };
      const bursts: BurstResult[] = [];
      options.progress(`load: ${target}: Slack, ${options.mentions} mentions`);
      bursts.push(await slackBurst(rig, database.db, options.mentions, options.users));
      options.progress(`load: ${target}: Discord, ${options.mentions} mentions`);
      bursts.push(await discordBurst(rig, database.db, options.mentions, options.users));
      results.push({ target, ...(statements ? { statements } : {}), bursts });
    } finally {
      await app?.stop();
      await closeHealth();
      await discord.close();
      await slack.stop();
      await openai.close();
      await database.close();
    }
  }
  return results;
}

export const LOAD_TARGETS = { ackP99Ms: 1_000, healthP99Ms: 100 };

/** BENCH_LOAD_TARGETS, else the worker, and the Postgres server when there is one. */
export function loadTargetsFromEnv(hasServer = Boolean(process.env.DATABASE_URL)): LoadTarget[] {
  const raw = process.env.BENCH_LOAD_TARGETS ?? (hasServer ? "worker,postgres" : "worker");
  return raw.split(",").map((t) => t.trim()) as LoadTarget[];
}

/** The section's tables, as lines. */
export function loadTables(results: LoadResults[]): string[] {
  const out: string[] = [];
  const costs = results.flatMap((r) => (r.statements ? [r.statements] : []));
  if (costs.length) {
    out.push("One statement's round trip from the bot's thread, idle (ms; Prisma included)");
    out.push(
      table(
        ["embedded database", "SELECT 1 p50", "p95", "findFirst p50", "p95"],
        costs.map((c) => [
          c.target,
          fmt(c.select1.p50),
          fmt(c.select1.p95),
          fmt(c.findFirst.p50),
          fmt(c.findFirst.p95),
        ]),
      ),
    );
    const inProcess = costs.find((c) => c.target === "in-process");
    const worker = costs.find((c) => c.target === "worker");
    if (inProcess && worker)
      out.push(
        `The worker's socket adds ${fmt(worker.findFirst.p50 - inProcess.findFirst.p50)} ms per statement at p50 (findFirst), x${(worker.findFirst.p50 / inProcess.findFirst.p50).toFixed(2)}.`,
      );
    out.push("");
  }
  out.push(
    "Load: mentions sent at once, the model answering instantly (ms). ack = what the platform waits on: Slack's HTTP response to each event; Discord's callback to a slash command (one per person, sent during the burst). first call = Discord: a mention's dispatch to the bot's first REST call for it, bounded by discord.js's 50 requests/s budget, not an ack",
  );
  out.push(
    table(
      [
        "database",
        "platform",
        "mentions",
        "acks",
        "ack p50",
        "ack p95",
        "ack p99",
        "ack >3s",
        "first call p99",
        "answer p50",
        "answer p99",
        "healthz p50",
        "healthz p99",
        "SELECT 1 p99",
        "loop p99",
        "answers/s",
        "replies",
        "busy",
        "lost",
        "dup",
      ],
      results.flatMap((r) =>
        r.bursts.map((b) => [
          r.target,
          b.platform,
          `${b.mentions} from ${b.users}`,
          b.acksAsked,
          fmt(b.ack.p50),
          fmt(b.ack.p95),
          fmt(b.ack.p99),
          b.acksOver3s,
          b.firstCall ? fmt(b.firstCall.p99) : "-",
          fmt(b.answer.p50),
          fmt(b.answer.p99),
          fmt(b.health.p50),
          fmt(b.health.p99),
          fmt(b.select1.p99),
          fmt(b.loopDelayP99Ms),
          b.answeredPerSecond,
          b.replies,
          b.busy,
          b.lost,
          b.duplicated,
        ]),
      ),
    ),
  );
  return out;
}

export function loadVerdicts(results: LoadResults[]) {
  return results.flatMap((r) =>
    r.bursts.flatMap((b) => [
      {
        target: `ack p99 < ${LOAD_TARGETS.ackP99Ms} ms (${r.target}, ${b.platform}, ${b.platform === "slack" ? `${b.mentions} mentions` : `${b.acksAsked} slash commands during ${b.mentions} mentions`})`,
        measured: `${fmt(b.ack.p99)} ms${b.acksOver3s ? `, ${b.acksOver3s} over 3 s or missing` : ""}`,
        met: b.ack.p99 < LOAD_TARGETS.ackP99Ms && b.acksOver3s === 0,
      },
      {
        target: `/healthz p99 < ${LOAD_TARGETS.healthP99Ms} ms under that load (${r.target}, ${b.platform})`,
        measured: `${fmt(b.health.p99)} ms`,
        met: b.health.p99 < LOAD_TARGETS.healthP99Ms,
      },
      {
        target: `no mention lost or answered twice (${r.target}, ${b.platform})`,
        measured: `${b.lost} lost, ${b.duplicated} duplicated`,
        met: b.lost === 0 && b.duplicated === 0,
      },
    ]),
  );
}

// `npm run bench:load`: this section on its own.
if (import.meta.url === `file://${process.argv[1]}`) {
  const loadStart = os.loadavg().map((x) => x.toFixed(2));
  const results = await loadSuite({
    targets: loadTargetsFromEnv(),
    mentions: Number(process.env.BENCH_LOAD_MENTIONS ?? 200),
    users: Number(process.env.BENCH_LOAD_USERS ?? 50),
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  const lines = [
    `Load average (1/5/15 min): ${loadStart.join("/")} at start, ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join("/")} at end; ${os.cpus().length} CPUs`,
    "",
    ...loadTables(results),
    "",
    table(
      ["target", "measured", "met"],
      loadVerdicts(results).map((v) => [v.target, v.measured, v.met ? "yes" : "NO"]),
    ),
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  process.exit(0);
}
