// Reply overhead: respond() (plus recording the posted reply's ids) timed end to end, minus the time
// spent inside the in-process provider, for users with 1k/10k/50k stored exchanges while the
// database grows from 10 to 10k users; the same with memory and few-shot switched off; then the
// recall of the production retrieval against exact search on the same data.
import { createBudgets } from "../src/core/budgets.ts";
import { createConversation } from "../src/core/conversation.ts";
import { embeddingSpace, nearestExchanges } from "../src/core/exchange-embeddings.ts";
import { createMemoryIndex, type MemoryIndex } from "../src/core/memory-index.ts";
import type { Clock, Logger } from "../src/core/ports.ts";
import { startCpuProfile } from "./cpu-profile.ts";
import {
  countTexts,
  createVocabularyTables,
  EMBEDDING_MODEL,
  insertExchanges,
  insertInterleaved,
  insertUsers,
  refreshCounters,
  userId,
  Vocabulary,
} from "./data.ts";
import type { OpenBench } from "./db.ts";
import { TimedProvider } from "./provider.ts";
import { rng } from "./random.ts";
import { type Summary, summarize } from "./stats.ts";

export interface ReplyOptions {
  width: number;
  /** Stored exchanges of each replying user, one user per entry. */
  histories: number[];
  /** Users in the database at each stage (ascending; the replying users count). */
  userCounts: number[];
  /** Exchanges of every other user. */
  othersHistory: number;
  samples: number;
  warmup: number;
  /** Stop a cell early after this long (it still takes at least `minSamples`). */
  maxCellMs: number;
  minSamples: number;
  recallQueries: number;
  progress: (line: string) => void;
}

export interface ReplyCell {
  history: number;
  users: number;
  /** Wall-clock overhead per reply (ms): what a user waits for, beyond the provider. */
  full: Summary;
  /** The same with the in-process memory index switched off: every search in the database. */
  off: Summary;
  /**
   * CPU time of this process per reply (ms): steadier than wall time on a busy machine. PGlite runs in
   * this process, so it counts; a Postgres server's own work does not.
   */
  fullCpu: Summary;
  offCpu: Summary;
  /** full p50 / off p50: what memory and few-shot cost relative to everything else. */
  ratioP50: number;
  ratioP95: number;
  /** Average memory items and few-shot examples that reached the prompt (full mode). */
  memoryUsed: number;
  fewShotUsed: number;
}

export interface RecallResult {
  history: number;
  users: number;
  kind: "memory" | "fewShot";
  /** "database": nearestExchanges (SQL); "index": the in-process memory index. */
  path: "database" | "index";
  k: number;
  queries: number;
  /** Share of the exact top-k found (ties at the k-th similarity count as found). */
  recall: number;
  /** Sum of returned similarities over the exact top-k's: how much relevance was lost. */
  similarityRatio: number;
  latency: Summary;
}

/** Where one reply's overhead goes: every database call respond() makes, timed through Prisma. */
export interface BreakdownRow {
  operation: string;
  callsPerReply: number;
  medianMs: number;
  msPerReply: number;
}

export interface ReplyResults {
  width: number;
  space: string;
  loadSeconds: number;
  exchangeTableMb: number;
  totalExchanges: number;
  /** Share of stored embeddings kept out of line in the TOAST table (null: server before Postgres 17). */
  embeddingsOutOfLine: number | null;
  /** Mean length of the stored replies, which decides (with the width) how rows are stored. */
  meanReplyChars: number;
  cells: ReplyCell[];
  recall: RecallResult[];
  breakdown: { history: number; users: number; replies: number; overheadMs: number; rows: BreakdownRow[] };
  /** How long loading a user's vectors into the index took (in the background of their first reply). */
  indexLoads: Array<{ history: number; ms: number }>;
}

/** Counts what each reply put into the prompt, from the conversation's own log line. */
function countingLogger(): Logger & { memory: number; fewShot: number; replies: number; reset(): void } {
  const log = {
    memory: 0,
    fewShot: 0,
    replies: 0,
    reset() {
      log.memory = 0;
      log.fewShot = 0;
      log.replies = 0;
    },
    debug() {},
    info(msg: string, fields?: Record<string, unknown>) {
      if (msg !== "replied" || !fields) return;
      log.replies++;
      log.memory += Number(fields.memory ?? 0);
      log.fewShot += Number(fields.fewShot ?? 0);
    },
    warn(msg: string) {
      throw new Error(`unexpected warning during the benchmark: ${msg}`);
    },
    error(msg: string) {
      throw new Error(`unexpected error during the benchmark: ${msg}`);
    },
    child: () => log,
  };
  return log;
}

