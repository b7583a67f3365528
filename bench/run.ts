// `npm run bench`: the cost of our own work, with every provider answering instantly in-process.
//
//   npm run bench                  full matrix, embedded database and a Postgres server in one run
//                                  (the server: DATABASE_URL, or the shared one scripts/pgvector-server.sh
//                                  starts, in a database of the bench's own)
//   BENCH_QUICK=1 npm run bench    smaller matrix (no 50k history, 10k users at most), for a quick look
//   BENCH_WIDTHS=256 npm run bench embedding widths to measure (default 1536,256)
//   BENCH_ANN=1 npm run bench      also evaluate an HNSW index (what it would cost and return)
//   DATABASE_URL=... npm run bench against that Postgres (it must hold no bot data)
//   BENCH_TARGETS=postgres         only some of the databases (embedded, postgres)
//   BENCH_MEMORY_INDEX_MB=512      the in-process memory index's budget (MEMORY_INDEX_MB)
//   BENCH_HISTORIES=50000          only these replying users' histories (comma-separated)
//   BENCH_DEFAULT_TOAST=1          without the TOAST target of migration 20261121020000 (to compare)
//   BENCH_LOAD=0                   without the load test (bench/load.ts; `npm run bench:load` alone)
//
// Progress goes to stderr, the tables to stdout, everything to bench-results/latest.json.
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { type AnnResults, annSuite } from "./ann.ts";
import { openBench, serverForBench, type TargetKind } from "./db.ts";
import {
  type DatasetResults,
  datasetSuite,
  type RatingResults,
  type ReadinessResults,
  ratingSuite,
  readinessSuite,
} from "./jobs.ts";
import { type LoadResults, loadSuite, loadTables, loadTargetsFromEnv, loadVerdicts } from "./load.ts";
import { databaseFacts, machineFacts } from "./machine.ts";
import { type ReplyResults, replySuite } from "./reply.ts";
import { formatRetrieval, retrievalSuite } from "./retrieval.ts";
import { fmt, memoryWatch, table } from "./stats.ts";

const quick = process.env.BENCH_QUICK === "1";
const widths = (process.env.BENCH_WIDTHS ?? "1536,256").split(",").map((w) => Number.parseInt(w, 10));
const withAnn = process.env.BENCH_ANN === "1";

const config = quick
  ? {
      histories: [1_000, 10_000],
      userCounts: [10, 1_000],
      othersHistory: 3,
      samples: 60,
      warmup: 8,
      maxCellMs: 2_500,
      minSamples: 20,
      recallQueries: 15,
      readinessUsers: [1_000, 10_000],
      readinessRuns: 2,
      datasetSizes: [1_000],
      ratingEvents: 300,
    }
  : {
      histories: [1_000, 10_000, 50_000],
      userCounts: [10, 10_000],
      othersHistory: 3,
      samples: 200,
      warmup: 15,
      maxCellMs: 4_000,
      minSamples: 20,
      recallQueries: 25,
      readinessUsers: [1_000, 10_000, 100_000],
      readinessRuns: 3,
      datasetSizes: [1_000, 10_000],
      ratingEvents: 2_000,
    };

if (process.env.BENCH_HISTORIES)
  config.histories = process.env.BENCH_HISTORIES.split(",").map((h) => Number.parseInt(h, 10));

const TARGETS = { replyP95Ms: 20, reply50kP95Ms: 40, readinessMs: 100, datasetPerThousandMs: 1_000 };

interface TargetResults {
  kind: TargetKind;
  database: { server: string; pgvector: string };
  widths: ReplyResults[];
  ann?: AnnResults;
  ratings?: RatingResults;
  readiness?: ReadinessResults;
}

const progress = (line: string) => process.stderr.write(`${line}\n`);
const started = performance.now();
const machine = machineFacts();
const memory = memoryWatch();

