// Long answers become several messages, on every platform by the same rules. The core writes
// Markdown; a platform's `MessageFormat` says how long one message may be, how the Markdown is
// rendered for it (before cutting, so the limit holds for what is posted) and which spans a cut must
// never fall inside. Cuts prefer, in order, paragraph breaks, line breaks, sentence ends and spaces,
// and only cut inside a word when a "word" is longer than a whole message. A ``` code block that has
// to be cut is closed at the end of one part and reopened, with the same language, at the start of
// the next, so every part renders on its own. Inside a code block only line breaks are used (a
// sentence or space cut would change the code someone copies).

export interface MessageFormat {
  /** The most characters one message (or block) may carry on the platform. */
  limit: number;
  /** Markdown -> what the platform renders (Slack mrkdwn); none: posted as written (Discord). */
  render?: (markdown: string) => string;
  /**
   * Spans no cut may fall inside, unless one alone is longer than a message (Slack's `<url|label>`
   * links and `<@U1>` mentions). Must not match across lines.
   */
  atoms?: RegExp;
}

/** Lines whose trimmed start is 3+ backticks open or close a fence (how models write code). */
const FENCE = /^[ \t]*(`{3,})(.*)$/;
/** A part never reopens a fence with more than this much of its info string. */
const MAX_REOPEN = 40;
/** Cuts at paragraph, line or sentence level must fill at least this much of a part. */
const MIN_FILL = 0.4;

interface Fence {
  /** The opening line to repeat at the start of the next part, e.g. "```ts". */
  opener: string;
  /** The backticks that close it. */
  marker: string;
}

interface Cut {
  /** The part ends here (exclusive). */
  end: number;
  /** The rest starts here: the separator between `end` and `next` is dropped. */
  next: number;
}

