// The dashboard's pages as HTML, from what read-model.ts reads. Opaque ids only (as the admin CLI
// prints them); no message text anywhere.
import type { Limits } from "../core/budgets.ts";
import { formatUsd } from "../core/messages.ts";
import { LIMIT_COMMAND_KEYS } from "../core/operators.ts";
import { chart, pairedBars } from "./charts.ts";
import { csrfField, duration, esc, gauge, table, tile, when } from "./html.ts";
import type { Overview, People, Person, Training, TrialResult } from "./read-model.ts";

const usd = (v: number) => formatUsd(v);
const count = (v: number) => String(Math.round(v));
const rating = (v: number | null) => (v === null ? "–" : v.toFixed(2));
const num = (s: string) => `<span class="num">${s}</span>`;
const personLink = (id: string) => `<a class="id" href="/people/${esc(id)}">${esc(id)}</a>`;
const state = (s: string) => `<span class="state ${esc(s)}">${esc(s)}</span>`;

export function overviewPage(o: Overview): string {
  const t = o.spend.total;
  const trainingMonth = t.trainingSettledUsd + t.trainingReservedUsd;
  const tiles = [
    tile("Replies, 30 days", count(o.totals.replies), "", "replies"),
    tile("Ratings, 30 days", count(o.totals.rated), `mean ${rating(o.totals.mean)} of 5`, "ratings"),
    tile("Active people, 30 days", count(o.totals.people), "sent at least one message", "people"),
    tile(
      `Training, ${o.spend.period}`,
      usd(trainingMonth),
      o.limits.trainingTotalMonthUsd === null
        ? "no monthly limit"
        : `of ${usd(o.limits.trainingTotalMonthUsd)} limit · ${t.trainings} training${t.trainings === 1 ? "" : "s"}`,
      "training-month",
    ),
    tile(
      `Chat today (${o.spend.day})`,
      usd(t.chatTodayUsd),
      o.limits.chatPerDayUsd === null ? "no daily limit" : `of ${usd(o.limits.chatPerDayUsd)} limit`,
      "chat-today",
    ),
  ].join("");
  const charts = [
    chart({
      name: "replies-per-day",
      label: "Replies per day",
      points: o.replies,
      format: count,
      integer: true,
    }),
    chart({
      name: "active-people-per-day",
      label: "Active people per day",
      points: o.active,
      format: count,
      integer: true,
    }),
    chart({
      name: "ratings-per-day",
      label: "Ratings per day",
      points: o.ratings,
      format: count,
      integer: true,
    }),
    chart({
      name: "mean-rating-per-day",
      label: "Mean rating per day (1–5)",
      points: o.ratingMeans,
      format: (v) => v.toFixed(1),
      kind: "line",
      yMin: 1,
      yMax: 5,
    }),
    chart({
      name: "chat-spend-per-day",
      label: "Chat spend per day, against the daily limit",
      points: o.chatSpend,
      format: usd,
      limit: { value: o.limits.chatPerDayUsd, label: "daily limit" },
    }),
    chart({
      name: "training-spend-month",
      label: `Training spend in ${o.spend.period} (running total, reserved + billed), against the monthly limit`,
      points: o.trainingCumulative,
      format: usd,
      kind: "line",
      limit: { value: o.limits.trainingTotalMonthUsd, label: "monthly limit" },
    }),
    pairedBars({
      name: "model-comparison",
      label: "Whose model is better: mean rating, base model vs their own",
      groups: o.modelComparison.map((m) => ({
        key: m.person.slice(0, 7),
        a: m.base.mean,
        b: m.own.mean,
        title: `${m.person} (base: ${m.base.rated} rated, v${m.version}: ${m.own.rated} rated)`,
      })),
      labels: { a: "base model", b: "own model (latest)" },
      yMax: 5,
      format: (v) => v.toFixed(1),
    }),
  ].join("");
  return `<section class="tiles">${tiles}</section><section class="charts">${charts}</section>`;
}

