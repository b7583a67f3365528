// Text crossing the Slack boundary. Outgoing: the model writes Markdown; Slack renders its own
// `mrkdwn`, where `<...>` are control sequences (`<!channel>` pings everyone, `<@U1>` mentions).
// So every `&`, `<` and `>` from the model is escaped (no pings or disguised links can come from
// model output), and the common Markdown constructs are rewritten to their mrkdwn forms.
// Incoming: Slack escapes `&<>` and writes the bot's mention as `<@UBOT>`; the core wants plain text.

import type { MessageFormat } from "../shared/split-message.ts";

const FENCE = /^\s*```/;

/** Slack's three escapes (https://api.slack.com/reference/surfaces/formatting#escaping). */
function escapeControl(text: string, keepQuote: boolean): string {
  const quote = keepQuote ? /^(\s*)>/.exec(text) : null;
  const rest = quote ? text.slice(quote[0].length) : text;
  const escaped = rest.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
  return quote ? `${quote[1]}>${escaped}` : escaped;
}

/** Emphasis and links in (already escaped) prose. */
function convertEmphasis(text: string): string {
  return (
    text
      // *italic* -> _italic_ first, so the single stars that bold becomes are not touched again
      .replace(/(^|[^*\w])\*([^\s*](?:[^*\n]*?[^\s*])?)\*(?!\*)/g, "$1_$2_")
      .replace(/\*\*(\S(?:[^\n]*?\S)?)\*\*/g, "*$1*")
      .replace(/(^|\W)__(\S(?:[^\n]*?\S)?)__(?=\W|$)/g, "$1*$2*")
      .replace(/~~(\S(?:[^\n]*?\S)?)~~/g, "~$1~")
      .replace(
        /!?\[([^\]\n]+)\]\(((?:https?:\/\/|mailto:)[^\s)]+)\)/g,
        (_m, label: string, url: string) =>
          // `|` would end the label early and Slack has no escape for it.
          `<${url}|${label.replaceAll("|", "/")}>`,
      )
  );
}

/** Inline code spans are escaped but not converted; the rest is escaped, then converted. */
function convertSpans(text: string, atLineStart: boolean): string {
  return text
    .split(/(`[^`\n]+`)/)
    .map((part, i) =>
      i % 2 === 1 ? escapeControl(part, false) : convertEmphasis(escapeControl(part, atLineStart && i === 0)),
    )
    .join("");
}

/** One line outside code fences. Slack has no headings or lists: bold lines and bullets instead. */
function convertProse(line: string): string {
  const heading = /^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
  if (heading) return `*${convertSpans(heading[1]!.replace(/\*\*|__/g, ""), false)}*`;
  const bullet = /^(\s*)[*+-]\s+(?=\S)/.exec(line);
  if (bullet) return `${bullet[1]}• ${convertSpans(line.slice(bullet[0].length), false)}`;
  return convertSpans(line, true);
}

/** Model output (Markdown) -> Slack mrkdwn that can neither ping nor mention anyone. */
export function toSlackMrkdwn(markdown: string): string {
  let inFence = false;
  return markdown
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((line) => {
      if (FENCE.test(line)) {
        inFence = !inFence;
        // Slack shows a language tag (```ts) as code text; drop it.
        return line.replace(/^(\s*```)[\w+#.-]*\s*$/, "$1");
      }
      return inFence ? escapeControl(line, false) : convertProse(line);
    })
    .join("\n");
}

/** A user's message as the core should see it: without the bot's mention, Slack's escapes undone. */
export function fromSlackText(text: string, botUserId: string | undefined): string {
  const withoutBot = botUserId ? text.replace(new RegExp(`<@${botUserId}(?:\\|[^>]*)?>`, "g"), "") : text;
  return withoutBot
    .replaceAll("&lt;", "<")
    .replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&")
    .replace(/[ \t]{2,}/g, " ")
    .trim();
}

/**
 * Slack accepts 40,000 characters of text but stops rendering mrkdwn well long before that (and
 * clients collapse long posts), so each part of a long answer stays under this.
 */
export const SLACK_PART_CHARS = 3_500;
/** A section block's text is capped at 3,000 characters. */
export const SLACK_SECTION_CHARS = 3_000;

/** Answers as posts: rendered as mrkdwn, cut where Slack's `<...>` controls (links, mentions) stay whole. */
export const slackText: MessageFormat = {
  limit: SLACK_PART_CHARS,
  render: toSlackMrkdwn,
  atoms: /<[^<>\n]*>/g,
};

/** Text inside a section block (approval prompts, the forget warning). */
export const slackSection: MessageFormat = { ...slackText, limit: SLACK_SECTION_CHARS };
