// HTML building blocks of the dashboard: escaping, the page frame (navigation, logout, the one-shot
// message after a change), small formatters, and the stylesheet (served as /dashboard.css so the
// Content-Security-Policy can forbid inline styles and every script).

export function escapeHtml(value: unknown): string {
  return String(value)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

export const esc = escapeHtml;

export const NAV = [
  ["/", "Overview"],
  ["/people", "People"],
  ["/trainings", "Trainings"],
  ["/limits", "Limits"],
  ["/deletions", "Deletions owed"],
] as const;

export function page(input: {
  title: string;
  path: string;
  body: string;
  session?: { operator: string; csrf: string; flash?: { ok: boolean; text: string } };
}): string {
  const nav = input.session
    ? `<nav>${NAV.map(
        ([href, label]) =>
          `<a href="${href}"${href === input.path || (href !== "/" && input.path.startsWith(href)) ? ' class="here" aria-current="page"' : ""}>${label}</a>`,
      ).join("")}<span class="who">${esc(input.session.operator)}</span>` +
      `<form method="post" action="/logout" class="inline">${csrfField(input.session.csrf)}<button type="submit" class="link">Log out</button></form></nav>`
    : "";
  const flash = input.session?.flash
    ? `<p class="flash ${input.session.flash.ok ? "ok" : "bad"}" role="status">${esc(input.session.flash.text).replaceAll("\n", "<br>")}</p>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${esc(input.title)} · assistant dashboard</title>
<link rel="stylesheet" href="/dashboard.css"></head>
<body><header><span class="brand">Assistant dashboard</span>${nav}</header>
<main><h1>${esc(input.title)}</h1>${flash}${input.body}</main></body></html>`;
}

export function csrfField(token: string): string {
  return `<input type="hidden" name="csrf" value="${esc(token)}">`;
}

export function table(header: string[], rows: string[][], options: { id?: string } = {}): string {
  if (!rows.length) return `<p class="empty">None.</p>`;
  return (
    `<table${options.id ? ` id="${esc(options.id)}"` : ""}><thead><tr>${header.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>` +
    `<tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</tbody></table>`
  );
}

/** A date as UTC "YYYY-MM-DD HH:MM", or a dash. */
export function when(date: Date | null | undefined): string {
  return date ? `${date.toISOString().slice(0, 16).replace("T", " ")}` : "–";
}

export function duration(ms: number): string {
  const m = Math.round(ms / 60_000);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h} h ${m % 60} min` : `${Math.round(h / 24)} days`;
}

export function tile(label: string, value: string, note = "", name = ""): string {
  return `<div class="tile"${name ? ` data-tile="${esc(name)}"` : ""}><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div>${note ? `<div class="note">${esc(note)}</div>` : ""}</div>`;
}

/** A horizontal gauge: `used` against `limit` (no limit: no bar). */
export function gauge(
  used: number,
  limit: number | null,
  format: (v: number) => string,
  name: string,
): string {
  if (limit === null)
    return `<span class="gauge-none" data-gauge="${esc(name)}" data-used="${used}">${esc(format(used))} used · no limit</span>`;
  const share = limit > 0 ? Math.min(1, used / limit) : 1;
  const level = share >= 0.9 ? "high" : share >= 0.7 ? "mid" : "low";
  return (
    `<span class="gauge" data-gauge="${esc(name)}" data-used="${used}" data-limit="${limit}">` +
    `<svg viewBox="0 0 100 8" class="gauge-bar" aria-hidden="true"><rect class="track" width="100" height="8"/>` +
    `<rect class="fill ${level}" width="${Math.round(share * 1000) / 10}" height="8"/></svg>` +
    `${esc(format(used))} of ${esc(format(limit))}</span>`
  );
}

export const STYLESHEET = `
:root { --ink:#1d2430; --muted:#5f6b7a; --line:#dde3ea; --bg:#f6f8fa; --card:#fff; --accent:#2f6fdf;
  --accent2:#e0892b; --bad:#c8372d; --good:#2b8a3e; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--ink); background:var(--bg); }
header { display:flex; align-items:center; gap:18px; padding:10px 24px; background:#1d2430; color:#fff; flex-wrap:wrap; }
header .brand { font-weight:600; margin-right:12px; }
header nav { display:flex; align-items:center; gap:4px; flex:1; flex-wrap:wrap; }
header nav a { color:#cfd6df; text-decoration:none; padding:5px 10px; border-radius:5px; }
header nav a.here, header nav a:hover { background:#34405a; color:#fff; }
header .who { margin-left:auto; color:#9aa6b5; font-size:12px; }
main { max-width:1180px; margin:0 auto; padding:18px 24px 48px; }
h1 { font-size:22px; margin:6px 0 16px; }
h2 { font-size:16px; margin:26px 0 10px; }
.tiles { display:grid; grid-template-columns:repeat(auto-fill, minmax(200px, 1fr)); gap:12px; }
.tile { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:12px 14px; }
.tile .label { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.tile .value { font-size:22px; font-weight:600; margin-top:2px; }
.tile .note { color:var(--muted); font-size:12px; }
.charts { display:grid; grid-template-columns:repeat(auto-fill, minmax(520px, 1fr)); gap:14px; margin-top:14px; }
.chart-box { margin:0; background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px 6px; }
.chart-box figcaption { font-weight:600; margin-bottom:4px; }
svg.chart { width:100%; height:auto; display:block; }
svg .grid { stroke:#eef1f4; stroke-width:1; }
svg .axis-line { stroke:#aab4c0; stroke-width:1; }
svg .axis { fill:var(--muted); font-size:11px; }
svg .bar { fill:var(--accent); }
svg .bar.b { fill:var(--accent2); }
svg .line { fill:none; stroke:var(--accent); stroke-width:2; }
svg .dot { fill:var(--accent); }
svg .limit { stroke:var(--bad); stroke-width:2; stroke-dasharray:6 4; }
svg .limit-label { fill:var(--bad); font-size:11px; font-weight:600; }
svg .limit-label.none { fill:var(--muted); font-weight:400; }
table { border-collapse:collapse; width:100%; background:var(--card); border:1px solid var(--line); border-radius:8px; overflow:hidden; }
th, td { text-align:left; padding:7px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#eef2f6; font-size:12px; color:var(--muted); font-weight:600; }
tbody tr:last-child td { border-bottom:none; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
code, .id { font-family:ui-monospace, SFMono-Regular, Menlo, monospace; font-size:12.5px; }
a { color:var(--accent); }
.state { display:inline-block; padding:1px 7px; border-radius:10px; font-size:12px; background:#eef2f6; }
.state.succeeded, .state.approved { background:#e3f4e6; color:var(--good); }
.state.failed, .state.cancelled, .state.declined, .state.expired { background:#fbe7e5; color:var(--bad); }
.state.running, .state.pending, .state.uploading, .state.creating { background:#e6eefc; color:var(--accent); }
.reason { color:var(--bad); font-size:12.5px; }
.muted, .empty { color:var(--muted); }
.flash { padding:10px 14px; border-radius:6px; border:1px solid; }
.flash.ok { background:#eaf6ec; border-color:#b9e0c1; }
.flash.bad { background:#fdeceb; border-color:#f3c1bc; }
form.inline { display:inline; margin:0; }
.actions { margin:12px 0; }
button { font:inherit; padding:6px 14px; border-radius:5px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; }
button.secondary { background:#fff; color:var(--accent); }
button.link { background:none; border:none; color:#cfd6df; padding:5px 10px; }
input[type=text], input[type=password] { font:inherit; padding:6px 8px; border:1px solid #b8c2ce; border-radius:5px; width:100%; max-width:320px; }
.limits-form td input { max-width:160px; }
.login { max-width:380px; margin:60px auto; background:var(--card); border:1px solid var(--line); border-radius:8px; padding:22px 24px; }
.login label { display:block; margin:12px 0 4px; font-weight:600; }
.login button { margin-top:16px; }
.gauge { display:inline-flex; align-items:center; gap:8px; }
.gauge-bar { width:110px; height:9px; }
.gauge-bar .track { fill:#e8edf2; }
.gauge-bar .fill.low { fill:var(--good); } .gauge-bar .fill.mid { fill:var(--accent2); } .gauge-bar .fill.high { fill:var(--bad); }
.progress { width:90px; height:8px; vertical-align:middle; }
.pending-feature { border:2px dashed #b8c2ce; border-radius:8px; padding:12px 16px; color:var(--muted); background:#fbfcfd; }
.cols { display:grid; grid-template-columns:1fr 1fr; gap:14px; }
@media (max-width: 800px) { .cols { grid-template-columns:1fr; } .charts { grid-template-columns:1fr; } }
`;
