// The conversation a message was written in, as its readers see it, for the model's context
// (src/core/thread-context.ts): in a thread, its latest messages before this one
// (`GET /channels/{thread}/messages?before=`), and the message it was started from when all of it
// fits (`GET /channels/{parent}/messages/{thread}`); elsewhere, when the message is a reply, the chain of
// messages it replies to, up to REPLY_CHAIN_LIMIT (each one from discord.js's cache, or
// `GET /channels/{id}/messages/{id}`). Message text needs the Message Content intent (the bot asks
// for it); reading history needs Read Message History. What Discord refuses throws; the core then
// answers without the context.
import type { Message } from "discord.js";
import type { VisibleMessage } from "../../core/ports.ts";

/** Replies followed up a chain: each may cost a request, and older links matter less. */
export const REPLY_CHAIN_LIMIT = 10;
/** Discord's largest page of channel history. */
const PAGE_LIMIT = 100;

/**
 * What `RespondInput.visibleConversation` calls for `message`, or undefined when it is neither in a
 * thread nor a reply. `textOf` is how the adapter turns a message into the model's text.
 */
export function discordVisibleConversation(
  message: Message,
  textOf: (m: Message) => string,
): ((limit: number) => Promise<VisibleMessage[]>) | undefined {
  const channel = message.channel;
  const visible = (m: Message) => toVisible(m, message, textOf);
  if (channel.isThread()) {
    return async (limit) => {
      const asked = Math.max(1, Math.min(limit, PAGE_LIMIT));
      const page = await channel.messages.fetch({ limit: asked, before: message.id });
      const messages = [...page.values()].sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
      // The whole thread fitted: a thread started from a message begins with that message, which
      // lives in the parent channel under the thread's id. Other threads have none (404, ignored).
      if (page.size < asked) {
        const starter = await channel.fetchStarterMessage().catch(() => null);
        if (starter) messages.unshift(starter);
      }
      return messages.flatMap((m) => visible(m) ?? []);
    };
  }
  if (!message.reference?.messageId) return undefined;
  return async (limit) => {
    const chain: Message[] = [];
    let current = message;
    while (chain.length < Math.min(limit, REPLY_CHAIN_LIMIT) && current.reference?.messageId) {
      // A link to another channel (a forward) or a deleted message ends the chain; what was read stays.
      if (current.reference.channelId !== current.channelId) break;
      try {
        current = await current.fetchReference();
      } catch (e) {
        if (chain.length === 0) throw e;
        break;
      }
      chain.push(current);
    }
    return chain.reverse().flatMap((m) => visible(m) ?? []);
  };
}

function toVisible(m: Message, asked: Message, textOf: (m: Message) => string): VisibleMessage | undefined {
  if (m.system) return undefined;
  const text = textOf(m);
  if (!text) return undefined;
  if (m.author.id === m.client.user.id) return { from: "assistant", authorKey: m.author.id, text };
  return {
    from: m.author.id === asked.author.id ? "asker" : "other",
    authorKey: m.author.id,
    name: m.member?.displayName ?? m.author.displayName,
    text,
  };
}