/** A clock that moves one second per reading, so every exchange has its own createdAt. */
function tickingClock(start: Date): Clock {
  let t = start.getTime();
  return {
    now: () => {
      t += 1000;
      return new Date(t);
    },
  };
}

/** A raw statement's first words (its parameters left out), so the breakdown tells statements apart. */
function statementLabel(args: unknown): string {
  // $queryRaw`...` reaches the extension as [TemplateStringsArray, ...values] or a Prisma.Sql.
  const first = Array.isArray(args) ? args[0] : args;
  const strings = (first as { strings?: unknown } | undefined)?.strings ?? first;
  if (!Array.isArray(strings) || typeof strings[0] !== "string") return "";
  return ` ${strings.join("?").replace(/\s+/g, " ").trim().slice(0, 60)}`;
}

export async function replySuite(bench: OpenBench, o: ReplyOptions): Promise<ReplyResults> {
  const { db } = bench;
  const space = embeddingSpace(EMBEDDING_MODEL, o.width);
  const vocabulary = new Vocabulary(o.width);
  const loadStart = performance.now();
  // BENCH_DEFAULT_TOAST=1: Postgres' default TOAST target instead of the one the migration
  // 20261121020000_exchange_toast_target sets, to see what that migration changes.
  if (process.env.BENCH_DEFAULT_TOAST === "1")
    await db.$executeRawUnsafe(`ALTER TABLE "Exchange" RESET (toast_tuple_target)`);
  await createVocabularyTables(bench, vocabulary);

  // The replying users are numbers 1..H; everyone else is a smaller user added stage by stage.
  const heavy = o.histories.map((history, i) => ({ no: i + 1, history }));
  await insertUsers(db, 1, heavy.length);
  o.progress(
    `  loading ${heavy.map((h) => h.history.toLocaleString("en")).join(" + ")} exchanges, interleaved`,
  );
  await insertInterleaved(db, { users: heavy, space });
  await countTexts(db, 1, heavy.length);
  await refreshCounters(db, 1, heavy.length);
  let loadMs = performance.now() - loadStart;

  const provider = new TimedProvider(vocabulary);
  const log = countingLogger();
  const budgets = createBudgets({ db, clock: tickingClock(new Date("2026-11-21T00:00:00Z")) });
  const settings = {
    systemPrompt:
      "You are a helpful assistant in a team chat. Answer concisely and adapt to the person you are talking to.",
    chatModel: "bench-chat",
    embeddingModel: EMBEDDING_MODEL,
    embeddingDimensions: o.width,
    priceInputPer1M: 0.4,
    priceOutputPer1M: 1.6,
    fewShotMinRating: 4,
  };
  // One index for the suite, as one bot process has one; MEMORY_INDEX_MB's default budget.
  const memoryIndex = createMemoryIndex({
    db,
    log,
    maxBytes: Number(process.env.BENCH_MEMORY_INDEX_MB ?? 512) * 1024 * 1024,
  });
  let cellNo = 0;
  async function measure(
    userNo: number,
    indexed: boolean,
    options: { db?: OpenBench["db"]; samples?: number; resetCalls?: () => void } = {},
  ): Promise<{ wall: Summary; cpu: Summary }> {
    const cell = ++cellNo;
    const conv = createConversation({
      db: options.db ?? db,
      clock: tickingClock(new Date(`2026-11-21T${String(cell % 24).padStart(2, "0")}:00:00Z`)),
      log,
      llm: provider,
      chatBudget: options.db
        ? createBudgets({ db: options.db, clock: tickingClock(new Date("2026-11-21")) })
        : budgets,
      settings,
      ...(indexed ? { memoryIndex } : {}),
    });
    const random = rng(cell * 7919);
    const samples: number[] = [];
    const cpuSamples: number[] = [];
    const total = options.samples ?? o.samples;
    if (indexed) {
      // The user's first message starts loading their vectors; time the replies after that.
      await conv.respond({
        user: { externalId: `discord:bench-${userNo}`, platform: "discord" },
        messageId: `bench-live-${cell}-load`,
        channelId: "bench-channel-0",
        text: vocabulary.message(userNo, random),
      });
      const t0 = performance.now();
      await memoryIndex.settled();
      loadTimes.push({ userNo, ms: performance.now() - t0 });
    }
    let start = performance.now();
    log.reset();
    // Warm-up: up to `warmup` replies or a second and a half, whichever comes first (at least 2).
    let warmup = o.warmup;
    let stopProfile: ((name: string) => Promise<void>) | undefined;
    for (let i = 0; i < warmup + total; i++) {
      if (i < warmup && i >= 2 && performance.now() - start > 1_500) warmup = i;
      if (i === warmup) {
        log.reset();
        options.resetCalls?.();
        if (indexed && !options.db) stopProfile = await startCpuProfile();
        start = performance.now();
      }
      if (i >= warmup + o.minSamples && performance.now() - start > o.maxCellMs) break;
      const text = vocabulary.message(userNo, random);
      provider.spentMs = 0;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const result = await conv.respond({
        user: { externalId: `discord:bench-${userNo}`, platform: "discord" },
        messageId: `bench-live-${cell}-${i}`,
        channelId: `bench-channel-${i % 8}`,
        ...(i % 10 < 3 ? { threadId: `bench-thread-${i % 50}` } : {}),
        text,
      });
      if (result.kind !== "reply" || result.failed || result.exchangeId === undefined)
        throw new Error(
          `respond() did not reply: ${JSON.stringify(result, (_, v) => (typeof v === "bigint" ? String(v) : v))}`,
        );
      await conv.recordReplyMessages(result.exchangeId, [`bench-live-reply-${cell}-${i}`]);
      const elapsed = performance.now() - t0 - provider.spentMs;
      const cpu = process.cpuUsage(c0);
      if (i >= warmup) {
        samples.push(elapsed);
        cpuSamples.push((cpu.user + cpu.system) / 1000 - provider.spentMs);
      }
    }
    await stopProfile?.(`${bench.kind}-w${o.width}-h${o.histories[userNo - 1]}-cell${cell}`);
    // Put the user back as they were, so every cell sees the same history.
    await db.$executeRawUnsafe(
      `DELETE FROM "CostLedgerEntry" WHERE "exchangeId" IN (SELECT "id" FROM "Exchange" WHERE "userMessageId" LIKE 'bench-live-${cell}-%')`,
    );
    await db.$executeRawUnsafe(`DELETE FROM "Exchange" WHERE "userMessageId" LIKE 'bench-live-${cell}-%'`);
    // Deleted behind the index's back: its copies reload, as after retention.
    await db.$executeRawUnsafe(`UPDATE "User" SET "memoryEpoch" = "memoryEpoch" + 1`);
    await refreshCounters(db, userNo, userNo);
    return { wall: summarize(samples), cpu: summarize(cpuSamples) };
  }

  const loadTimes: Array<{ userNo: number; ms: number }> = [];
  const cells: ReplyCell[] = [];
  let users = heavy.length;
  for (const target of o.userCounts) {
    if (target > users) {
      const t = performance.now();
      o.progress(`  adding users ${users + 1}..${target} (${o.othersHistory} exchanges each)`);
      await insertUsers(db, users + 1, target);
      await insertExchanges(db, { fromNo: users + 1, toNo: target, perUser: o.othersHistory, space });
      await refreshCounters(db, users + 1, target);
      users = target;
      loadMs += performance.now() - t;
    }
    // Postgres servers analyze by themselves (autovacuum); the embedded database never does, so
    // it is measured as the bot would find it.
    // VACUUM too: the bulk insert would otherwise start an insert-triggered autovacuum, which would
    // share the machine's cores with the cells measured next.
    if (bench.kind === "postgres") await db.$executeRawUnsafe("VACUUM ANALYZE");
    for (const h of heavy) {
      const full = await measure(h.no, true);
      const memoryUsed = log.replies ? log.memory / log.replies : 0;
      const fewShotUsed = log.replies ? log.fewShot / log.replies : 0;
      const off = await measure(h.no, false, { samples: Math.max(o.minSamples, Math.round(o.samples / 4)) });
      const cell: ReplyCell = {
        history: h.history,
        users,
        full: full.wall,
        off: off.wall,
        fullCpu: full.cpu,
        offCpu: off.cpu,
        ratioP50: Math.round((full.wall.p50 / off.wall.p50) * 100) / 100,
        ratioP95: Math.round((full.wall.p95 / off.wall.p95) * 100) / 100,
        memoryUsed: Math.round(memoryUsed * 100) / 100,
        fewShotUsed: Math.round(fewShotUsed * 100) / 100,
      };
      cells.push(cell);
      o.progress(
        `  width ${o.width}, ${users} users, ${h.history} exchanges: p50 ${full.wall.p50} / p95 ${full.wall.p95} / p99 ${full.wall.p99} ms (n=${full.wall.n}, cpu p50 ${full.cpu.p50}); off: p95 ${off.wall.p95} ms`,
      );
    }
  }

  // Where the time goes, for the middle history: each database call timed through a Prisma extension
  // (which adds a little time of its own); the rest is prompt building and our other JavaScript.
  const probe = heavy[Math.min(1, heavy.length - 1)]!;
  const calls = new Map<string, number[]>();
  const instrumented = db.$extends({
    query: {
      async $allOperations({ model, operation, args, query }) {
        const t0 = performance.now();
        const result = await query(args);
        const key = (model ? `${model}.${operation}` : operation) + statementLabel(args);
        const list = calls.get(key) ?? [];
        list.push(performance.now() - t0);
        calls.set(key, list);
        return result;
      },
    },
  }) as unknown as OpenBench["db"];
  calls.clear();
  const probed = await measure(probe.no, true, { db: instrumented, resetCalls: () => calls.clear() });
  const replies = probed.wall.n;
  const rows: BreakdownRow[] = [...calls]
    .map(([operation, ms]) => ({
      operation,
      callsPerReply: Math.round((ms.length / replies) * 100) / 100,
      medianMs: summarize(ms).p50,
      msPerReply: Math.round((ms.reduce((s, x) => s + x, 0) / replies) * 100) / 100,
    }))
    .sort((a, b) => b.msPerReply - a.msPerReply);
  const breakdown = { history: probe.history, users, replies, overheadMs: probed.wall.mean, rows };

  const recall: RecallResult[] = [];
  for (const h of heavy)
    recall.push(
      ...(await measureRecall(bench, vocabulary, space, h, users, o.recallQueries, o.maxCellMs, memoryIndex)),
    );

  for (const x of recall)
    o.progress(
      `  recall@${x.k} ${x.kind} ${x.path}, ${x.history} exchanges: ${x.recall} (search p50 ${x.latency.p50} ms)`,
    );
  o.progress(
    `  breakdown: ${breakdown.rows.map((r) => `${r.operation} x${r.callsPerReply} ${r.msPerReply} ms`).join(", ")}`,
  );
  const size = await db.$queryRawUnsafe<Array<{ mb: number; n: bigint }>>(
    `SELECT (pg_total_relation_size('"Exchange"') / 1048576.0)::float8 AS mb, (SELECT count(*) FROM "Exchange") AS n`,
  );
  // pg_column_toast_chunk_id() is Postgres 17's: an older server reports no share.
  const storage = await db
    .$queryRawUnsafe<Array<{ out: number }>>(
      `SELECT (count(pg_column_toast_chunk_id("embedding"))::float8 / greatest(count("embedding"), 1)) AS out
       FROM "Exchange" WHERE "embedding" IS NOT NULL`,
    )
    .catch(() => undefined);
  const reply = await db.$queryRawUnsafe<Array<{ reply: number }>>(
    `SELECT avg(length("replyText"))::float8 AS reply FROM "Exchange"`,
  );
  return {
    width: o.width,
    space,
    loadSeconds: Math.round(loadMs / 100) / 10,
    exchangeTableMb: Math.round(size[0]?.mb ?? 0),
    totalExchanges: Number(size[0]?.n ?? 0),
    embeddingsOutOfLine: storage?.[0] ? Math.round(storage[0].out * 1000) / 1000 : null,
    meanReplyChars: Math.round(reply[0]?.reply ?? 0),
    cells,
    recall,
    breakdown,
    indexLoads: loadTimes.map((l) => ({
      history: heavy.find((h) => h.no === l.userNo)!.history,
      ms: Math.round(l.ms),
    })),
  };
}

