// Everything but replies: rating events per second, the readiness job over 1k-100k users, and the
// fine-tuning dataset build plus its exact token count.
import { createBudgets } from "../src/core/budgets.ts";
import { estimateCost } from "../src/core/fine-tune/cost-estimate.ts";
import { buildDataset, type DatasetSource } from "../src/core/fine-tune/dataset.ts";
import { createFineTuneLifecycle } from "../src/core/fine-tune/lifecycle.ts";
import type { Clock, Logger } from "../src/core/ports.ts";
import { createPrivacyFilter } from "../src/core/privacy-filter.ts";
import { DEFAULT_RATING_EMOJI } from "../src/core/rating-emoji.ts";
import { createRatings } from "../src/core/ratings.ts";
import {
  createVocabularyTables,
  EMBEDDING_MODEL,
  insertExchanges,
  insertUsers,
  refreshCounters,
  userId,
  Vocabulary,
} from "./data.ts";
import type { OpenBench } from "./db.ts";
import { benchFineTuneProvider, CountingNotifier } from "./provider.ts";
import { rng } from "./random.ts";
import { type Summary, summarize } from "./stats.ts";

const SYSTEM_PROMPT =
  "You are a helpful assistant in a team chat. Answer concisely and adapt to the person you are talking to.";

function silentLogger(): Logger {
  const log: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => log };
  return log;
}

const fixedClock = (iso: string): Clock => ({ now: () => new Date(iso) });

// ---------------------------------------------------------------------------------------------
// Ratings

export interface RatingResults {
  events: number;
  seconds: number;
  perSecond: number;
  latency: Summary;
}

/**
 * Reactions on one user's replies, as the adapters deliver them: mostly new ratings, some changed
 * or removed, each with a delivery id. One at a time, as one process handles them.
 */
export async function ratingSuite(
  { db }: OpenBench,
  o: { userNo: number; history: number; maxEvents: number; maxMs: number },
): Promise<RatingResults> {
  const ratings = createRatings({
    db,
    clock: fixedClock("2026-11-21T12:00:00Z"),
    log: silentLogger(),
    ratingMap: DEFAULT_RATING_EMOJI,
    minRating: 4,
  });
  const emoji = ["👍", "👍", "5️⃣", "4️⃣", "3️⃣", "👎"];
  const random = rng(4242);
  const added: Array<{ n: number; e: string }> = [];
  const latencies: number[] = [];
  const start = performance.now();
  for (let i = 0; i < o.maxEvents && performance.now() - start < o.maxMs; i++) {
    const remove = added.length > 0 && random() < 0.2;
    const pick = remove
      ? added.splice(Math.floor(random() * added.length), 1)[0]!
      : { n: 1 + Math.floor(random() * o.history), e: emoji[Math.floor(random() * emoji.length)]! };
    const t0 = performance.now();
    const outcome = await ratings.react({
      platform: "discord",
      messageId: `bench-reply-${o.userNo}-${pick.n}`,
      reactorExternalId: `discord:bench-${o.userNo}`,
      emoji: pick.e,
      action: remove ? "remove" : "add",
      eventKey: `bench-rating-${i}`,
    });
    latencies.push(performance.now() - t0);
    if (outcome.kind === "ignored" && outcome.reason !== "no_change")
      throw new Error(`rating ignored: ${outcome.reason}`);
    if (!remove && outcome.kind === "rated") added.push(pick);
  }
  const seconds = (performance.now() - start) / 1000;
  return {
    events: latencies.length,
    seconds: Math.round(seconds * 100) / 100,
    perSecond: Math.round(latencies.length / seconds),
    latency: summarize(latencies),
  };
}

// ---------------------------------------------------------------------------------------------
// Readiness

export interface ReadinessStage {
  users: number;
  /** Users at or over the threshold that the job has to look at (declined, busy, opted out, ready). */
  overThreshold: number;
  proposed: number;
  runsMs: number[];
  medianMs: number;
  /**
   * The job when there is nobody to propose to (right after the runs above, every candidate has an
   * offer): the cost of finding the candidates among all users, without the per-candidate work.
   */
  idleMs: number;
}

export interface ReadinessResults {
  stages: ReadinessStage[];
  /** propose() for one user with ~1k ready examples: read, build, count, estimate, store. */
  propose1k: { examples: number; runsMs: number[]; medianMs: number };
}

const FRESH = 3; // users 1..3: newly ready, so every run proposes to them
const BIG = 4; // user 4: ~1k ready examples

/**
 * The hourly readiness job over 1k, 10k and 100k users. Counters follow a plausible mix: 90% below
 * the threshold, 6% over it but blocked by a decline, 3% with an offer pending, 1% training, 0.1%
 * opted out, plus three users who just became ready (proposed to on every run, then reset).
 */