export function peoplePage(p: People): string {
  const rows = p.rows.map((r) => [
    personLink(r.person),
    esc(r.platform),
    num(String(r.exchanges)),
    num(String(r.rated)),
    num(rating(r.meanRating)),
    `${num(`${r.ready} / ${p.threshold}`)} ${progress(r.ready, p.threshold)}`,
    esc(r.model),
    num(usd(r.chatUsd)),
    num(usd(r.trainingUsd)),
    r.optedOut ? "opted out" : "",
  ]);
  return (
    `<p class="muted">${p.total} ${p.total === 1 ? "person" : "people"}${p.total > p.rows.length ? `, the ${p.rows.length} with the most exchanges shown` : ""}. ` +
    `Ids are opaque (the same ones <code>npm run admin -- users</code> prints); no message text is shown here.</p>` +
    table(
      [
        "Person",
        "Platform",
        "Exchanges",
        "Rated",
        "Mean rating",
        "Ready to train",
        "Answered by",
        "Chat spend",
        "Training spend",
        "",
      ],
      rows,
      { id: "people" },
    )
  );
}

function progress(done: number, total: number): string {
  const share = total > 0 ? Math.min(1, done / total) : 0;
  return (
    `<svg class="progress" viewBox="0 0 100 8" data-progress="${Math.round(share * 100)}" aria-hidden="true">` +
    `<rect width="100" height="8" fill="#e8edf2"/><rect width="${Math.round(share * 100)}" height="8" fill="#2f6fdf"/></svg>`
  );
}

export function personPage(p: Person): string {
  const u = p.user;
  const tiles = [
    tile("Exchanges", String(u.exchangeCount)),
    tile("Rated", String(u.ratedCount), `${u.highRatedCount} highly`),
    tile("Ready to train", `${u.readyCount} / ${p.threshold}`),
    tile("Platform", u.platform, u.optedOut ? "opted out" : u.trainingOffersOff ? "training offers off" : ""),
  ].join("");
  const versions = table(
    [
      "Version",
      "Status",
      "Provider",
      "Model",
      "Base model",
      "Trained",
      "Cost",
      "Trial",
      "Trial figures",
      "Validation loss",
      "",
    ],
    p.versions.map((v) => [
      `v${v.version}`,
      state(v.status),
      esc(v.provider),
      `<code>${esc(v.model)}</code>`,
      esc(v.baseModel),
      when(v.createdAt),
      num(v.costUsd === null ? "–" : usd(v.costUsd)),
      v.trial ? state(v.trial) : "–",
      trialFigures(v.trialResult),
      num(v.validationLoss === null ? "–" : v.validationLoss.toFixed(3)),
      v.active ? "<strong>answers now</strong>" : "",
    ]),
    { id: "versions" },
  );
  const byModel = pairedBars({
    name: "rating-by-model",
    label: "Mean rating of the replies each model gave",
    groups: p.byModel.map((m) => ({
      key: m.label,
      a: m.mean,
      b: null,
      title: `${m.label}: ${m.rated} rated`,
    })),
    labels: { a: "mean rating", b: "" },
    yMax: 5,
    format: (v) => v.toFixed(1),
  });
  const byModelTable = table(
    ["Answered by", "Rated replies", "Mean rating"],
    p.byModel.map((m) => [esc(m.label), num(String(m.rated)), num(rating(m.mean))]),
    { id: "rating-by-model" },
  );
  // What each level of personalisation earns (issue 16's holdout and levels): base, + memory,
  // + few-shot, own model; the holdout apart (answered without memory and few-shot on purpose).
  const levelLabel = (l: { level: string; holdout: boolean }) =>
    `${l.level.replace("_", "-").replace("own-model", "own model")}${l.holdout ? " (holdout)" : ""}`;
  const byLevelChart = pairedBars({
    name: "rating-by-level",
    label: "Mean rating by level of personalisation",
    groups: p.byLevel.map((l) => ({
      key: levelLabel(l),
      a: l.mean,
      b: null,
      title: `${levelLabel(l)}: ${l.n} rated`,
    })),
    labels: { a: "mean rating", b: "" },
    yMax: 5,
    format: (v) => v.toFixed(1),
  });
  const byLevelTable = table(
    ["Level", "Rated replies", "Mean rating"],
    p.byLevel.map((l) => [esc(levelLabel(l)), num(String(l.n)), num(rating(l.mean))]),
    { id: "rating-by-level" },
  );
  const evaluation = p.byLevel.length
    ? `<div class="cols">${byLevelChart}<div>${byLevelTable}</div></div>`
    : "<p>No rated replies with a recorded level yet.</p>";
  return (
    `<p><a href="/people">← People</a> · <span class="id">${esc(p.person)}</span></p>` +
    `<section class="tiles">${tiles}</section>` +
    `<h2>Model versions</h2>${versions}` +
    `<h2>Ratings by the model that answered</h2><div class="cols">${byModel}<div>${byModelTable}</div></div>` +
    `<h2>Rating by level of personalisation</h2>${evaluation}` +
    `<h2>Trainings</h2>${trainingsTable(p.jobs, false)}`
  );
}

