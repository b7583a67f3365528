// Inline SVG charts, drawn on the server (no script, no CDN). Every mark carries its figures twice:
// in data attributes (data-day, data-value, data-limit) for tests and scrapers, and in a <title>
// that the browser shows on hover.
import { escapeHtml as esc } from "./html.ts";

const W = 640;
const H = 210;
const LEFT = 52;
const RIGHT = 12;
const TOP = 14;
const BOTTOM = 26;

export interface Point {
  day: string;
  value: number;
}

export interface ChartSpec {
  /** Stable name, the svg's data-chart. */
  name: string;
  /** What the chart shows (its title). */
  label: string;
  points: Point[];
  format: (v: number) => string;
  kind?: "bar" | "line";
  /** A horizontal limit line; `null` value: no limit set (said so on the chart). */
  limit?: { value: number | null; label: string };
  /** Whole numbers (counts): the axis then ticks at whole numbers. */
  integer?: boolean;
  /** Fixed y range (ratings: 1..5). */
  yMin?: number;
  yMax?: number;
}

/** A round number at or above `v`: 1, 2, 2.5, 5 times a power of ten. */
function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const r2 = (n: number) => Math.round(n * 100) / 100;

export function chart(spec: ChartSpec): string {
  const kind = spec.kind ?? "bar";
  const values = spec.points.map((p) => p.value);
  const limit = spec.limit?.value ?? null;
  const yMin = spec.yMin ?? 0;
  const top = niceCeil(Math.max(...values, limit ?? 0, 0) * 1.1);
  // Counts tick at 0, half and top: an even whole top keeps the half a whole number too.
  const yMax = spec.yMax ?? (spec.integer ? Math.max(2, Math.ceil(top / 2) * 2) : top);
  const plotW = W - LEFT - RIGHT;
  const plotH = H - TOP - BOTTOM;
  const n = Math.max(spec.points.length, 1);
  const step = plotW / n;
  const y = (v: number) => r2(TOP + plotH - ((v - yMin) / (yMax - yMin || 1)) * plotH);
  const xMid = (i: number) => r2(LEFT + step * i + step / 2);

  const ticks = [0, 0.5, 1].map((f) => yMin + (yMax - yMin) * f);
  const grid = ticks
    .map(
      (t) =>
        `<line class="grid" x1="${LEFT}" x2="${W - RIGHT}" y1="${y(t)}" y2="${y(t)}"/>` +
        `<text class="axis" x="${LEFT - 6}" y="${y(t) + 4}" text-anchor="end">${esc(spec.format(t))}</text>`,
    )
    .join("");
  const labelEvery = Math.max(1, Math.ceil(n / 6));
  const xLabels = spec.points
    .map((p, i) =>
      i % labelEvery === 0 || i === n - 1
        ? `<text class="axis" x="${xMid(i)}" y="${H - 8}" text-anchor="middle">${esc(p.day.slice(5))}</text>`
        : "",
    )
    .join("");

  let marks: string;
  if (kind === "bar") {
    const bw = r2(Math.max(step * 0.7, 1));
    marks = spec.points
      .map((p, i) => {
        const top = y(Math.max(p.value, yMin));
        return (
          `<rect class="bar" data-day="${esc(p.day)}" data-value="${r2(p.value)}" x="${r2(xMid(i) - bw / 2)}" ` +
          `y="${top}" width="${bw}" height="${r2(Math.max(TOP + plotH - top, 0))}">` +
          `<title>${esc(p.day)}: ${esc(spec.format(p.value))}</title></rect>`
        );
      })
      .join("");
  } else {
    const coords = spec.points.map((p, i) => `${xMid(i)},${y(p.value)}`).join(" ");
    marks =
      (spec.points.length > 1 ? `<polyline class="line" points="${coords}"/>` : "") +
      spec.points
        .map(
          (p, i) =>
            `<circle class="dot" data-day="${esc(p.day)}" data-value="${r2(p.value)}" cx="${xMid(i)}" cy="${y(p.value)}" r="3.5">` +
            `<title>${esc(p.day)}: ${esc(spec.format(p.value))}</title></circle>`,
        )
        .join("");
  }

  let limitMark = "";
  if (spec.limit && limit !== null) {
    limitMark =
      `<line class="limit" data-limit="${r2(limit)}" x1="${LEFT}" x2="${W - RIGHT}" y1="${y(limit)}" y2="${y(limit)}">` +
      `<title>${esc(spec.limit.label)}: ${esc(spec.format(limit))}</title></line>` +
      `<text class="limit-label" x="${LEFT + 4}" y="${y(limit) - 5}">${esc(spec.limit.label)} ${esc(spec.format(limit))}</text>`;
  } else if (spec.limit) {
    limitMark = `<text class="limit-label none" x="${W - RIGHT - 4}" y="${TOP + 10}" text-anchor="end">${esc(spec.limit.label)}: no limit set</text>`;
  }
  const empty = spec.points.length
    ? ""
    : `<text class="axis" x="${W / 2}" y="${H / 2}" text-anchor="middle">nothing yet</text>`;
  const limitAttr = spec.limit ? ` data-limit="${limit === null ? "none" : r2(limit)}"` : "";
  return (
    `<figure class="chart-box"><figcaption>${esc(spec.label)}</figcaption>` +
    `<svg class="chart" data-chart="${esc(spec.name)}"${limitAttr} viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(spec.label)}">` +
    `<title>${esc(spec.label)}</title>${grid}${marks}${limitMark}${xLabels}${empty}` +
    `<line class="axis-line" x1="${LEFT}" x2="${W - RIGHT}" y1="${TOP + plotH}" y2="${TOP + plotH}"/></svg></figure>`
  );
}

