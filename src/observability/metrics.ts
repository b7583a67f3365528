// Prometheus metrics. Counters and histograms are fed by wrapping the assistant and the LLM
// provider (so the core stays free of metrics code); proposals, jobs and spend are read from the
// database when Prometheus scrapes, so every replica reports the same truth.
import client from "prom-client";
import type { Budgets } from "../core/budgets.ts";
import { ratingsByLevel } from "../core/evaluation/ratings-by-level.ts";
import type { Assistant, LlmProvider } from "../core/ports.ts";
import { ProviderError } from "../core/ports.ts";
import type { Database } from "../database/open-database.ts";

export function createMetrics(deps: { db: Database; budgets: Budgets }) {
  const registry = new client.Registry();
  const replies = new client.Counter({
    name: "bot_replies_total",
    help: "Messages handled, by platform and outcome (reply, failed, duplicate, rejected, interrupted, busy).",
    labelNames: ["platform", "outcome"],
    registers: [registry],
  });
  const replySeconds = new client.Histogram({
    name: "bot_reply_duration_seconds",
    help: "Time from a message reaching the core to its answer being ready, provider calls included.",
    labelNames: ["platform"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [registry],
  });
  const providerSeconds = new client.Histogram({
    name: "bot_provider_request_duration_seconds",
    help: "LLM provider calls (one attempt each), by provider and operation.",
    labelNames: ["provider", "operation"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [registry],
  });
  const providerErrors = new client.Counter({
    name: "bot_provider_errors_total",
    help: "LLM provider errors, by provider, operation and HTTP status (network for none).",
    labelNames: ["provider", "operation", "status"],
    registers: [registry],
  });
  const ratings = new client.Counter({
    name: "bot_ratings_total",
    help: "Reaction events, by outcome (rated, or why they were ignored).",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const outcomes = new client.Counter({
    name: "bot_outcomes_total",
    help: "Answers to commands and button clicks, by outcome code (src/core/messages.ts lists them).",
    labelNames: ["code"],
    registers: [registry],
  });
  new client.Gauge({
    name: "bot_fine_tune_proposals",
    help: "Fine-tune proposals by state.",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await deps.db.fineTuneProposal.groupBy({ by: ["state"], _count: { _all: true } });
      for (const r of rows) this.set({ state: r.state }, r._count._all);
    },
  });
  new client.Gauge({
    name: "bot_fine_tune_jobs",
    help: "Fine-tune jobs by state.",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await deps.db.fineTuneJob.groupBy({ by: ["state"], _count: { _all: true } });
      for (const r of rows) this.set({ state: r.state }, r._count._all);
    },
  });
  // Does it learn: rated replies and their mean rating by personalisation level, trial arm and
  // holdout (README, "Reading the lift"). Computed from the exchanges at each scrape.
  const ratingLabels = ["level", "arm", "holdout"];
  const ratingGauge = (name: string, help: string, value: (r: { n: number; mean: number }) => number) =>
    new client.Gauge({
      name,
      help,
      labelNames: ratingLabels,
      registers: [registry],
      async collect() {
        this.reset();
        for (const r of await ratingsByLevel(deps.db))
          this.set({ level: r.level, arm: r.arm ?? "none", holdout: String(r.holdout) }, value(r));
      },
    });
  ratingGauge(
    "bot_rated_replies",
    "Rated replies by personalisation level (base, memory, few_shot, own_model), trial arm (none, incumbent, candidate) and holdout.",
    (r) => r.n,
  );
  ratingGauge(
    "bot_rating_mean",
    "Mean rating (1-5) of rated replies by personalisation level, trial arm and holdout; bot_rated_replies holds the counts.",
    (r) => r.mean,
  );
  new client.Gauge({
    name: "bot_spend_usd",
    help: "Spend this period: training this month (reserved + settled), chat this month and today.",
    labelNames: ["kind"],
    registers: [registry],
    async collect() {
      const { total } = await deps.budgets.spend();
      this.set({ kind: "training_month" }, total.trainingReservedUsd + total.trainingSettledUsd);
      this.set({ kind: "chat_month" }, total.chatMonthUsd);
      this.set({ kind: "chat_today" }, total.chatTodayUsd);
    },
  });
  new client.Gauge({
    name: "bot_limit_usd",
    help: "Admin spending limits (absent when unlimited).",
    labelNames: ["limit"],
    registers: [registry],
    async collect() {
      this.reset();
      const limits = await deps.budgets.getLimits();
      if (limits.trainingTotalMonthUsd !== null)
        this.set({ limit: "training_total_month" }, limits.trainingTotalMonthUsd);
      if (limits.trainingPerUserMonthUsd !== null)
        this.set({ limit: "training_user_month" }, limits.trainingPerUserMonthUsd);
      if (limits.chatPerDayUsd !== null) this.set({ limit: "chat_day" }, limits.chatPerDayUsd);
    },
  });

  function instrumentProvider(p: LlmProvider): LlmProvider {
    const timed = async <T>(operation: string, fn: () => Promise<T>): Promise<T> => {
      const end = providerSeconds.startTimer({ provider: p.name, operation });
      try {
        return await fn();
      } catch (e) {
        const status = e instanceof ProviderError ? String(e.status ?? "network") : "error";
        providerErrors.inc({ provider: p.name, operation, status });
        throw e;
      } finally {
        end();
      }
    };
    return {
      name: p.name,
      chat: (r) => timed("chat", () => p.chat(r)),
      embed: (r) => timed("embed", () => p.embed(r)),
    };
  }

  /** Every other method of the assistant whose answer is an outcome is counted by its code. */
  function countOutcomes<A extends Assistant>(a: A): A {
    const counted: Record<string, unknown> = {};
    for (const [name, method] of Object.entries(a)) {
      counted[name] =
        typeof method === "function"
          ? async (...args: unknown[]) => {
              const result = await method(...args);
              const code = (result as { code?: unknown } | undefined)?.code;
              if (typeof code === "string") outcomes.inc({ code });
              return result;
            }
          : method;
    }
    return counted as unknown as A;
  }

  function instrumentAssistant<A extends Assistant>(a: A): A {
    return {
      ...countOutcomes(a),
      async mention(input, options) {
        const end = replySeconds.startTimer({ platform: input.user.platform });
        const result = await a.mention(input, options);
        end();
        const outcome = result.kind === "reply" ? (result.failed ? "failed" : "reply") : result.kind;
        replies.inc({ platform: input.user.platform, outcome });
        // The busy answer is an outcome with a code like a command's (bot_outcomes_total{code}).
        if (result.kind === "busy") outcomes.inc({ code: result.code });
        return result;
      },
      async reaction(input) {
        const outcome = await a.reaction(input);
        ratings.inc({ outcome: outcome.kind === "rated" ? "rated" : outcome.reason });
        return outcome;
      },
    };
  }

  return { registry, instrumentProvider, instrumentAssistant };
}

export type Metrics = ReturnType<typeof createMetrics>;