export async function readinessSuite(
  bench: OpenBench,
  o: { userCounts: number[]; runs: number; progress: (line: string) => void },
): Promise<ReadinessResults> {
  const { db } = bench;
  const vocabulary = new Vocabulary(64);
  await createVocabularyTables(bench, vocabulary);
  const space = `${EMBEDDING_MODEL}@64`;
  await insertUsers(db, 1, BIG);
  await insertExchanges(db, { fromNo: 1, toNo: FRESH, perUser: 1_000, space });
  await insertExchanges(db, { fromNo: BIG, toNo: BIG, perUser: 7_200, space });
  await refreshCounters(db, 1, BIG);
  const fresh = await Promise.all([1, 2, 3].map((n) => userId(db, n)));
  const big = await userId(db, BIG);

  const notifier = new CountingNotifier();
  const lifecycle = createFineTuneLifecycle({
    db,
    clock: fixedClock("2026-11-21T12:00:00Z"),
    log: silentLogger(),
    budgets: createBudgets({ db, clock: fixedClock("2026-11-21T12:00:00Z") }),
    provider: benchFineTuneProvider(),
    notifiers: { discord: notifier },
    privacy: createPrivacyFilter(),
    settings: {
      baseModel: "gpt-4.1-mini-2025-04-14",
      threshold: 100,
      minRating: 4,
      epochs: "auto",
      pricePer1MTokens: 5,
      minReplyChars: 20,
      proposalTtlHours: 72,
      declineCooldown: 50,
      systemPrompt: SYSTEM_PROMPT,
      retirementNoticeDays: 30,
    },
  });
  const clear = async (ids: string[]) => {
    await db.$executeRawUnsafe(
      `DELETE FROM "FineTuneProposal" WHERE "userId" = ANY($1::uuid[]) AND "state" = 'pending'`,
      ids,
    );
  };

  // The big user's offer stays pending afterwards, so the readiness runs skip them (busy).
  const proposeRuns: number[] = [];
  let examples = 0;
  for (let run = 0; run < o.runs; run++) {
    await clear([big]);
    const t0 = performance.now();
    const r = await lifecycle.propose(big, "requested");
    proposeRuns.push(Math.round((performance.now() - t0) * 10) / 10);
    if (!r.ok) throw new Error(`propose failed: ${r.text}`);
    const p = await db.fineTuneProposal.findUniqueOrThrow({ where: { id: r.proposalId } });
    examples = p.examples;
  }
  const stages: ReadinessStage[] = [];
  let users = BIG;
  for (const target of o.userCounts) {
    if (target > users) {
      o.progress(`  adding users ${users + 1}..${target}`);
      await addReadinessUsers(db, users + 1, target);
      users = target;
    }
    if (bench.kind === "postgres") await db.$executeRawUnsafe("ANALYZE");
    const runsMs: number[] = [];
    let proposed = 0;
    for (let run = 0; run < o.runs; run++) {
      await clear(fresh);
      const t0 = performance.now();
      proposed = (await lifecycle.readiness()).proposed;
      runsMs.push(Math.round((performance.now() - t0) * 10) / 10);
    }
    if (proposed !== FRESH) throw new Error(`readiness proposed ${proposed}, expected ${FRESH}`);
    const over = await db.$queryRawUnsafe<Array<{ n: bigint }>>(
      `SELECT count(*) AS n FROM "User" WHERE "readyCount" >= 100`,
    );
    const idle: number[] = [];
    for (let run = 0; run < o.runs; run++) {
      const t0 = performance.now();
      const again = (await lifecycle.readiness()).proposed;
      idle.push(performance.now() - t0);
      if (again !== 0) throw new Error(`readiness proposed ${again} while every candidate had an offer`);
    }
    await clear(fresh);
    const sorted = [...runsMs].sort((a, b) => a - b);
    stages.push({
      users,
      overThreshold: Number(over[0]?.n ?? 0),
      proposed,
      runsMs,
      medianMs: sorted[Math.floor(sorted.length / 2)]!,
      idleMs: Math.round(idle.sort((a, b) => a - b)[Math.floor(idle.length / 2)]! * 10) / 10,
    });
    o.progress(`  readiness, ${users} users: ${runsMs.join(" / ")} ms`);
  }

  await clear([...fresh, big]);
  const sorted = [...proposeRuns].sort((a, b) => a - b);
  return {
    stages,
    propose1k: { examples, runsMs: proposeRuns, medianMs: sorted[Math.floor(sorted.length / 2)]! },
  };
}