export interface PairSpec {
  name: string;
  label: string;
  groups: Array<{ key: string; a: number | null; b: number | null; title: string }>;
  labels: { a: string; b: string };
  yMax: number;
  format: (v: number) => string;
}

/** Two bars per group (base model against their own model, estimate against billed). */
export function pairedBars(spec: PairSpec): string {
  const plotW = W - LEFT - RIGHT;
  const plotH = H - TOP - BOTTOM;
  const n = Math.max(spec.groups.length, 1);
  const step = plotW / n;
  const bw = r2(Math.min(step * 0.35, 36));
  const yMax =
    spec.yMax > 0
      ? spec.yMax
      : niceCeil(Math.max(...spec.groups.flatMap((g) => [g.a ?? 0, g.b ?? 0]), 0) * 1.1);
  const y = (v: number) => r2(TOP + plotH - (v / yMax) * plotH);
  const bar = (g: PairSpec["groups"][number], which: "a" | "b", x: number) => {
    const v = g[which];
    if (v === null) return "";
    return (
      `<rect class="bar ${which}" data-group="${esc(g.key)}" data-series="${which === "a" ? esc(spec.labels.a) : esc(spec.labels.b)}" ` +
      `data-value="${r2(v)}" x="${r2(x)}" y="${y(v)}" width="${bw}" height="${r2(TOP + plotH - y(v))}">` +
      `<title>${esc(g.title)} · ${esc(which === "a" ? spec.labels.a : spec.labels.b)}: ${esc(spec.format(v))}</title></rect>`
    );
  };
  const marks = spec.groups
    .map((g, i) => {
      const mid = LEFT + step * i + step / 2;
      return (
        bar(g, "a", mid - bw - 1) +
        bar(g, "b", mid + 1) +
        `<text class="axis" x="${r2(mid)}" y="${H - 8}" text-anchor="middle">${esc(g.key)}</text>`
      );
    })
    .join("");
  const ticks = [0, 0.5, 1].map((f) => yMax * f);
  const grid = ticks
    .map(
      (t) =>
        `<line class="grid" x1="${LEFT}" x2="${W - RIGHT}" y1="${y(t)}" y2="${y(t)}"/>` +
        `<text class="axis" x="${LEFT - 6}" y="${y(t) + 4}" text-anchor="end">${esc(spec.format(t))}</text>`,
    )
    .join("");
  const legend =
    `<rect class="bar a" x="${LEFT + 4}" y="${TOP - 10}" width="10" height="8"/><text class="axis" x="${LEFT + 18}" y="${TOP - 3}">${esc(spec.labels.a)}</text>` +
    (spec.labels.b
      ? `<rect class="bar b" x="${LEFT + 124}" y="${TOP - 10}" width="10" height="8"/><text class="axis" x="${LEFT + 138}" y="${TOP - 3}">${esc(spec.labels.b)}</text>`
      : "");
  const empty = spec.groups.length
    ? ""
    : `<text class="axis" x="${W / 2}" y="${H / 2}" text-anchor="middle">nothing yet</text>`;
  return (
    `<figure class="chart-box"><figcaption>${esc(spec.label)}</figcaption>` +
    `<svg class="chart" data-chart="${esc(spec.name)}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(spec.label)}">` +
    `<title>${esc(spec.label)}</title>${grid}${marks}${legend}${empty}` +
    `<line class="axis-line" x1="${LEFT}" x2="${W - RIGHT}" y1="${TOP + plotH}" y2="${TOP + plotH}"/></svg></figure>`
  );
}
