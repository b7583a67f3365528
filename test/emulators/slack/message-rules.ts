// Slack's message limits as the emulator enforces them (chosen from Slack's documentation):
//
// * text: Slack truncates text over 40,000 characters (changelog 2018-04 "truncating really long
//   messages"); the emulator truncates too, or answers `msg_too_long` when `longText: "reject"`.
// * neither text nor blocks nor attachments: `no_text`.
// * blocks: at most 50 per message, each an object with a `type`; otherwise `invalid_blocks`, with
//   `response_metadata.messages` naming the JSON pointer like Slack's "[ERROR] ..." lines.
//   Per block: section text <= 3000 chars, section fields <= 10 items of <= 2000 chars;
//   header text <= 150; markdown block text <= 12,000; context <= 10 elements;
//   actions <= 25 elements; button text <= 75, value <= 2000, action_id <= 255; block_id <= 255.
// * Not modelled: the undocumented total-size limit behind `msg_blocks_too_long` (bolt-js #2509),
//   attachment limits, mrkdwn validity.

export const MAX_TEXT_CHARS = 40_000;
export const MAX_BLOCKS = 50;

export type MessageCheck =
  | { ok: true; text: string; truncated: boolean }
  | { ok: false; error: string; messages?: string[] };

export function checkMessage(
  args: Record<string, unknown>,
  longText: "truncate" | "reject",
  requireContent: boolean,
): MessageCheck {
  const text = typeof args.text === "string" ? args.text : "";
  const blocks = args.blocks;
  const hasBlocks = Array.isArray(blocks) && blocks.length > 0;
  const hasAttachments = Array.isArray(args.attachments) && args.attachments.length > 0;
  if (requireContent && text === "" && !hasBlocks && !hasAttachments) return { ok: false, error: "no_text" };
  if (blocks !== undefined) {
    const problems = blockProblems(blocks);
    if (problems.length > 0) return { ok: false, error: "invalid_blocks", messages: problems };
  }
  if (text.length > MAX_TEXT_CHARS) {
    if (longText === "reject") return { ok: false, error: "msg_too_long" };
    return { ok: true, text: text.slice(0, MAX_TEXT_CHARS), truncated: true };
  }
  return { ok: true, text, truncated: false };
}

function textOf(obj: unknown): string | undefined {
  if (typeof obj === "string") return obj;
  if (obj && typeof obj === "object" && typeof (obj as { text?: unknown }).text === "string") {
    return (obj as { text: string }).text;
  }
  return undefined;
}

function tooLong(path: string, value: string | undefined, max: number, out: string[]): void {
  if (value !== undefined && value.length > max) {
    out.push(`[ERROR] must be less than ${max + 1} characters [json-pointer:${path}]`);
  }
}

function blockProblems(blocks: unknown): string[] {
  const out: string[] = [];
  if (!Array.isArray(blocks)) return ["[ERROR] must be an array [json-pointer:/blocks]"];
  if (blocks.length > MAX_BLOCKS)
    out.push(`[ERROR] no more than ${MAX_BLOCKS} items allowed [json-pointer:/blocks]`);
  blocks.forEach((raw, i) => {
    const p = `/blocks/${i}`;
    if (!raw || typeof raw !== "object" || typeof (raw as { type?: unknown }).type !== "string") {
      out.push(`[ERROR] missing required field: type [json-pointer:${p}]`);
      return;
    }
    const block = raw as Record<string, unknown>;
    if (typeof block.block_id === "string") tooLong(`${p}/block_id`, block.block_id, 255, out);
    switch (block.type) {
      case "section": {
        tooLong(`${p}/text/text`, textOf(block.text), 3000, out);
        if (block.text === undefined && block.fields === undefined) {
          out.push(`[ERROR] must provide either text or fields [json-pointer:${p}]`);
        }
        if (Array.isArray(block.fields)) {
          if (block.fields.length > 10)
            out.push(`[ERROR] no more than 10 items allowed [json-pointer:${p}/fields]`);
          block.fields.forEach((f, j) => {
            tooLong(`${p}/fields/${j}/text`, textOf(f), 2000, out);
          });
        }
        break;
      }
      case "header":
        tooLong(`${p}/text/text`, textOf(block.text), 150, out);
        break;
      case "markdown":
        tooLong(`${p}/text`, textOf(block), 12_000, out);
        break;
      case "context":
        if (Array.isArray(block.elements) && block.elements.length > 10) {
          out.push(`[ERROR] no more than 10 items allowed [json-pointer:${p}/elements]`);
        }
        break;
      case "actions": {
        if (!Array.isArray(block.elements)) break;
        if (block.elements.length > 25)
          out.push(`[ERROR] no more than 25 items allowed [json-pointer:${p}/elements]`);
        block.elements.forEach((el, j) => {
          if (!el || typeof el !== "object") return;
          const e = el as Record<string, unknown>;
          const ep = `${p}/elements/${j}`;
          if (typeof e.action_id === "string") tooLong(`${ep}/action_id`, e.action_id, 255, out);
          if (e.type === "button") {
            tooLong(`${ep}/text/text`, textOf(e.text), 75, out);
            if (typeof e.value === "string") tooLong(`${ep}/value`, e.value, 2000, out);
          }
        });
        break;
      }
      default:
        break;
    }
  });
  return out;
}
