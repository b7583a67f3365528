// Reactions on the bot's messages become `assistant.reaction` calls (the core turns them into
// ratings, and ignores anything that is not a reply or not the asker's).
//
// Two paths, one per kind of channel, so no reaction is handled twice:
// - Server channels: discord.js's messageReactionAdd/Remove. With the Message/Reaction/User
//   partials, reactions on messages from before a restart arrive as stubs; fetching the reaction
//   fetches its message, which tells whether the bot wrote it.
// - DMs: the raw MESSAGE_REACTION_ADD/REMOVE packet. discord.js 14.26.2-14.28.1 drops reactions in
//   DM channels it has not cached (issue #11486), i.e. every DM reaction after a restart. The
//   packet's `message_author_id` (on ADD) says whether the rated message is the bot's; REMOVE has
//   no author, and the core ignores ids that are not its replies. When discord.js does emit a DM
//   reaction (cached channel), the event handler skips it.
import {
  type Client,
  Events,
  GatewayDispatchEvents,
  type GatewayMessageReactionAddDispatchData,
  type GatewayMessageReactionRemoveDispatchData,
  type MessageReaction,
  type PartialMessageReaction,
  type PartialUser,
  type User,
} from "discord.js";
import type { Assistant, Logger } from "../../core/ports.ts";
import { type InFlight, logFailure } from "../shared/in-flight.ts";
import { externalUserId } from "./identity.ts";

export interface ReactionDeps {
  assistant: Assistant;
  log: Logger;
  inFlight: InFlight;
}

type Action = "add" | "remove";

export function attachReactionHandlers(client: Client, deps: ReactionDeps): void {
  const onEvent =
    (action: Action) => (reaction: MessageReaction | PartialMessageReaction, user: User | PartialUser) => {
      // DMs are handled from the raw packet below.
      if (!reaction.message.guildId) return;
      // A partial user's `bot` is null: the core still ignores anyone but the asker.
      if (user.bot || user.id === client.user?.id) return;
      void deps.inFlight.run(
        () => onServerReaction(reaction, user.id, action, deps),
        logFailure(deps.log, `reaction ${action}`, { messageId: reaction.message.id }),
      );
    };
  client.on(Events.MessageReactionAdd, onEvent("add"));
  client.on(Events.MessageReactionRemove, onEvent("remove"));

  client.on(Events.Raw, (packet: { t?: string; d?: unknown }) => {
    const action =
      packet.t === GatewayDispatchEvents.MessageReactionAdd
        ? "add"
        : packet.t === GatewayDispatchEvents.MessageReactionRemove
          ? "remove"
          : undefined;
    if (!action) return;
    const d = packet.d as GatewayMessageReactionAddDispatchData | GatewayMessageReactionRemoveDispatchData;
    if (d.guild_id) return;
    const botId = client.user?.id;
    if (d.user_id === botId) return;
    if ("message_author_id" in d && d.message_author_id !== undefined && d.message_author_id !== botId)
      return;
    const emoji = d.emoji.name;
    if (!emoji) return;
    void deps.inFlight.run(
      async () => {
        await deps.assistant.reaction({
          platform: "discord",
          messageId: d.message_id,
          reactorExternalId: externalUserId(d.user_id),
          emoji,
          action,
        });
      },
      logFailure(deps.log, `dm reaction ${action}`, { messageId: d.message_id }),
    );
  });
}

async function onServerReaction(
  reaction: MessageReaction | PartialMessageReaction,
  userId: string,
  action: Action,
  deps: ReactionDeps,
): Promise<void> {
  let full: MessageReaction | PartialMessageReaction = reaction;
  try {
    if (full.partial) full = await full.fetch();
    if (full.message.partial) await full.message.fetch();
  } catch (error) {
    // Deleted meanwhile, or no longer visible to the bot: nothing to rate.
    deps.log.debug("could not fetch a reacted message", { messageId: reaction.message.id, error });
    return;
  }
  if (full.message.author?.id !== full.client.user.id) return;
  const emoji = full.emoji.name;
  if (!emoji) return;
  await deps.assistant.reaction({
    platform: "discord",
    messageId: full.message.id,
    reactorExternalId: externalUserId(userId),
    emoji,
    action,
  });
}
