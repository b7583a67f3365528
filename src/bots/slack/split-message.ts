// Long replies become several posts. Slack accepts 40,000 characters of text but stops rendering
// mrkdwn well long before that (and clients collapse long posts), so each part stays under
// SLACK_PART_CHARS. Cuts fall between paragraphs, then between lines, then between words; a code
// fence that must be cut is closed at the end of one part and reopened at the start of the next,
// so every part renders on its own.

export const SLACK_PART_CHARS = 3_500;

const FENCE = /^\s*```/;
const CLOSE = "```";

interface Block {
  kind: "text" | "code";
  lines: string[];
}

/** Paragraphs (split at blank lines) and fenced code blocks (kept whole, blank lines included). */
function toBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  let current: Block | undefined;
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    if (current?.kind === "code") {
      current.lines.push(line);
      if (FENCE.test(line)) current = undefined;
      continue;
    }
    if (FENCE.test(line)) {
      current = { kind: "code", lines: [line] };
      blocks.push(current);
      continue;
    }
    if (line.trim() === "") {
      current = undefined;
      continue;
    }
    if (current === undefined) {
      current = { kind: "text", lines: [] };
      blocks.push(current);
    }
    current.lines.push(line);
  }
  return blocks;
}

/** Cuts one line into pieces of at most `limit`, between words where it can (Slack links stay whole). */
export function splitLine(line: string, limit: number): string[] {
  if (line.length <= limit) return [line];
  const tokens = line.match(/<[^<>\n]*>|\s+|[^\s<]+|</g) ?? [];
  const pieces: string[] = [];
  let current = "";
  for (const token of tokens) {
    if (current.length + token.length <= limit) {
      current += token;
      continue;
    }
    if (current.trim() !== "") pieces.push(current.trimEnd());
    current = /^\s+$/.test(token) ? "" : token;
    while (current.length > limit) {
      pieces.push(current.slice(0, limit));
      current = current.slice(limit);
    }
  }
  if (current.trim() !== "") pieces.push(current.trimEnd());
  return pieces;
}

/** Lines packed greedily into pieces of at most `limit` characters (joined by newlines). */
function packLines(lines: string[], limit: number): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const line of lines.flatMap((l) => splitLine(l, limit))) {
    const added = current.length === 0 ? line.length : size + 1 + line.length;
    if (added > limit && current.length > 0) {
      out.push(current);
      current = [];
      size = 0;
    }
    size = current.length === 0 ? line.length : size + 1 + line.length;
    current.push(line);
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** A block that is too long on its own, as self-contained pieces (code pieces fenced each). */
function splitBlock(block: Block, limit: number): string[] {
  if (block.kind === "text") return packLines(block.lines, limit).map((p) => p.join("\n"));
  const [opener = CLOSE, ...rest] = block.lines;
  const closed = rest.length > 0 && FENCE.test(rest[rest.length - 1]!);
  const body = closed ? rest.slice(0, -1) : rest;
  const budget = Math.max(1, limit - opener.length - CLOSE.length - 2);
  return packLines(body, budget).map((p) => [opener, ...p, CLOSE].join("\n"));
}

/** The parts to post, in order; each at most `limit` characters. Empty text gives no parts. */
export function splitMessage(text: string, limit = SLACK_PART_CHARS): string[] {
  const parts: string[] = [];
  let current = "";
  const add = (piece: string, separator: string) => {
    if (current === "") current = piece;
    else if (current.length + separator.length + piece.length <= limit) current += separator + piece;
    else {
      parts.push(current);
      current = piece;
    }
  };
  for (const block of toBlocks(text)) {
    const whole = block.lines.join("\n");
    if (whole.length <= limit) {
      add(whole, "\n\n");
      continue;
    }
    splitBlock(block, limit).forEach((piece, i) => {
      add(piece, i === 0 ? "\n\n" : "\n");
    });
  }
  if (current !== "") parts.push(current);
  return parts;
}
