// The thread a message was written in, as its members see it, for the model's context
// (src/core/thread-context.ts): `conversations.replies` at reply time, needing the history scope of
// the conversation's kind (channels:history, groups:history, im:history, mpim:history). Slack
// returns a thread oldest first, so the pages are read up to the message being answered (`latest`,
// exclusive) and the newest `limit` kept. What Slack refuses (missing_scope, not_in_channel) throws;
// the core then answers without the context.
import type { webApi } from "@slack/bolt";
import type { VisibleMessage } from "../../core/ports.ts";
import type { SlackWorkspace } from "./listener-deps.ts";
import { fromSlackText } from "./mrkdwn.ts";

/** Messages per request (Slack's recommended maximum) and requests per reply. */
const PAGE = 200;
const MAX_PAGES = 5;

export interface ThreadPlace {
  channel: string;
  /** The thread's parent ts. */
  threadTs: string;
  /** The message being answered: it and everything after it are left out. */
  ts: string;
  /** Who is asking. */
  userId: string;
}

/** What `RespondInput.visibleConversation` calls for a Slack thread. */
export function slackVisibleConversation(
  client: webApi.WebClient,
  workspace: SlackWorkspace,
  place: ThreadPlace,
): (limit: number) => Promise<VisibleMessage[]> {
  return async (limit) => {
    const kept: VisibleMessage[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await client.conversations.replies({
        channel: place.channel,
        ts: place.threadTs,
        latest: place.ts,
        inclusive: false,
        limit: PAGE,
        ...(cursor ? { cursor } : {}),
      });
      for (const m of res.messages ?? []) {
        const visible = toVisible(m, workspace, place);
        if (visible) kept.push(visible);
      }
      if (kept.length > limit) kept.splice(0, kept.length - limit);
      cursor = res.response_metadata?.next_cursor || undefined;
      if (!res.has_more || !cursor) break;
    }
    return kept;
  };
}

/** A thread message; Slack sends `subtype` and `username` too, which the SDK's type leaves out. */
type SlackMessage = NonNullable<webApi.ConversationsRepliesResponse["messages"]>[number] & {
  subtype?: string;
  username?: string;
};

/** People's and bots' messages with text; joins, edits' shadows and the answered message are not. */
function toVisible(
  m: SlackMessage,
  workspace: SlackWorkspace,
  place: ThreadPlace,
): VisibleMessage | undefined {
  if (m.ts === place.ts || !m.text) return undefined;
  if (m.subtype !== undefined && m.subtype !== "bot_message" && m.subtype !== "thread_broadcast")
    return undefined;
  const ours =
    m.user === workspace.botUserId || (workspace.botId !== undefined && m.bot_id === workspace.botId);
  const text = fromSlackText(m.text, workspace.botUserId);
  if (!text) return undefined;
  if (ours) return { from: "assistant", authorKey: "bot", text };
  const author = m.user ?? m.bot_id ?? "unknown";
  return {
    from: m.user === place.userId ? "asker" : "other",
    authorKey: author,
    // Other apps' posts carry their name; people's messages carry only an id (no lookup per reply).
    ...(m.bot_profile?.name ? { name: m.bot_profile.name } : m.username ? { name: m.username } : {}),
    text,
  };
}
