// Every text the core shows a person, in one file, so wording is reviewed (and one day translated) in
// one place and decision code never builds sentences: it picks an outcome code (outcomes.ts) or a
// notice, and the words come from here.
//
// Texts are plain Markdown (**bold**, `code`, • lists) that both platforms render; the adapters only
// convert it to their own markup. Nothing here reads the database or the clock: everything a text
// needs is passed in.
import type { LimitProblem, Limits, Spend, TrainingRefusal, TrainingRefusalReason } from "./budgets.ts";
import type { ArmFigures, CanaryBasis, CanaryFigures } from "./evaluation/canary-rule.ts";
import { hereLines, SERVER_CONFIG_OUTCOMES } from "./server-config-messages.ts";
import type { UserStatus } from "./status.ts";

// ---------------------------------------------------------------------------------------------
// Formatting for people

/** Dollars for people: cents, or four decimals for amounts under a cent (chat answers). */
export function formatUsd(amount: number): string {
  const digits = amount !== 0 && Math.abs(amount) < 0.01 ? 4 : 2;
  return `$${amount.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;
}

/** "about 12 minutes", "about 1.5 hours". */
export function duration(seconds: number): string {
  if (seconds < 3600) return `about ${Math.max(1, Math.round(seconds / 60))} minutes`;
  return `about ${(seconds / 3600).toFixed(1)} hours`;
}

export function progressBar(fraction: number, width = 20): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}]`;
}

export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const day = (d: Date) => d.toISOString().slice(0, 10);

// ---------------------------------------------------------------------------------------------
// Answers to a mention that are not the model's answer (conversation.ts, recovery.ts)

export const replyNotices = {
  empty: "Mention me with a question or a request and I'll answer. (Your message was empty.)",
  tooLong: (n: number, max: number) =>
    `That message is ${n.toLocaleString("en")} characters; I can take up to ${max.toLocaleString("en")}. Please shorten it or split it into parts.`,
  apology:
    "Sorry, I couldn't reach the language model just now (it is busy or unavailable). Your message is saved; please try again in a minute.",
  timeout: (seconds: number) =>
    `Sorry, the language model took too long to answer (I waited ${seconds} seconds), so I stopped waiting. Your message is saved; please try again in a minute.`,
  chatBudget:
    "Sorry, this bot has reached today's spending limit for answers, set by its admins. It will answer again tomorrow.",
  /** A stop cancelled the reply; the restart sweep answers it. */
  restarting: "I'm restarting; I'll answer this when I'm back, in a minute or so.",
  /** Same, for an opted-out person: nothing was stored, so nothing can be answered later. */
  restartingNothingStored: "I'm restarting and couldn't finish this answer. Please ask again in a minute.",
  /** The restart sweep found a message too old to answer now (recovery.ts). */
  tooLateAfterRestart:
    "Sorry, I restarted while I was answering this and it has been a while since you asked. Please ask me again.",
};

// ---------------------------------------------------------------------------------------------
// Spending limits

const LIMIT_WHAT: Record<TrainingRefusalReason, string> = {
  user_month_spend: "your monthly training budget",
  total_month_spend: "this bot's monthly training budget",
  user_month_trainings: "the number of trainings per person this month",
};

function overLimit(r: TrainingRefusal): string {
  const amounts =
    r.reason === "user_month_trainings"
      ? `(${r.used} of ${r.limit} used)`
      : `(${formatUsd(r.used)} of ${formatUsd(r.limit)} used, this one needs ${formatUsd(r.needed)})`;
  return `This training would go over ${LIMIT_WHAT[r.reason]} set by the admins ${amounts}. It can run next month, or when an admin raises the limit.`;
}

export const LIMITS_USAGE = [
  "Usage: limits set <key> <value> [<key> <value> ...]",
  "Keys:",
  "- training-user-month <dollars>: training spend per user per calendar month (UTC)",
  "- training-total-month <dollars>: training spend for everyone per calendar month",
  "- trainings-user-month <count>: number of trainings per user per calendar month",
  "- chat-day <dollars>: chat spend for everyone per UTC day",
  'Use "off" as the value to remove a limit, e.g. `limits set chat-day off`.',
].join("\n");

/** Why the words after `limits set` are not a limits change (the usage follows them). */
export const limitsCommandProblems = {
  nothingToSet: "Tell me which limit to set.",
  unknownWord: (word: string) => `"${word}" is not a limit I know.`,
  needsValue: (word: string) => `"${word}" needs a value (a number, or "off").`,
  givenTwice: (word: string) => `"${word}" is given twice.`,
  notACount: (word: string, raw: string) =>
    `"${word}" takes a whole number of trainings, like 2 (got "${raw}").`,
  notDollars: (word: string, raw: string) =>
    `"${word}" takes an amount in dollars, like 20 or 2.50 (got "${raw}").`,
};

/** Why budgets refused a limits patch (budgets.ts validateLimitsPatch). */
export function limitProblemText(p: LimitProblem): string {
  switch (p.kind) {
    case "unknown_key":
      return `Unknown limit "${p.key}".`;
    case "not_a_number":
      return `${p.key} must be a number.`;
    case "negative":
      return `${p.key} cannot be negative.`;
    case "not_whole":
      return `${p.key} must be a whole number.`;
    case "too_large":
      return p.maxUsd === undefined
        ? `${p.key} is too large.`
        : `${p.key} is too large (at most ${p.maxUsd} USD).`;
  }
}