async function runTarget(kind: TargetKind): Promise<TargetResults> {
  let database = { server: "", pgvector: "" };
  const results: ReplyResults[] = [];
  let ratings: RatingResults | undefined;
  let ann: AnnResults | undefined;
  for (const width of widths) {
    progress(`${kind}: replies at width ${width}`);
    const bench = await openBench(kind, serverUrl);
    try {
      database = await databaseFacts(bench.db);
      results.push(
        await replySuite(bench, {
          width,
          histories: config.histories,
          userCounts: config.userCounts,
          othersHistory: config.othersHistory,
          samples: config.samples,
          warmup: config.warmup,
          maxCellMs: config.maxCellMs,
          minSamples: config.minSamples,
          recallQueries: config.recallQueries,
          progress,
        }),
      );
      if (!ratings) {
        progress(`${kind}: rating events`);
        // The second replying user (the first when BENCH_HISTORIES names one).
        const ratedNo = Math.min(2, config.histories.length);
        ratings = await ratingSuite(bench, {
          userNo: ratedNo,
          history: config.histories[ratedNo - 1]!,
          maxEvents: config.ratingEvents,
          maxMs: quick ? 3_000 : 6_000,
        });
      }
      if (withAnn && width <= 512 && !ann) {
        progress(`${kind}: HNSW evaluation at width ${width}`);
        ann = await annSuite(bench, {
          width,
          histories: config.histories,
          queries: config.recallQueries,
          progress,
        });
      }
    } finally {
      await bench.close();
    }
  }
  progress(`${kind}: readiness job`);
  const bench = await openBench(kind, serverUrl);
  let readiness: ReadinessResults;
  try {
    readiness = await readinessSuite(bench, {
      userCounts: config.readinessUsers,
      runs: config.readinessRuns,
      progress,
    });
  } finally {
    await bench.close();
  }
  return { kind, database, widths: results, ...(ann ? { ann } : {}), ratings, readiness };
}

const wanted = (process.env.BENCH_TARGETS ?? "embedded,postgres")
  .split(",")
  .map((k) => k.trim()) as TargetKind[];
const server = wanted.includes("postgres") ? await serverForBench(progress) : undefined;
if (wanted.includes("postgres") && !server)
  progress(
    "no Postgres server (set DATABASE_URL, or have ../shared/scripts/postgres-pgvector.sh): embedded only",
  );
const serverUrl = server?.url;
const kinds = wanted.filter((k) => k !== "postgres" || server);
const targets: TargetResults[] = [];
let load: LoadResults[] = [];
try {
  for (const kind of kinds) targets.push(await runTarget(kind));
  // The load test on the same databases: the worker's, and the server while it is still there.
  if (process.env.BENCH_LOAD !== "0")
    load = await loadSuite({
      targets: loadTargetsFromEnv(Boolean(serverUrl)),
      mentions: quick ? 100 : 200,
      users: 50,
      progress,
      ...(serverUrl ? { serverUrl } : {}),
    });
} finally {
  await server?.release();
}
progress("dataset build and token count");
const dataset: DatasetResults = datasetSuite({ sizes: config.datasetSizes, runs: quick ? 1 : 2 });
memory.stop();
machine.loadAverageEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
const peakMemoryMb = memory.peakMb();
const elapsedSeconds = Math.round((performance.now() - started) / 1000);

// ---------------------------------------------------------------------------------------------
// Verdicts against the targets (embedded database)

interface Verdict {
  target: string;
  measured: string;
  met: boolean;
}
const verdicts: Verdict[] = [];
for (const t of targets) {
  for (const r of t.widths) {
    for (const [history, limit] of [
      [10_000, TARGETS.replyP95Ms],
      [50_000, TARGETS.reply50kP95Ms],
    ] as const) {
      const at = r.cells.filter((c) => c.history === history);
      if (!at.length) continue;
      const worst = Math.max(...at.map((c) => c.full.p95));
      verdicts.push({
        target: `${t.kind}: reply overhead p95 < ${limit} ms, ${history / 1000}k exchanges, width ${r.width}`,
        measured: `${at.map((c) => `${fmt(c.full.p95)} (${c.users.toLocaleString("en")} users)`).join(", ")} ms`,
        met: worst < limit,
      });
    }
    for (const x of r.recall.filter((x) => x.kind === "memory" && x.path === "index"))
      verdicts.push({
        target: `${t.kind}: recall@5 >= 0.98 against exact search, width ${r.width}, ${x.history.toLocaleString("en")} exchanges`,
        measured: x.recall.toFixed(3),
        met: x.recall >= 0.98,
      });
    const at10k = r.cells.filter((c) => c.history === 10_000);
    if (at10k.length < 2) continue;
    const few = at10k[0]!;
    const many = at10k.at(-1)!;
    // "Not growing": CPU time per reply, which other work on the machine disturbs least, within 20%.
    const growth = many.fullCpu.p50 / few.fullCpu.p50;
    verdicts.push({
      target: `${t.kind}: not growing with other users (width ${r.width}, 10k exchanges, CPU p50 within 20%)`,
      measured: `${fmt(few.fullCpu.p50)} ms (${few.users} users) -> ${fmt(many.fullCpu.p50)} ms (${many.users.toLocaleString("en")} users), x${growth.toFixed(2)}`,
      met: growth <= 1.2,
    });
  }
  const lastReadiness = t.readiness?.stages.at(-1);
  if (lastReadiness)
    verdicts.push({
      target: `${t.kind}: readiness job < ${TARGETS.readinessMs} ms with ${lastReadiness.users.toLocaleString("en")} users (nothing to propose)`,
      measured: `${fmt(lastReadiness.idleMs)} ms; with 3 offers to make ${fmt(lastReadiness.medianMs)} ms`,
      met: lastReadiness.idleMs < TARGETS.readinessMs,
    });
}
for (const d of dataset.sizes)
  verdicts.push({
    target: `dataset build + exact token count < ${TARGETS.datasetPerThousandMs} ms per 1k examples (${d.examples.toLocaleString("en")})`,
    measured: `${fmt(d.perThousandMs)} ms per 1k`,
    met: d.perThousandMs < TARGETS.datasetPerThousandMs,
  });

