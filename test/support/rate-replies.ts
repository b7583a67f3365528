// Makes a person "ready" the way they would: mention the bot, get a reply, react 👍 on it. The
// fine-tune suites all need this; each names its own questions so prompts stay distinguishable.
import type { Assistant, UserRef } from "../../src/core/ports.ts";

let counter = 0;

/**
 * `count` exchanges of `user`, each replied to and rated 👍 by its owner on Discord. Message ids are
 * unique across the whole test file (`m<n>` for the message, `rm<n>` for the reply).
 */
export async function rateReplies(
  assistant: Pick<Assistant, "mention" | "recordReplyMessages" | "reaction">,
  user: UserRef,
  count: number,
  text: (i: number, n: number) => string,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const n = ++counter;
    const messageId = `m${n}`;
    const r = await assistant.mention({ user, messageId, channelId: "c", text: text(i, n) });
    if (r.kind !== "reply" || r.exchangeId === undefined) throw new Error("no reply");
    await assistant.recordReplyMessages(r.exchangeId, [`r${messageId}`]);
    await assistant.reaction({
      platform: "discord",
      messageId: `r${messageId}`,
      reactorExternalId: user.externalId,
      emoji: "👍",
      action: "add",
    });
  }
}