export function trainingsPage(all: Training[], now: Date): string {
  const finished = all.filter((t) => t.job && t.job.billedUsd !== null).reverse();
  const costChart = pairedBars({
    name: "estimate-vs-billed",
    label: "Finished trainings: estimated vs billed cost",
    groups: finished.map((t) => ({
      key: t.person.slice(0, 7),
      a: t.job!.estimatedUsd,
      b: t.job!.billedUsd,
      title: `${t.person}, ${when(t.job!.finishedAt)}`,
    })),
    labels: { a: "estimated", b: "billed" },
    yMax: 0,
    format: usd,
  });
  const byState = new Map<string, number>();
  for (const t of all) {
    const s = t.job ? `training ${t.job.state}` : `offer ${t.offer.state}`;
    byState.set(s, (byState.get(s) ?? 0) + 1);
  }
  const tiles = [...byState]
    .sort()
    .map(([s, n]) => tile(s, String(n), "", s))
    .join("");
  return (
    `<section class="tiles">${tiles || tile("Offers", "0")}</section>` +
    `<section class="charts">${costChart}</section>` +
    `<h2>Offers and trainings</h2>${trainingsTable(all, true, now)}`
  );
}

function trainingsTable(rows: Training[], withPerson: boolean, now = new Date()): string {
  return table(
    [
      ...(withPerson ? ["Person"] : []),
      "Offered",
      "Offer",
      "Training",
      "Provider / base",
      "Examples · tokens",
      "Estimated",
      "Billed",
      "Timings",
      "Progress / reason",
    ],
    rows.map((t) => {
      const j = t.job;
      const timings = j
        ? [
            `started ${when(j.startedAt)}`,
            j.finishedAt
              ? `finished ${when(j.finishedAt)} (${duration(j.finishedAt.getTime() - (j.startedAt ?? j.createdAt).getTime())})`
              : `running for ${duration(now.getTime() - (j.startedAt ?? j.createdAt).getTime())}`,
          ].join("<br>")
        : t.offer.decidedAt
          ? `decided ${when(t.offer.decidedAt)}`
          : `expires ${when(t.offer.expiresAt)}`;
      let detail = "";
      if (j?.error) detail = `<span class="reason">${esc(j.error)}</span>`;
      else if (j?.progress)
        detail =
          `<span data-progress-step="${j.progress.step}" data-progress-total="${j.progress.totalSteps}">` +
          `${progress(j.progress.step, j.progress.totalSteps)} step ${j.progress.step} of ${j.progress.totalSteps}` +
          `${j.progress.loss !== undefined ? `, loss ${j.progress.loss.toFixed(3)}` : ""}</span>`;
      else if (j && !j.finishedAt) detail = `provider says: ${esc(j.providerStatus ?? "not started")}`;
      return [
        ...(withPerson ? [personLink(t.person)] : []),
        when(t.offer.createdAt),
        `${state(t.offer.state)} <span class="muted">${esc(t.offer.origin)}</span>`,
        j ? state(j.state) : "–",
        `${esc(t.offer.provider)}<br><span class="muted">${esc(t.offer.baseModel)}</span>`,
        num(`${t.offer.examples} · ${t.offer.tokens.toLocaleString("en")}`),
        num(
          `${usd(j?.estimatedUsd ?? t.offer.estimatedUsd)}${t.offer.quotedUsd !== null ? `<br><span class="muted">quoted ${usd(t.offer.quotedUsd)}</span>` : ""}`,
        ),
        num(j?.billedUsd != null ? usd(j.billedUsd) : "–"),
        timings,
        detail,
      ];
    }),
    { id: "trainings" },
  );
}