/** The `limits show` text, the same on Discord and Slack (plain lines, no platform markup). */
export function formatLimits(limits: Limits, spend: Spend): string {
  const money = (v: number | null) => (v === null ? "no limit" : formatUsd(v));
  const t = spend.total;
  const lines = [
    `Spending limits (UTC month ${spend.period}):`,
    `- Training per user per month: ${money(limits.trainingPerUserMonthUsd)}`,
    `- Training for everyone per month: ${money(limits.trainingTotalMonthUsd)}`,
    `- Trainings per user per month: ${limits.trainingsPerUserMonth === null ? "no limit" : limits.trainingsPerUserMonth}`,
    `- Chat for everyone per day: ${money(limits.chatPerDayUsd)}`,
    `This month: training ${formatUsd(t.trainingSettledUsd)} spent + ${formatUsd(t.trainingReservedUsd)} reserved ` +
      `(${t.trainings} training${t.trainings === 1 ? "" : "s"}); chat ${formatUsd(t.chatMonthUsd)}, ` +
      `today (${spend.day}) ${formatUsd(t.chatTodayUsd)}.`,
  ];
  if (spend.user) {
    const u = spend.user;
    lines.push(
      `You this month: training ${formatUsd(u.trainingSettledUsd)} spent + ${formatUsd(u.trainingReservedUsd)} ` +
        `reserved (${u.trainings}); chat ${formatUsd(u.chatMonthUsd)}.`,
    );
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// `/assistant status`

/** How an admin turns level 3 (a model of one's own) on. */
export const FINE_TUNE_OFF_HOW =
  "An admin turns it on by setting FINETUNE_PROVIDER=together and TOGETHER_API_KEY (LoRA on open weights; README, Fine-tuning).";

/** The personalisation levels, for people. */
export const LEVEL_NAMES: Record<string, string> = {
  base: "base model",
  memory: "+ memory",
  few_shot: "+ few-shot",
  own_model: "own model",
};

/** Plain-text rendering shared by both platforms (Discord adds an embed around the same facts). */
export function formatStatus(s: UserStatus): string {
  return [
    `Exchanges remembered: ${s.exchanges} (searchable memory: ${s.memorySize})`,
    `Rated replies: ${s.rated}, highly rated: ${s.highlyRated}`,
    `Fine-tune progress: ${progressBar(s.progress)} ${s.readyForFineTune}/${s.threshold} ready examples`,
    ...(s.fineTuneOff ? [`Your own model: off. ${s.fineTuneOff}`] : []),
    `Answering model: ${s.activeModel.model}${s.activeModel.fineTuned ? ` (your fine-tuned model v${s.activeModel.version})` : " (base model)"}`,
    `Spend on you: ${formatUsd(s.spend.chatUsd)} answers, ${formatUsd(s.spend.trainingUsd)} training`,
    ...(s.ratingsByLevel.length
      ? [
          `Your ratings by what answered: ${s.ratingsByLevel
            .map(
              (r) => `${LEVEL_NAMES[r.level]}${r.holdout ? " (holdout)" : ""} ${r.mean.toFixed(2)} (${r.n})`,
            )
            .join(", ")}`,
        ]
      : []),
    ...(s.optedOut ? ["You opted out: nothing new is stored or used for training."] : []),
    ...(s.here ? hereLines(s.here) : []),
  ].join("\n");
}

/**
 * "How close am I to my own model?" (Slack's suggested prompt): the status figures that answer it,
 * as a sentence or two rather than the whole status.
 */
export function ownModelProgress(s: UserStatus): string {
  if (s.optedOut)
    return "You opted out, so nothing of yours is used for training. `/assistant opt-in` starts fresh.";
  const own = s.activeModel.fineTuned ? `You already have your own model (v${s.activeModel.version}). ` : "";
  const next = own ? "a new version" : "your own model";
  const bar = `${progressBar(s.progress)} ${s.readyForFineTune}/${s.threshold} ready examples (${Math.floor(s.progress * 100)}%)`;
  // Off on this bot: the figures still say how far the person got, then why nothing trains.
  if (s.fineTuneOff) return `${own}${bar}. Your own model: off. ${s.fineTuneOff}`;
  if (s.readyForFineTune >= s.threshold)
    return `${own}${bar}: enough for ${next}. \`/assistant train\` asks for one.`;
  const missing = s.threshold - s.readyForFineTune;
  return `${own}${bar}. ${plural(missing, "more highly rated reply", "more highly rated replies")} and ${next} can be trained: rate my answers with 👍 (${plural(s.rated, "reply", "replies")} rated so far, ${s.highlyRated} highly).`;
}

// ---------------------------------------------------------------------------------------------
// Fine-tuning: what the bot sends on its own (DMs, the approval prompt)

export interface OfferFacts {
  examples: number;
  tokens: number;
  epochs: number;
  estimatedCostUsd: number;
  estimatedSeconds: number;
  baseModel: string;
  redactions: number;
  expiresAt: Date;
  /** Where it trains: "self-hosted" offers price GPU time on the operator's own hardware. */
  provider?: string;
  /** The provider's own price (Together's estimate-price) next to our count, when it quoted one. */
  quote?: { provider: string; usd: number; tokens?: number; ownUsd: number };
}

/** The offer's lines about the provider's quote: both figures, and which one is reserved and why. */
function quoteLines(p: OfferFacts): string[] {
  // The operator's own GPU: the only cost is its time, and the time is an estimate from the
  // throughput the operator measured (TRAINER_TOKENS_PER_SECOND).
  if (p.provider === "self-hosted")
    return [
      `• Trains on this bot's own hardware: your examples never leave its servers`,
      `• Estimated GPU time: ${duration(p.estimatedSeconds)}, an estimate of time on the operator's own GPU from its measured speed; cost of that time: ${formatUsd(p.estimatedCostUsd)}, within the admins' limits`,
    ];
  const q = p.quote;
  if (!q)
    return [
      `• Estimated cost: ${formatUsd(p.estimatedCostUsd)}, paid by this bot's admins within their limits`,
    ];
  const name = q.provider === "together" ? "Together" : q.provider;
  const lines = [
    `• Price quoted by ${name}: ${formatUsd(q.usd)}${q.tokens ? ` for ${q.tokens.toLocaleString("en")} tokens` : ""}, paid by this bot's admins within their limits`,
    `• Our own count: ${p.tokens.toLocaleString("en")} tokens, ${formatUsd(q.ownUsd)} at the configured rate`,
  ];
  const higher = Math.max(q.usd, q.ownUsd);
  if (higher > 0 && Math.abs(q.usd - q.ownUsd) / higher > 0.05)
    lines.push(
      `• The two differ by more than 5%: ${formatUsd(p.estimatedCostUsd)} (${q.usd >= q.ownUsd ? `${name}'s price` : "our count"}, the higher) is held against the limits until ${name} reports what it billed, so a training never passes them.`,
    );
  return lines;
}

/** The provider's validation loss of a new version, and the previous version's (its own split). */
export interface LossFacts {
  validationLoss?: number;
  previous?: { version: number; loss: number };
}

function lossLine(l?: LossFacts): string {
  if (l?.validationLoss === undefined) return "";
  const v = l.validationLoss.toFixed(3);
  if (!l.previous) return ` Validation loss: ${v}.`;
  const worse = l.validationLoss > l.previous.loss;
  return ` Validation loss: ${v} (v${l.previous.version}: ${l.previous.loss.toFixed(3)}${worse ? `; ⚠ worse than v${l.previous.version}` : ""}).`;
}

const pct = (x: number) => `${Math.round(x * 100)}%`;
const armText = (label: string, a: ArmFigures) =>
  a.n
    ? `${label}: mean ${a.mean.toFixed(2)} from ${plural(a.n, "rating")} (${pct(a.upShare)} 👍)`
    : `${label}: no ratings`;
const signed = (x: number) => `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(2)}`;

/** Which planned test decided (stored results from before planned looks have none). */
const lookText = (f: CanaryFigures) =>
  f.look !== undefined && f.alphaPerLook !== undefined
    ? ` (test ${f.look} of the trial, each at α = ${f.alphaPerLook.toFixed(3)})`
    : "";

/** The figures of a trial, for people. */
export function canaryFiguresText(version: number, incumbent: string, f: CanaryFigures): string {
  const test =
    f.pNotWorse === undefined
      ? `at least ${f.minRatings} ratings each are needed to compare`
      : `difference ${signed(f.difference)}, margin ${f.margin}, one-sided Welch test p = ${f.pNotWorse.toFixed(3)} that it is not worse, p = ${f.pWorse!.toFixed(3)} that it is${lookText(f)}`;
  return `${armText(`v${version}`, f.candidate)}; ${armText(incumbent, f.incumbent)}; ${test}.`;
}

export const fineTuneNotices = {
  offer: (p: OfferFacts) =>
    [
      "**I can train a model of your own** from the replies you rated highly.",
      `• Examples: ${p.examples}`,
      `• Training tokens: ${p.tokens.toLocaleString("en")} (${p.epochs} epochs)`,
      ...quoteLines(p),
      `• Estimated time: ${duration(p.estimatedSeconds)}`,
      `• Base model: ${p.baseModel}`,
      `• Personal data removed before ${p.provider === "self-hosted" ? "training" : "upload"}: ${p.redactions} item${p.redactions === 1 ? "" : "s"}`,
      `This offer expires ${p.expiresAt.toISOString().slice(0, 16).replace("T", " ")} UTC.`,
    ].join("\n"),
  approveLabel: (estimatedCostUsd: number) => `Approve (${formatUsd(estimatedCostUsd)})`,
  declineLabel: "Decline",
  offerExpired: "This offer expired. Use /assistant train to get a fresh one.",
  /** The prompt of an approved offer that a limit kept from starting. */
  notStarted: (why: string) => `Not started. ${why}`,
  succeeded: (version: number, costUsd: number, loss?: LossFacts) =>
    `Your own model (v${version}) is ready and now answers you. It cost ${formatUsd(costUsd)}.${lossLine(loss)} Use /assistant models to see your versions, /assistant rollback to go back.`,
  succeededOnTrial: (
    version: number,
    costUsd: number,
    trial: { share: number; minRatings: number; maxDays: number },
    loss?: LossFacts,
  ) =>
    `Your own model (v${version}) is ready. It cost ${formatUsd(costUsd)}.${lossLine(loss)} For now it answers about ${pct(trial.share)} of your messages and your current model the rest: your ratings decide. Once each has ${trial.minRatings} rated replies (or after ${trial.maxDays} days) I keep the one you rate better and tell you the figures. /assistant models shows the trial; /assistant models use v${version} switches now; /assistant rollback ends the trial.`,
  canaryPromoted: (version: number, incumbent: string, f: CanaryFigures) =>
    `Your model v${version} passed its trial and now answers all your messages. ${canaryFiguresText(version, incumbent, f)} /assistant rollback goes back.`,
  canaryRolledBack: (version: number, incumbent: string, f: CanaryFigures, basis: CanaryBasis) =>
    basis === "too_few_at_max_days"
      ? `The ${f.days.toFixed(0)}-day trial of your model v${version} ended with too few ratings to compare, so ${incumbent} keeps answering you. ${canaryFiguresText(version, incumbent, f)} /assistant models use v${version} switches to it anyway.`
      : `Your model v${version} did not do better than ${incumbent} in its trial, so ${incumbent} keeps answering you. ${canaryFiguresText(version, incumbent, f)} /assistant models use v${version} switches to it anyway.`,
  failed: (reason: string) =>
    `Your model's training failed: ${reason}. Nothing was charged for it; you can try again with /assistant train.`,
  cancelled: "Your model's training was cancelled. Nothing was charged for it.",
  /** An approved offer without a job (see approval.ts, resumeApprovals), started late. */
  resumedStarted: (estimatedSeconds: number) =>
    `The training you approved was interrupted before it started; it has started now (${duration(estimatedSeconds)}). I'll DM you when your model is ready.`,
  resumedClosed: (approvedOn: Date) =>
    `The training you approved on ${day(approvedOn)} was never started (the bot stopped while starting it). Nothing was charged; /assistant train makes a fresh offer.`,
  resumedRefused: (why: string) => `The training you approved could not start: ${why}`,
  retired: (v: { version: number; provider: string }, on: Date) =>
    `Your model v${v.version} was shut down by ${v.provider} on ${day(on)}. The base model answers you now, still with your memory and your best replies as examples. Your training examples are kept: /assistant train can train a new model.`,
  retiringWithRetrain: (v: { version: number; provider: string }, on: Date, elsewhere: string) =>
    `Heads-up: ${v.provider} will stop serving your model v${v.version} on ${day(on)}. I've sent you an offer to train a new one on ${elsewhere} from the same examples (Approve or Decline in the DM); your versions keep both. Without it, the base model answers you from then on, with your memory and best replies.`,
  retiring: (v: { version: number; provider: string }, on: Date) =>
    `Heads-up: ${v.provider} will stop serving your model v${v.version} on ${day(on)}. From then on the base model answers you, with your memory and best replies. Your examples are kept, so you can retrain with /assistant train.`,
};

export interface ModelLine {
  version: number;
  modelId: string;
  /** Where it was trained ("self-hosted": the model id is only the adapter's uuid). */
  provider?: string;
  baseModel?: string;
  status: string;
  shutdownDate: Date | null;
  active: boolean;
  ratings: ArmFigures;
  validationLoss?: number;
  /** Its validation loss is higher than the previous version's (each on its own held-out split). */
  validationWorse?: boolean;
  costUsd?: number;
  canaryState?: string;
  canaryShare?: number;
}

const TRIAL_STATE: Record<string, string> = {
  promoted: "passed its trial",
  rolled_back: "lost its trial",
  ended: "trial ended by you",
  superseded: "trial replaced by a newer version",
};

function modelsList(versions: ModelLine[], baseAnswers: boolean, base: ArmFigures): string {
  const lines = versions.map((v) => {
    const trial =
      v.canaryState === "running"
        ? ` ← on trial: answering about ${pct(v.canaryShare ?? 0)} of your messages`
        : v.canaryState && TRIAL_STATE[v.canaryState]
          ? `, ${TRIAL_STATE[v.canaryState]}`
          : "";
    const facts = [
      v.ratings.n
        ? `${v.ratings.n} ratings, mean ${v.ratings.mean.toFixed(2)}, ${pct(v.ratings.upShare)} 👍`
        : "no ratings yet",
      ...(v.validationLoss !== undefined
        ? [
            `validation loss ${v.validationLoss.toFixed(3)}${v.validationWorse ? " ⚠ worse than the previous version" : ""}`,
          ]
        : []),
      ...(v.costUsd !== undefined ? [`cost ${formatUsd(v.costUsd)}`] : []),
    ].join("; ");
    // A self-hosted adapter's id is the trainer job's uuid, which means nothing to its owner.
    const name =
      v.provider === "self-hosted" && v.baseModel
        ? `your LoRA adapter on ${v.baseModel} (self-hosted)`
        : v.modelId;
    return `v${v.version}: ${name} (${v.status}${v.shutdownDate ? `, provider shutdown ${day(v.shutdownDate)}` : ""}${trial && !trial.startsWith(" ←") ? trial : ""})${v.active ? " ← answering you" : ""}${trial.startsWith(" ←") ? trial : ""}\n   ${facts}`;
  });
  lines.push(
    `Base model (with your memory and examples): ${base.n ? `${base.n} ratings, mean ${base.mean.toFixed(2)}, ${pct(base.upShare)} 👍` : "no ratings"}`,
  );
  if (baseAnswers) lines.push("The base model is answering you.");
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Data rights

export interface MemoryFacts {
  counters: { exchangeCount: number; ratedCount: number; highRatedCount: number; readyCount: number };
  memorySize: number;
  proposals: number;
  trainings: number;
  optedOutOn?: Date;
  recent: ExchangeLine[];
  best: ExchangeLine[];
  versions: Array<{
    version: number;
    modelId: string;
    provider: string;
    status: string;
    createdAt: Date;
    active: boolean;
  }>;
}

export interface ExchangeLine {
  userText: string;
  replyText: string | null;
  createdAt: Date;
  rating: number | null;
}

/** One line of text, at most `max` characters (the person's own words, shortened for a listing). */
export type Clip = (text: string | null | undefined, max: number) => string;

function memoryText(m: MemoryFacts, clip: Clip): string {
  const c = m.counters;
  const line = (e: ExchangeLine) =>
    `• ${day(e.createdAt)}: "${clip(e.userText, 80)}" → "${clip(e.replyText ?? "(no reply)", 80)}"${e.rating ? ` (rated ${e.rating})` : ""}`;
  return [
    "**What I hold about you**",
    `Exchanges: ${c.exchangeCount} (searchable memory: ${m.memorySize}); rated ${c.ratedCount}, highly rated ${c.highRatedCount}, ready for training ${c.readyCount}`,
    `Training offers: ${m.proposals}, trainings: ${m.trainings}, model versions: ${m.versions.length}`,
    ...(m.optedOutOn
      ? [`You opted out on ${day(m.optedOutOn)}: none of this is used, and nothing new is stored.`]
      : []),
    ...(m.recent.length ? ["Most recent:", ...m.recent.map(line)] : ["No exchanges stored."]),
    ...(m.best.length ? ["Best rated:", ...m.best.map(line)] : []),
    ...(m.versions.length
      ? [
          "Your models:",
          ...m.versions.map(
            (v) =>
              `• v${v.version}: ${v.modelId} (${v.provider}, ${v.status}, ${day(v.createdAt)})${v.active ? " ← answering you" : ""}`,
          ),
        ]
      : []),
    "/assistant export sends you all of it, /assistant forget deletes it, /assistant opt-out stops me learning from you.",
  ].join("\n");
}

export interface ExportCounts {
  exchanges: number;
  proposals: number;
  jobs: number;
  modelVersions: number;
  uploadedFiles: number;
}

export const dataRightsNotices = {
  /** The text of the export DM, with the file. */
  exportFile: (n: ExportCounts) =>
    `Here is everything I hold about you, as a JSON file: ${plural(n.exchanges, "exchange")}, ` +
    `${plural(n.proposals, "training offer")}, ${plural(n.jobs, "training")}, ` +
    `${plural(n.modelVersions, "model version")}` +
    (n.uploadedFiles
      ? `, and the ${plural(n.uploadedFiles, "training file")} uploaded for you, byte for byte.`
      : "."),
  /** What the export file says about itself. */
  exportNotes: [
    "Everything this bot holds about you. Ids are the bot's own; money is US dollars.",
    "exchanges: your messages and the bot's replies, with ratings and the reactions they came from. Embedding vectors are omitted: they are computed from userText by the model named in embeddingModel.",
    "proposals: training offers; trainJsonl / validationJsonl are the datasets, byte for byte the files uploaded for the trainings in jobs (see uploadedFiles, with sha256).",
    "ledgerEntries: what answering and training you cost the bot's admins.",
  ],
  exportFileName: (on: Date) => `assistant-data-${day(on)}.json`,
  forgetWarning:
    "This deletes everything I hold about you: your messages and my replies, ratings, memory, " +
    "training offers and datasets, and the files and models trained for you at the provider " +
    "(where it allows). It cannot be undone. Press the button to confirm.",
  /** For operators (`npm run admin -- forget`): one provider deletion still owed. */
  undeleted: (r: {
    provider: string;
    kind: string;
    resourceId: string;
    status: string;
    reason: string | null;
  }) =>
    `${r.provider} ${r.kind} ${r.resourceId}: ${
      r.status === "unsupported"
        ? `cannot be deleted through ${r.provider}'s API; an operator has to delete it (${r.reason ?? "unsupported"})`
        : `not deleted yet, will be retried (${r.reason ?? "not tried yet"})`
    }`,
};

export interface ForgetFacts {
  /** What the one transaction deleted; absent when the person's rows were gone already. */
  removed?: { exchanges: number; proposals: number; jobs: number; models: number };
  /** Confirmed at the provider in this run, by kind. */
  deleted: { job: number; file: number; model: number };
  /** Provider deletions that failed and will be retried. */
  retryable: number;
  /** Provider deletions only an operator can make, as "<provider> <kind>". */
  manual: string[];
}

function forgetText(f: ForgetFacts): string {
  const parts: string[] = [];
  if (f.removed) {
    parts.push(
      `Done: I deleted everything I held about you from my database: ${plural(f.removed.exchanges, "exchange")} ` +
        `(with their embeddings and ratings), ${plural(f.removed.proposals, "training offer")} with their datasets, ` +
        `${plural(f.removed.jobs, "training")} and ${plural(f.removed.models, "model version")}. ` +
        "The admins' spend records were kept with nothing that points to you.",
    );
  } else {
    parts.push("Your data was already deleted from my database; I retried what was left at the provider.");
  }
  const { job, file, model } = f.deleted;
  if (job + file + model) {
    const removedThere = [
      ...(file ? [plural(file, "uploaded training file")] : []),
      ...(model ? [plural(model, "tuned model")] : []),
    ];
    const done = [
      ...(job ? [`cancelled ${plural(job, "unfinished training")}`] : []),
      ...(removedThere.length ? [`deleted ${removedThere.join(" and ")}`] : []),
    ];
    parts.push(`At the provider I ${done.join(" and ")}.`);
  }
  if (f.retryable)
    parts.push(
      `${plural(f.retryable, "deletion")} at the provider did not go through yet; run /assistant forget again to finish (an operator can retry it too).`,
    );
  if (f.manual.length)
    parts.push(
      `${plural(f.manual.length, "item")} cannot be deleted through the provider's API (${[...new Set(f.manual)].join(", ")}); the operators have a record of it, without your identity, and will remove it by hand.`,
    );
  return parts.join(" ");
}

export interface OptOutFacts {
  withdrawn: number;
  cancelled: number;
  stillRunning: number;
}

function optedOutText(n: OptOutFacts): string {
  return [
    "Done: you're opted out. I still answer you, with the base model, but I no longer store your messages, use anything of yours as memory or examples, or offer you a training.",
    "What I stored before is kept but unused: /assistant memory shows it, /assistant forget deletes it, and it is deleted as it gets old.",
    "Opting back in (/assistant opt-in) starts from zero: what I stored before is deleted then.",
    ...(n.withdrawn ? ["I withdrew your pending training offer."] : []),
    ...(n.cancelled ? [`I cancelled ${plural(n.cancelled, "training")} that had not finished.`] : []),
    ...(n.stillRunning
      ? [
          `${plural(n.stillRunning, "training")} could not be stopped at the provider; its model will not answer you while you are opted out.`,
        ]
      : []),
  ].join("\n");
}

export interface OptInFacts {
  exchanges: number;
  offers: number;
  versions: number;
}

function optedInText(n: OptInFacts): string {
  return [
    "Welcome back: you're opted in again, starting fresh.",
    `I deleted the ${plural(n.exchanges, "exchange")} stored before${n.offers ? ` and ${plural(n.offers, "old training offer")}` : ""}; from your next message on I remember and learn again.`,
    ...(n.versions
      ? [
          `The base model answers you for now. Your ${plural(n.versions, "earlier model version")} ${n.versions === 1 ? "is" : "are"} still listed in /assistant models (/assistant rollback can bring one back; /assistant forget deletes them).`,
        ]
      : []),
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Commands and clicks, whatever the platform

/** `/assistant help`, and the answer to a subcommand the bot does not know. */
export function commandHelp(externalId: string): string {
  return [
    "**/assistant** commands:",
    "- `/assistant status`: what I know about you, and how close you are to your own fine-tuned model",
    "- `/assistant train`: propose training your own model now (the approval prompt arrives by DM)",
    "- `/assistant models`: your model versions, their ratings and trials; `/assistant models use <version>` picks one",
    "- `/assistant rollback [previous|base|<version>]`: answer with an earlier model",
    "- `/assistant limits [show]`, `/assistant limits set <key> <value>`: spending limits (operators only)",
    "- `/assistant config show|prompt|model|channels|roles`: this server's settings (operators only)",
    "- `/assistant memory`: what I hold about you",
    "- `/assistant export`: all of it as a JSON file, by DM",
    "- `/assistant forget`: delete everything I hold about you (asks you to confirm)",
    "- `/assistant opt-out`, `/assistant opt-in`: stop storing and learning from our conversations, or start again",
    "Mention me in a channel or write to me directly to ask something; rate my answers with 👍 👎 or 1️⃣-5️⃣.",
    `Your id (what operators put in OPERATORS): \`${externalId}\``,
  ].join("\n");
}

/**
 * What a person reads when the bot failed on its side (an exception, not a refusal): one text for
 * a reply, a command or a click, on every platform. The adapters post it; the cause is logged.
 */
export const failureNotices = {
  reply: "Sorry, something went wrong on my side. Please try again in a minute.",
  command: "Sorry, that command failed on my side. Please try again in a minute.",
  click: "Sorry, that click failed on my side. Please try again in a minute.",
};

// ---------------------------------------------------------------------------------------------
// Outcomes: every answer to a command or a click, by code. `ok: false` marks refusals and failures.
// The code is what metrics count and logs name; the text is what the person reads.

const yes = <A extends unknown[]>(text: (...args: A) => string) => ({ ok: true as const, text });
const no = <A extends unknown[]>(text: (...args: A) => string) => ({ ok: false as const, text });
const NOTHING_CHANGED = "Nothing changed.";

export const OUTCOMES = {
  // Any command or click
  "event.duplicate": no(() => "Already handled."),
  // A mention that found the reply queue full (reply-queue.ts): answered at once, nothing stored.
  "reply.busy": no(() => "I'm busy right now and couldn't take your message. Please try again in a minute."),
  "command.help": yes(commandHelp),
  "command.unknown": no(commandHelp),
  "button.stale": no(() => "That button is not valid any more."),
  // Rating buttons under an answer (ratings.ts)
  "rating.saved": yes((rating: number) => `Thanks: you rated this answer ${rating}/5.`),
  "rating.removed": yes(() => "Rating taken back: this answer has no rating from that button now."),
  "rating.not_asker": no(() => "Only the person who asked can rate this answer."),
  "rating.not_a_reply": no(() => "I can't find that answer any more, so it can't be rated."),
  "rating.opted_out": no(
    () => "You opted out, so ratings aren't stored. `/assistant opt-in` starts collecting them again.",
  ),
  "status.shown": yes((text: string) => text),

  // `/assistant train` and what an offer needs
  "train.offer_sent": yes(() => "I've sent you a DM with the cost estimate and Approve / Decline buttons."),
  "train.offer_resent": yes(
    () => "You already have a training offer waiting: I've sent it to your DMs again.",
  ),
  "train.unknown_user": no(() => "I don't know you yet: mention me with a question first."),
  "train.opted_out": no(() => "You opted out, so nothing of yours is used for training."),
  "train.dm_failed": no(
    () => "I prepared an offer but couldn't DM you. Please allow DMs from me and try again.",
  ),
  "train.disabled": no(() => `Fine-tuning is switched off on this bot. ${FINE_TUNE_OFF_HOW}`),
  "train.platform_not_allowed": no((why: string) => why),
  "train.quote_failed": no(
    (why: string) =>
      `I couldn't get a price for your training from the provider (${why}), so I made no offer. Please try again in a few minutes.`,
  ),
  "train.provider_credit": no(
    (provider: string) =>
      `The fine-tuning provider (${provider}) says this bot's account cannot pay for a training right now (its credit limit). An admin needs to add credit; your rated replies are kept.`,
  ),
  "train.provider_refuses": no(
    (why: string) =>
      `I can't offer a training right now: ${why}. Your rated replies are kept; an admin needs to switch FINETUNE_PROVIDER to a provider that trains (see the README's Fine-tuning section).`,
  ),
  "train.not_enough_examples": no(
    (usable: number, needed: number) =>
      `You have ${usable} usable highly rated replies; training needs at least ${needed}. Rate more of my replies with 👍 (or 4️⃣/5️⃣) to get there.`,
  ),
  "train.training_running": no(() => "A training of yours is already running."),
  "train.offer_pending": no(() => "You already have a pending proposal: check your DMs."),
  "limit.user_month_spend": no(overLimit),
  "limit.total_month_spend": no(overLimit),
  "limit.user_month_trainings": no(overLimit),

  // `/assistant training off|on`
  "training_offers.off": yes(
    () =>
      "Done: I won't offer you a training on my own any more. /assistant train still makes an offer when you ask, and /assistant training on turns offers back on.",
  ),
  "training_offers.on": yes(
    () =>
      "Done: when enough of your replies are rated highly, I'll offer you a training of your own model by DM. /assistant training off stops that.",
  ),
  "training_offers.usage": no(() => "Use /assistant training off or /assistant training on."),

  // Approve / Decline on an offer
  "approval.gone": no(() => "This training offer no longer exists."),
  "approval.not_owner": no(
    () => `Only the person this offer was made for can approve or decline it. ${NOTHING_CHANGED}`,
  ),
  "approval.already_decided": no((state: string) => `This offer was already ${state}. ${NOTHING_CHANGED}`),
  "approval.already_answered": no(() => `This offer was already answered. ${NOTHING_CHANGED}`),
  "approval.expired": no(() => fineTuneNotices.offerExpired),
  "approval.declined": yes(
    (cooldown: number) =>
      `Declined: no training. I won't ask again until you have ${cooldown} more highly rated replies; /assistant train works any time.`,
  ),
  "approval.training_running": no(
    () => "Another training of yours is still running; this one was not started.",
  ),
  "approval.started": yes(
    (estimatedSeconds: number) =>
      `Approved. Training has started (${duration(estimatedSeconds)}); I'll DM you when your model is ready.`,
  ),

  // `/assistant models` and `/assistant rollback`
  "models.none": yes(() => "You have no models of your own yet."),
  "models.base_only": yes(() => "You have no models of your own yet; the base model answers you."),
  "models.listed": yes(modelsList),
  "rollback.no_models": no(() => "You have no models of your own yet."),
  "rollback.to_base": yes(() => "Done: the base model answers you now (with your memory and examples)."),
  "rollback.no_earlier": yes(() => "There is no earlier version: the base model answers you now."),
  "rollback.unknown_version": no(
    (target: string) => `There is no available version "${target}". /assistant models lists yours.`,
  ),
  "rollback.trial_ended": yes(
    (version: number, incumbent: string) =>
      `Done: the trial of v${version} has ended and ${incumbent} keeps answering you. /assistant models use v${version} switches to it any time.`,
  ),
  "rollback.done": yes(
    (version: number, modelId: string) => `Done: v${version} (${modelId}) answers you now.`,
  ),

  // `/assistant limits`
  "limits.not_operator": no(
    (caller: string) =>
      "Only the bot's operators can view or change the spending limits. " +
      `If you should be one, ask an admin to add you to OPERATORS (your id is ${caller}).`,
  ),
  "limits.invalid": no((problem: string) => `${problem}\n${LIMITS_USAGE}`),
  "limits.shown": yes(formatLimits),
  "limits.updated": yes((limits: Limits, spend: Spend) => `Limits updated.\n${formatLimits(limits, spend)}`),

  // `/assistant memory`, `export`, `forget`, `opt-out`, `opt-in`
  "memory.nothing": yes(() => "I hold nothing about you: we haven't talked yet, or you asked me to forget."),
  "memory.shown": yes(memoryText),
  "export.nothing": yes(() => "I hold nothing about you, so there is nothing to export."),
  "export.ready": yes(dataRightsNotices.exportFile),
  "export.sent": yes(() => "I've sent you a DM with a JSON file of everything I hold about you."),
  "export.no_files_here": no(() => "I can't send you files on this platform."),
  "export.dm_failed": no(() => "I couldn't DM you the file. Please allow DMs from me and try again."),
  "forget.confirm": yes(() => dataRightsNotices.forgetWarning),
  "forget.not_owner": no(
    () => `Only the person who asked to be forgotten can confirm it. ${NOTHING_CHANGED}`,
  ),
  "forget.nothing": yes(() => "I hold nothing about you, so there was nothing to delete."),
  "forget.done": yes(forgetText),
  "forget.unfinished": no(forgetText),
  "opt_out.already": yes(
    () => "You are already opted out: nothing new is stored. /assistant opt-in undoes it.",
  ),
  "opt_out.done": yes(optedOutText),
  "opt_in.not_opted_out": yes(
    () => "You're not opted out: I remember and learn from our conversations. /assistant opt-out stops that.",
  ),
  "opt_in.done": yes(optedInText),
  // `/assistant config` (server-config.ts)
  ...SERVER_CONFIG_OUTCOMES,
};

export type OutcomeCode = keyof typeof OUTCOMES;
/** What the text of outcome `C` is written from. */
export type OutcomeArgs<C extends OutcomeCode> = Parameters<(typeof OUTCOMES)[C]["text"]>;

/** The refusal code for each limit a training would pass. */
export const LIMIT_OUTCOME = {
  user_month_spend: "limit.user_month_spend",
  total_month_spend: "limit.total_month_spend",
  user_month_trainings: "limit.user_month_trainings",
} as const satisfies Record<TrainingRefusalReason, OutcomeCode>;

// ---------------------------------------------------------------------------------------------
// Notes on a message's attachments, shown before the answer (attachments.ts)

/** "100 kB", "5 MB": sizes for people, in decimal units as the platforms show them. */
function size(bytes: number): string {
  if (bytes >= 1_000_000) return `${Number((bytes / 1_000_000).toFixed(1)).toLocaleString("en")} MB`;
  return `${Math.max(1, Math.round(bytes / 1000)).toLocaleString("en")} kB`;
}

export const attachmentNotices = {
  tooBig: (name: string, max: number) => `I skipped ${name}: it is over ${size(max)}.`,
  imageTooBig: (name: string, max: number) => `I skipped ${name}: images over ${size(max)} are not read.`,
  overTokens: (name: string, max: number, alone: boolean) =>
    `I skipped ${name}: ${alone ? "it is" : "with the other files it would be"} over ${max.toLocaleString("en")} tokens, the most one message can bring.`,
  notText: (name: string) => `I skipped ${name}: it does not look like a text file.`,
  unsupported: (name: string) =>
    `I can't read ${name}: I read text files (.txt, .md, .csv, .json, .log, code…) and images only.`,
  noVision: (model: string) => `I can't see images with this model (${model}), so I answered your text only.`,
  noVisionNoText: (model: string) =>
    `I can't see images with this model (${model}). Describe the image in words, or ask an operator for a model that can see images.`,
  failed: (name: string) => `I couldn't download ${name} from the chat platform, so I answered without it.`,
  /** The notes, then the answer. */
  withNotes: (notes: string[], answer: string) =>
    notes.length ? `${notes.map((n) => `_${n}_`).join("\n")}\n\n${answer}` : answer,
};