verdicts.push(...loadVerdicts(load));

// ---------------------------------------------------------------------------------------------
// Tables

const out: string[] = [];
const say = (s = "") => out.push(s);
say(`Benchmark (${quick ? "quick" : "full"} run, ${elapsedSeconds} s)`);
say(
  `Machine: ${machine.cpuModel}, ${machine.cpus} CPUs, ${machine.memoryGb} GB, ${machine.os}, Node ${machine.node}, PGlite ${machine.pglite}, Prisma ${machine.prisma}`,
);
say(
  `Load average (1/5/15 min): ${machine.loadAverageStart.join("/")} at start, ${machine.loadAverageEnd.join("/")} at end`,
);
for (const t of targets) {
  say();
  say(`== ${t.kind} database: ${t.database.server.split(",")[0]}, pgvector ${t.database.pgvector}`);
  for (const r of t.widths) {
    say();
    say(
      `Reply overhead, width ${r.width} (${r.totalExchanges.toLocaleString("en")} exchanges, ${r.exchangeTableMb} MB, replies of ${r.meanReplyChars} characters on average, ${r.embeddingsOutOfLine === null ? "?" : `${Math.round(r.embeddingsOutOfLine * 100)}%`} of embeddings out of line in TOAST; loaded in ${r.loadSeconds} s). ms per reply; "sql" = the same with the in-process memory index off (every search in the database).`,
    );
    say(
      table(
        [
          "history",
          "users",
          "p50",
          "p95",
          "p99",
          "n",
          "cpu p50",
          "sql p50",
          "sql p95",
          "x p50",
          "x p95",
          "mem/few",
        ],
        r.cells.map((c) => [
          c.history.toLocaleString("en"),
          c.users.toLocaleString("en"),
          fmt(c.full.p50),
          fmt(c.full.p95),
          fmt(c.full.p99),
          c.full.n,
          fmt(c.fullCpu.p50),
          fmt(c.off.p50),
          fmt(c.off.p95),
          c.ratioP50.toFixed(2),
          c.ratioP95.toFixed(2),
          `${c.memoryUsed}/${c.fewShotUsed}`,
        ]),
      ),
    );
    say();
    say(`Retrieval against exact search, width ${r.width} (${r.recall[0]?.queries ?? 0} queries each)`);
    say(
      table(
        ["history", "kind", "path", "k", "recall@k", "similarity", "p50 ms", "p95 ms"],
        r.recall.map((x) => [
          x.history.toLocaleString("en"),
          x.kind,
          x.path,
          x.k,
          x.recall.toFixed(3),
          x.similarityRatio.toFixed(3),
          fmt(x.latency.p50),
          fmt(x.latency.p95),
        ]),
      ),
    );
    say(
      `Loading a user's vectors into the index (in the background of their first reply): ${r.indexLoads
        .map((l) => `${l.history.toLocaleString("en")} exchanges ${fmt(l.ms)} ms`)
        .filter((x, i, all) => all.indexOf(x) === i)
        .slice(0, 6)
        .join(", ")}`,
    );
    say();
    say(
      `Where a reply's time goes, width ${r.width}, ${r.breakdown.history.toLocaleString("en")} exchanges, ${r.breakdown.users.toLocaleString("en")} users (mean overhead ${fmt(r.breakdown.overheadMs)} ms, instrumented)`,
    );
    const dbTotal = r.breakdown.rows.reduce((s, x) => s + x.msPerReply, 0);
    say(
      table(
        ["database call", "per reply", "median ms", "ms per reply"],
        [
          ...r.breakdown.rows.map((x) => [x.operation, x.callsPerReply, fmt(x.medianMs), fmt(x.msPerReply)]),
          ["(all database calls)", "", "", fmt(dbTotal)],
        ],
      ),
    );
  }
  if (t.ann) {
    say();
    say(
      `HNSW evaluated (not used by the bot), width ${t.ann.width}: m=${t.ann.m}, ef_construction=${t.ann.efConstruction}, build ${t.ann.buildSeconds} s for ${t.ann.rows.toLocaleString("en")} rows; storing an embedding ${fmt(t.ann.storeMs.without)} -> ${fmt(t.ann.storeMs.with)} ms`,
    );
    say(
      table(
        ["history", "kind", "ef_search", "recall@k", "similarity", "ann p50", "exact p50"],
        t.ann.results.map((x) => [
          x.history.toLocaleString("en"),
          x.kind,
          x.efSearch,
          x.recall.toFixed(3),
          x.similarityRatio.toFixed(3),
          fmt(x.annMs.p50),
          fmt(x.exactMs.p50),
        ]),
      ),
    );
  }
  if (t.ratings) {
    say();
    say(
      `Rating events: ${t.ratings.perSecond} per second (${t.ratings.events} events, one at a time; p50 ${fmt(t.ratings.latency.p50)} ms, p95 ${fmt(t.ratings.latency.p95)} ms)`,
    );
  }
  if (t.readiness) {
    say();
    say(
      "Readiness job (3 users newly ready each run; the rest: 90% below the threshold, 10% over it but blocked or busy)",
    );
    say(
      table(
        ["users", "over threshold", "proposed", "runs ms", "median ms", "nothing to propose ms"],
        t.readiness.stages.map((s) => [
          s.users.toLocaleString("en"),
          s.overThreshold.toLocaleString("en"),
          s.proposed,
          s.runsMs.map(fmt).join(" / "),
          fmt(s.medianMs),
          fmt(s.idleMs),
        ]),
      ),
    );
    say(
      '"nothing to propose": the job right after, when every candidate has an offer: finding candidates among all users.',
    );
    const p = t.readiness.propose1k;
    say(
      `propose() for one user with ${p.examples} usable examples (read, build, count, estimate, store): ${p.runsMs.map(fmt).join(" / ")} ms`,
    );
  }
}
say();
say("Dataset build and exact token count (OpenAI format, o200k_base), in-process");
say(
  table(
    ["examples", "kept", "tokens", "build ms", "count ms", "ms per 1k"],
    dataset.sizes.map((d) => [
      d.examples.toLocaleString("en"),
      d.kept.toLocaleString("en"),
      d.tokens.toLocaleString("en"),
      fmt(d.buildMs),
      fmt(d.estimateMs),
      fmt(d.perThousandMs),
    ]),
  ),
);
if (load.length) {
  say();
  for (const line of loadTables(load)) say(line);
}
say();
say(`Peak memory (RSS): ${peakMemoryMb} MB`);
say();
// The server against the embedded database, cell by cell.
const emb = targets.find((t) => t.kind === "embedded");
const srv = targets.find((t) => t.kind === "postgres");
if (emb && srv) {
  say("Postgres server / embedded database (p95 ratio; < 1: the server is faster)");
  const rows: string[][] = [];
  for (const r of emb.widths) {
    const s2 = srv.widths.find((w) => w.width === r.width);
    for (const c of r.cells) {
      const d = s2?.cells.find((x) => x.history === c.history && x.users === c.users);
      if (d)
        rows.push([
          String(r.width),
          c.history.toLocaleString("en"),
          c.users.toLocaleString("en"),
          `${fmt(c.full.p95)} / ${fmt(d.full.p95)}`,
          (d.full.p95 / c.full.p95).toFixed(2),
          (d.off.p95 / c.off.p95).toFixed(2),
        ]);
    }
  }
  say(table(["width", "history", "users", "p95 embedded / server", "ratio", "sql ratio"], rows));
  say();
}
// Retrieval quality on the written conversation set (in memory, a few seconds).
const retrieval = retrievalSuite();
say(formatRetrieval(retrieval));
say();
say("Targets (per database; the load test's for each database it ran on)");
say(
  table(
    ["target", "measured", "met"],
    verdicts.map((v) => [v.target, v.measured, v.met ? "yes" : "NO"]),
  ),
);
process.stdout.write(`${out.join("\n")}\n`);

const dir = join(process.cwd(), "bench-results");
mkdirSync(dir, { recursive: true });
const file = join(dir, "latest.json");
writeFileSync(
  file,
  `${JSON.stringify(
    {
      generatedAt: new Date().toISOString(),
      quick,
      elapsedSeconds,
      machine,
      config: { ...config, widths, targets: TARGETS },
      verdicts,
      targets,
      dataset,
      load,
      retrieval,
      peakMemoryMb,
    },
    null,
    2,
  )}\n`,
);
process.stderr.write(`wrote ${file}\n`);