/** The words of the limits command, each with its Limits key, in the order the page lists them. */
const LIMIT_ROWS = Object.entries(LIMIT_COMMAND_KEYS) as Array<
  [keyof typeof LIMIT_COMMAND_KEYS, keyof Limits]
>;

const LIMIT_LABELS: Record<keyof Limits, string> = {
  trainingPerUserMonthUsd: "Training per person per month (USD)",
  trainingTotalMonthUsd: "Training for everyone per month (USD)",
  trainingsPerUserMonth: "Trainings per person per month",
  chatPerDayUsd: "Chat for everyone per day (USD)",
};

export function limitValue(key: keyof Limits, v: number | null): string {
  if (v === null) return "off";
  return key === "trainingsPerUserMonth" ? String(v) : String(v);
}

export function limitsPage(input: {
  limits: Limits;
  spend: {
    period: string;
    day: string;
    total: { trainingReservedUsd: number; trainingSettledUsd: number; chatTodayUsd: number };
  };
  /** The highest per-person training spend and count this month (what the per-person limits meet first). */
  topPerson: { usd: number; trainings: number };
  changes: Array<{
    id: bigint;
    changedAt: Date;
    changedBy: string | null;
    limitKey: string;
    oldValue: unknown;
    newValue: unknown;
  }>;
  csrf: string;
}): string {
  const { limits, spend } = input;
  const used: Record<keyof Limits, { value: number; format: (v: number) => string; note: string }> = {
    trainingPerUserMonthUsd: { value: input.topPerson.usd, format: usd, note: "the person who spent most" },
    trainingTotalMonthUsd: {
      value: spend.total.trainingSettledUsd + spend.total.trainingReservedUsd,
      format: usd,
      note: `${spend.period}, billed + reserved`,
    },
    trainingsPerUserMonth: { value: input.topPerson.trainings, format: count, note: "the person with most" },
    chatPerDayUsd: { value: spend.total.chatTodayUsd, format: usd, note: `today, ${spend.day}` },
  };
  const rows = LIMIT_ROWS.map(([word, key]) => [
    `${esc(LIMIT_LABELS[key])}<br><code class="muted">${esc(word)}</code>`,
    `<span data-limit-key="${esc(key)}" data-limit-value="${esc(limitValue(key, limits[key]))}">${esc(limits[key] === null ? "no limit" : key === "trainingsPerUserMonth" ? String(limits[key]) : usd(limits[key]))}</span>`,
    `${gauge(used[key].value, limits[key], used[key].format, key)}<br><span class="muted">${esc(used[key].note)}</span>`,
    `<input type="text" name="${esc(word)}" value="${esc(limitValue(key, limits[key]))}" aria-label="${esc(LIMIT_LABELS[key])}" autocomplete="off">`,
  ]);
  const form =
    `<form method="post" action="/limits" class="limits-form">${csrfField(input.csrf)}` +
    table(["Limit", "Now", "Used", "New value"], rows, { id: "limits" }) +
    `<p class="muted">A number sets the limit, <code>off</code> removes it. Only the values you change are applied, ` +
    `through the same code as <code>/assistant limits set</code>.</p><button type="submit">Save limits</button></form>`;
  const keyWord = (k: string) => LIMIT_ROWS.find(([, key]) => key === k)?.[0] ?? k;
  const show = (v: unknown) => (v === null || v === undefined ? "off" : String(Number(v)));
  const audit = table(
    ["When (UTC)", "Who", "Limit", "Old → new"],
    input.changes.map((c) => [
      when(c.changedAt),
      c.changedBy ? `<code>${esc(c.changedBy)}</code>` : `<span class="muted">(forgotten operator)</span>`,
      `<code>${esc(keyWord(c.limitKey))}</code>`,
      `<span data-audit-key="${esc(c.limitKey)}" data-old="${esc(show(c.oldValue))}" data-new="${esc(show(c.newValue))}">${esc(show(c.oldValue))} → ${esc(show(c.newValue))}</span>`,
    ]),
    { id: "audit" },
  );
  return `${form}<h2>Changes (from here and from <code>/assistant limits set</code>)</h2>${audit}`;
}

