// REST routes about reactions: the bot's own (add, remove), removing someone's, listing who reacted,
// clearing all.
import { compareSnowflakes } from "../ids.ts";
import { emojiKey, parseEmoji } from "../payloads.ts";
import { react, unreact } from "../reactions.ts";
import { type AddRoute, noContent, ok, type Reply } from "../router.ts";
import type { DiscordState } from "../state.ts";
import { messageOf } from "./lookups.ts";

export function reactionRoutes(add: AddRoute, s: DiscordState): void {
  const reactionsBase = "/channels/:channelId/messages/:messageId/reactions";
  const botReact = (params: Record<string, string>, adding: boolean, userId = s.botUser.id): Reply => {
    const stored = messageOf(s, params.channelId!, params.messageId!);
    const options = {
      messageId: stored.message.id,
      channelId: stored.message.channel_id,
      userId,
      emoji: params.emoji!,
    };
    const event = adding ? react(s, options, { dispatch: false }) : unreact(s, options, { dispatch: false });
    return noContent(event.dispatch);
  };
  add("PUT", `${reactionsBase}/:emoji/@me`, ({ params }) => botReact(params, true));
  add("DELETE", `${reactionsBase}/:emoji/@me`, ({ params }) => botReact(params, false));
  add("DELETE", `${reactionsBase}/:emoji/:userId`, ({ params }) => botReact(params, false, params.userId));
  add("GET", `${reactionsBase}/:emoji`, ({ params, query }) => {
    const stored = messageOf(s, params.channelId!, params.messageId!);
    const state = stored.reactions.get(emojiKey(parseEmoji(params.emoji!)));
    const limit = Math.min(Number(query.get("limit") ?? 25), 100);
    const after = query.get("after") ?? "0";
    const ids = (state?.userIds ?? []).filter((id) => compareSnowflakes(id, after) > 0).slice(0, limit);
    return ok(ids.map((id) => s.userPayload(id)));
  });
  add("DELETE", reactionsBase, ({ params }) => {
    const stored = messageOf(s, params.channelId!, params.messageId!);
    stored.reactions.clear();
    return noContent();
  });
}