/**
 * The production retrieval (nearestExchanges, as respond() calls it) against exact cosine search
 * over the same rows, computed by the database without any index.
 */
async function measureRecall(
  { db }: OpenBench,
  vocabulary: Vocabulary,
  space: string,
  user: { no: number; history: number },
  users: number,
  queries: number,
  maxMs: number,
  memoryIndex: MemoryIndex,
): Promise<RecallResult[]> {
  const id = await userId(db, user.no);
  const stampOf = async () => {
    const [u] = await db.$queryRawUnsafe<Array<{ v: bigint; e: number }>>(
      `SELECT "memoryVersion" AS v, "memoryEpoch" AS e FROM "User" WHERE "id" = $1::uuid`,
      id,
    );
    return { version: BigInt(u!.v), epoch: Number(u!.e) };
  };
  await memoryIndex.lookup(id, space, vocabulary.dims, await stampOf());
  await memoryIndex.settled();
  const searcher = await memoryIndex.lookup(id, space, vocabulary.dims, await stampOf());
  if (!searcher) throw new Error("the memory index did not load the user");
  const random = rng(user.no * 104729);
  const out: RecallResult[] = [];
  for (const kind of ["memory", "fewShot"] as const) {
    const k = kind === "memory" ? 5 : 3;
    const minRating = kind === "memory" ? null : 4;
    const paths = {
      database: { found: 0, expected: 0, simFound: 0, simExpected: 0, latencies: [] as number[] },
      index: { found: 0, expected: 0, simFound: 0, simExpected: 0, latencies: [] as number[] },
    };
    const start = performance.now();
    for (let q = 0; q < queries; q++) {
      if (q >= 5 && performance.now() - start > maxMs) break;
      const vector = vocabulary.embed(vocabulary.message(user.no, random));
      let t0 = performance.now();
      const fromDatabase = await nearestExchanges(db, {
        userId: id,
        space,
        vector,
        limit: k,
        ...(minRating ? { minRating } : {}),
      });
      paths.database.latencies.push(performance.now() - t0);
      t0 = performance.now();
      const fromIndex = searcher.nearest(vector, k, minRating ?? undefined);
      paths.index.latencies.push(performance.now() - t0);
      // "+ 0" keeps any index on the distance expression out of the ground truth.
      const exact = await db.$queryRawUnsafe<Array<{ id: bigint; s: number }>>(
        `SELECT "id", 1 - (("embedding" <=> $1::vector) + 0) AS s FROM "Exchange"
         WHERE "userId" = $2::uuid AND "embeddingModel" = $3 AND "embedding" IS NOT NULL AND "status" = 'answered'
           AND ($4::int IS NULL OR "rating" >= $4::int)
         ORDER BY ("embedding" <=> $1::vector) + 0 LIMIT ${k}`,
        `[${vector.join(",")}]`,
        id,
        space,
        minRating,
      );
      const kth = exact.at(-1)?.s ?? 0;
      const exactIds = new Set(exact.map((e) => String(e.id)));
      for (const [path, got] of [
        ["database", fromDatabase],
        ["index", fromIndex],
      ] as const) {
        const p = paths[path];
        p.expected += exact.length;
        p.simExpected += exact.reduce((s, e) => s + Number(e.s), 0);
        for (const g of got) {
          if (exactIds.has(String(g.id)) || g.similarity >= Number(kth) - 1e-6) p.found++;
          p.simFound += g.similarity;
        }
      }
    }
    for (const path of ["database", "index"] as const) {
      const p = paths[path];
      out.push({
        history: user.history,
        users,
        kind,
        path,
        k,
        queries: p.latencies.length,
        recall: p.expected ? Math.round((Math.min(p.found, p.expected) / p.expected) * 1000) / 1000 : 1,
        similarityRatio: p.simExpected ? Math.round((p.simFound / p.simExpected) * 1000) / 1000 : 1,
        latency: summarize(p.latencies),
      });
    }
  }
  return out;
}