/** The parts to post, in order, each at most `format.limit` characters. Empty text gives none. */
export function splitMessage(markdown: string, format: MessageFormat): string[] {
  const { limit } = format;
  const rendered = format.render ? format.render(markdown) : markdown;
  const parts: string[] = [];
  let rest = rendered.replace(/\r\n/g, "\n").trim();
  let carried: Fence | undefined;
  // Room for "\n" + the longest closing marker in the text, when a part ends inside a code block.
  const closeReserve = 1 + Math.max(3, ...[...rest.matchAll(/`{3,}/g)].map((m) => m[0].length));

  while (rest.length > 0) {
    const head = carried ? `${carried.opener}\n` : "";
    if (head.length + rest.length <= limit) {
      parts.push(head + rest);
      break;
    }
    const budget = limit - head.length;
    if (budget - closeReserve < 1) throw new Error(`splitMessage: limit ${limit} is too small`);
    const cut = chooseCut(rest, budget, budget - closeReserve, carried, format.atoms);
    let part = rest.slice(0, cut.end).replace(/\s+$/, "");
    const openAtEnd = fenceAfter(rest.slice(0, cut.end), carried);
    if (openAtEnd) part += `\n${openAtEnd.marker}`;
    if (part.trim().length > 0) parts.push(head + part);
    carried = openAtEnd;
    rest = rest.slice(cut.next);
    // A part that would start with blank lines (or, outside code, spaces) starts at the text instead.
    rest = carried ? rest.replace(/^\n+/, "") : rest.replace(/^\s+/, "");
  }
  return parts;
}

/** One message that must not be split (a button label, a prompt's edit): cut with an ellipsis. */
export function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

/** The fence still open after `text`, given the one open before it. */
function fenceAfter(text: string, open: Fence | undefined): Fence | undefined {
  let current = open;
  for (const line of text.split("\n")) current = nextFenceState(line, current);
  return current;
}

function nextFenceState(line: string, open: Fence | undefined): Fence | undefined {
  const m = FENCE.exec(line);
  if (!m) return open;
  const marker = m[1]!;
  const info = m[2]!.trim();
  if (open) {
    // A closing fence has at least as many backticks as the opener and nothing after them.
    return marker.length >= open.marker.length && info === "" ? undefined : open;
  }
  // "```code```" on one line opens and closes at once.
  if (info.includes("```")) return undefined;
  return { opener: `${marker}${info}`.slice(0, MAX_REOPEN), marker };
}

/**
 * Where to end the next part of `rest`: at most `budget` characters long, or `fencedBudget` when it
 * ends inside a code block (the closing fence is added). Candidates are tried by kind; each kind
 * only if it leaves the part at least MIN_FILL full, then the fallbacks.
 */
function chooseCut(
  rest: string,
  budget: number,
  fencedBudget: number,
  carried: Fence | undefined,
  atoms: RegExp | undefined,
): Cut {
  const insideFence = fenceMap(rest, carried);
  const insideAtom = atomMap(rest.slice(0, budget + 1), atoms);
  const minFill = Math.floor(budget * MIN_FILL);
  const window = rest.slice(0, budget + 1);

  const lastMatch = (pattern: RegExp, min: number, allowInFence: boolean): Cut | undefined => {
    let best: Cut | undefined;
    for (const m of window.matchAll(pattern)) {
      const end = m.index + (m[1]?.length ?? 0);
      const next = m.index + m[0].length;
      const fenced = insideFence(end);
      if (end < Math.max(min, 1) || end > (fenced ? fencedBudget : budget)) continue;
      if (!allowInFence && fenced) continue;
      if (insideAtom(end)) continue;
      if (endsWithOpener(rest, end, carried)) continue;
      if (fenced && nextIsCloser(rest, end, next, carried)) continue;
      best = { end, next };
    }
    return best;
  };

  const hard = () => {
    const end = hardCut(rest, insideFence(budget) ? fencedBudget : budget, insideAtom);
    return { end, next: end };
  };
  return (
    lastMatch(/\n{2,}/g, minFill, true) ??
    lastMatch(/\n/g, minFill, true) ??
    lastMatch(/([.!?…]["'”’)\]]*)\s+/g, minFill, false) ??
    lastMatch(/\n/g, 1, true) ??
    lastMatch(/[ \t]+/g, 1, false) ??
    lastMatch(/[ \t]+/g, 1, true) ??
    hard()
  );
}

/** Whether a cut at `end` would leave a fence opener as the part's last line (an empty block). */
function endsWithOpener(rest: string, end: number, carried: Fence | undefined): boolean {
  const before = rest.slice(0, end);
  const lastLine = before.slice(before.lastIndexOf("\n") + 1);
  if (!FENCE.test(lastLine)) return false;
  const prior = before.slice(0, Math.max(0, before.lastIndexOf("\n")));
  const open = before.lastIndexOf("\n") >= 0 ? fenceAfter(prior, carried) : carried;
  return open === undefined && fenceAfter(lastLine, undefined) !== undefined;
}

/** Whether the rest after a cut would start with the fence's closing line (an empty block). */
function nextIsCloser(rest: string, end: number, next: number, carried: Fence | undefined): boolean {
  const open = fenceAfter(rest.slice(0, end), carried);
  if (!open) return false;
  const nextLine = rest.slice(next).replace(/^\n+/, "").split("\n", 1)[0] ?? "";
  return nextFenceState(nextLine, open) === undefined;
}

/** For each position: is it inside a code block (including on its fence lines)? */
function fenceMap(rest: string, carried: Fence | undefined): (index: number) => boolean {
  const ranges: Array<[number, number]> = [];
  let open = carried;
  let openedAt = open ? 0 : -1;
  let offset = 0;
  for (const line of rest.split("\n")) {
    const after = nextFenceState(line, open);
    if (!open && after) openedAt = offset;
    if (open && !after) ranges.push([openedAt, offset + line.length]);
    open = after;
    offset += line.length + 1;
  }
  if (open) ranges.push([openedAt, rest.length]);
  return (index) => ranges.some(([from, to]) => index > from && index <= to);
}

/** For each position: would a cut there split an atom? (Cuts at an atom's edges are fine.) */
function atomMap(window: string, atoms: RegExp | undefined): (index: number) => boolean {
  if (!atoms) return () => false;
  const global = atoms.global ? atoms : new RegExp(atoms.source, `${atoms.flags}g`);
  const spans = [...window.matchAll(global)].map((m) => [m.index, m.index + m[0].length] as const);
  return (index) => spans.some(([from, to]) => index > from && index < to);
}

/**
 * Cut inside a word: before an atom the cut would split (when one starts after the part's start),
 * and never between the halves of a surrogate pair.
 */
function hardCut(rest: string, budget: number, insideAtom: (index: number) => boolean): number {
  if (insideAtom(budget)) {
    let start = budget;
    while (start > 0 && insideAtom(start)) start--;
    if (start > 0) return start;
  }
  const code = rest.charCodeAt(budget - 1);
  return code >= 0xd800 && code <= 0xdbff ? budget - 1 : budget;
}