export function deletionsPage(
  records: Array<{
    id: bigint;
    subjectHash: string;
    provider: string;
    kind: string;
    resourceId: string;
    status: string;
    reason: string | null;
    attempts: number;
    createdAt: Date;
    lastAttemptAt: Date | null;
  }>,
  csrf: string,
): string {
  const retryAll =
    `<form method="post" action="/deletions/retry" class="inline">${csrfField(csrf)}` +
    `<button type="submit" id="retry-all">Retry what is due</button></form>`;
  const rows = records.map((r) => [
    num(r.id.toString()),
    esc(r.provider),
    esc(r.kind),
    `<code>${esc(r.resourceId)}</code>`,
    state(r.status),
    num(String(r.attempts)),
    `${when(r.createdAt)}<br><span class="muted">last try ${when(r.lastAttemptAt)}</span>`,
    r.reason ? `<span class="reason">${esc(r.reason)}</span>` : "",
    r.status === "unsupported"
      ? `<span class="muted">delete it at ${esc(r.provider)} by hand</span>`
      : `<form method="post" action="/deletions/retry" class="inline">${csrfField(csrf)}` +
        `<input type="hidden" name="subject" value="${esc(r.subjectHash)}">` +
        `<button type="submit" class="secondary">Retry now</button></form>`,
  ]);
  return (
    `<p class="muted">What a person asked to be forgotten, or a finished training, left at a fine-tuning provider ` +
    `and the provider has not confirmed deleted yet. "Retry what is due" is <code>npm run admin -- deletions --retry</code> ` +
    `(failures wait longer each time); "Retry now" retries all of one person's at once. Rows go when the provider confirms.</p>` +
    `<div class="actions">${records.length ? retryAll : ""}</div>` +
    table(["Id", "Provider", "Kind", "Resource", "Status", "Attempts", "Queued", "Last reason", ""], rows, {
      id: "deletions",
    })
  );
}

export function loginPage(input: { error?: string; operator?: string }): string {
  return (
    `<form method="post" action="/login" class="login">` +
    (input.error ? `<p class="flash bad" role="alert">${esc(input.error)}</p>` : "") +
    `<label for="operator">Operator id</label>` +
    `<input type="text" id="operator" name="operator" value="${esc(input.operator ?? "")}" placeholder="discord:123… or slack:T…:U…" autocomplete="username" required>` +
    `<label for="token">Dashboard token</label>` +
    `<input type="password" id="token" name="token" autocomplete="current-password" required>` +
    `<button type="submit">Log in</button>` +
    `<p class="muted">Your id as listed in OPERATORS, and DASHBOARD_TOKEN from the bot's configuration.</p></form>`
  );
}

/** "4.20 (12) vs 2.10 (11), p 0.003 not worse": both arms' means and counts, and the test. */
function trialFigures(r: TrialResult | null): string {
  if (!r) return "–";
  const arms = `${r.candidate.mean.toFixed(2)} (${r.candidate.n}) vs ${r.incumbent.mean.toFixed(2)} (${r.incumbent.n})`;
  const basis =
    r.basis === "test" && r.pNotWorse !== undefined && r.pWorse !== undefined
      ? `, p ${Math.min(r.pNotWorse, r.pWorse).toFixed(3)} ${r.pNotWorse <= r.pWorse ? "not worse" : "worse"}`
      : r.basis === "estimate_at_max_days"
        ? ", by the estimate at the last day"
        : r.basis === "too_few_at_max_days"
          ? ", too few ratings by the last day"
          : "";
  return esc(`${arms}${basis}`);
}