async function addReadinessUsers(db: OpenBench["db"], from: number, to: number): Promise<void> {
  await insertUsers(db, from, to);
  // Counters by user number: no % 1000 = 7 opted out (over the threshold), then by no % 100:
  // 0-89 below, 90-95 declined (blocked), 96-98 offer pending, 99 training.
  await db.$executeRawUnsafe(`
    UPDATE "User" u SET
      "readyCount" = CASE WHEN b."no" % 1000 = 7 THEN 150 WHEN b."no" % 100 < 90 THEN b."no" % 97 ELSE 100 + b."no" % 40 END,
      "highRatedCount" = CASE WHEN b."no" % 100 < 90 THEN b."no" % 97 ELSE 100 + b."no" % 40 END,
      "proposalBlockedUntilReady" = CASE WHEN b."no" % 100 BETWEEN 90 AND 95 THEN 150 + b."no" % 40 ELSE 0 END,
      "optedOut" = (b."no" % 1000 = 7)
    FROM "_bench_user" b WHERE b."id" = u."id" AND b."no" BETWEEN ${from} AND ${to}`);
  const proposal = (state: string) => `
    INSERT INTO "FineTuneProposal" ("id", "userId", "state", "origin", "provider", "baseModel", "examples",
      "trainExamples", "validationExamples", "tokens", "epochs", "redactions", "drops", "estimatedCostUsd",
      "estimatedSeconds", "trainJsonl", "datasetSha256", "expiresAt")
    SELECT gen_random_uuid(), b."id", '${state}', 'scheduled', 'openai', 'gpt-4.1-mini-2025-04-14', 120, 108, 12,
      60000, 3, 0, '{}'::jsonb, 0.9, 1800, '', 'bench', timestamp '2026-11-24'
    FROM "_bench_user" b
    WHERE b."no" BETWEEN ${from} AND ${to} AND b."no" % 1000 <> 7`;
  await db.$executeRawUnsafe(`${proposal("pending")} AND b."no" % 100 BETWEEN 96 AND 98`);
  await db.$executeRawUnsafe(`
    WITH p AS (${proposal("approved")} AND b."no" % 100 = 99 RETURNING "id", "userId")
    INSERT INTO "FineTuneJob" ("id", "proposalId", "userId", "provider", "baseModel", "state", "estimatedCostUsd", "updatedAt")
    SELECT gen_random_uuid(), p."id", p."userId", 'openai', 'gpt-4.1-mini-2025-04-14', 'running', 0.9, now() FROM p`);
}

// ---------------------------------------------------------------------------------------------
// Dataset build and token count

export interface DatasetResults {
  sizes: Array<{
    examples: number;
    kept: number;
    tokens: number;
    buildMs: number;
    estimateMs: number;
    /** (build + estimate) per 1,000 examples. */
    perThousandMs: number;
  }>;
}

/** Ready examples as the lifecycle reads them: realistic lengths, 3% with personal data, 2% repeats. */
function datasetSources(count: number, vocabulary: Vocabulary): DatasetSource[] {
  const random = rng(count);
  const sources: DatasetSource[] = [];
  for (let i = 0; i < count; i++) {
    let userText = vocabulary.message(i % 50, random);
    if (i % 50 === 7 && i > 0) userText = sources[i - 7]!.userText; // a repeated prompt
    if (i % 33 === 5)
      userText += ` mail me at person${i}@example.com or call +1 415 555 ${String(1000 + (i % 9000))}`;
    const reply = [0, 1, 2, 3]
      .map(() => `${vocabulary.message(i % 50, random)}.`)
      .join(" ")
      .replace(/^./, (c) => c.toUpperCase());
    sources.push({
      id: BigInt(i + 1),
      userText,
      replyText: `Here is what I would do. ${reply} Let me know if you want more detail on any of it.`,
      status: "answered",
      rating: 4 + (i % 2),
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)),
    });
  }
  return sources;
}

export function datasetSuite(o: { sizes: number[]; runs: number }): DatasetResults {
  const vocabulary = new Vocabulary(16);
  const privacy = createPrivacyFilter();
  const out: DatasetResults["sizes"] = [];
  for (const size of o.sizes) {
    const sources = datasetSources(size, vocabulary);
    let best: DatasetResults["sizes"][number] | undefined;
    for (let run = 0; run < o.runs; run++) {
      const t0 = performance.now();
      const dataset = buildDataset(sources, {
        provider: "openai",
        systemPrompt: SYSTEM_PROMPT,
        minReplyChars: 20,
        privacy,
      });
      const t1 = performance.now();
      const estimate = estimateCost({
        provider: "openai",
        trainJsonl: dataset.trainJsonl,
        examples: dataset.stats.trainExamples,
        epochs: "auto",
        pricePer1MTokens: 5,
      });
      const t2 = performance.now();
      if (estimate.tokensPerEpoch !== dataset.stats.tokens) throw new Error("token counts disagree");
      const result = {
        examples: size,
        kept: dataset.stats.examples,
        tokens: dataset.stats.tokens,
        buildMs: Math.round((t1 - t0) * 10) / 10,
        estimateMs: Math.round((t2 - t1) * 10) / 10,
        perThousandMs: Math.round(((t2 - t0) / (size / 1000)) * 10) / 10,
      };
      // The best of a few runs: the first includes the tokenizer's and regexes' warm-up.
      if (!best || result.perThousandMs < best.perThousandMs) best = result;
    }
    out.push(best!);
  }
  return { sizes: out };
}
