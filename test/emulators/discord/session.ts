/**
 * What a gateway session is sent without being asked (READY, one GUILD_CREATE per guild right
 * after it) or on request (GUILD_MEMBERS_CHUNK), and the application the bot belongs to.
 */
import type { GatewayReadyDispatchData } from "discord.js";
import type { GatewaySession } from "./gateway.ts";
import { applicationPayload, botSelfPayload, memberPayload, userPayload } from "./payloads.ts";
import type { DiscordState } from "./state.ts";

export function readyPayload(
  state: DiscordState,
  session: GatewaySession,
  resumeGatewayUrl: string,
): GatewayReadyDispatchData {
  const shard = session.identify.shard;
  return {
    v: 10,
    user: botSelfPayload(state.botUser),
    guilds: [...state.guilds.keys()].map((id) => ({ id, unavailable: true })),
    session_id: session.id,
    resume_gateway_url: resumeGatewayUrl,
    ...(shard ? { shard } : {}),
    application: {
      id: state.config.applicationId,
      flags: state.config.applicationFlags,
      flags_new: String(state.config.applicationFlags),
    },
  };
}

/** Everything sent right after READY: one GUILD_CREATE per guild. */
export function afterReady(state: DiscordState): Array<{ t: string; d: unknown }> {
  return [...state.guilds.values()].map((guild) => ({
    t: "GUILD_CREATE",
    d: state.guildCreatePayload(guild),
  }));
}

/** REQUEST_GUILD_MEMBERS (op 8) → GUILD_MEMBERS_CHUNK. */
export function requestGuildMembers(
  state: DiscordState,
  d: Record<string, unknown>,
): Array<{ t: string; d: unknown }> {
  const guild = state.guilds.get(String(d.guild_id));
  if (!guild) return [];
  const ids = d.user_ids === undefined ? undefined : ([] as unknown[]).concat(d.user_ids).map(String);
  const query = typeof d.query === "string" ? d.query.toLowerCase() : "";
  const limit = typeof d.limit === "number" && d.limit > 0 ? d.limit : Number.POSITIVE_INFINITY;
  const members = [...guild.members.values()]
    .filter((m) =>
      ids ? ids.includes(m.userId) : state.ensureUser(m.userId).username.toLowerCase().startsWith(query),
    )
    .slice(0, limit);
  return [
    {
      t: "GUILD_MEMBERS_CHUNK",
      d: {
        guild_id: guild.id,
        members: members.map((m) => memberPayload(m, state.ensureUser(m.userId))),
        chunk_index: 0,
        chunk_count: 1,
        not_found: ids ? ids.filter((id) => !guild.members.has(id)) : [],
        ...(typeof d.nonce === "string" ? { nonce: d.nonce } : {}),
      },
    },
  ];
}

/** The bot's application, as /applications/@me returns it. */
export function botApplication(state: DiscordState) {
  const owner = [...state.users.values()].find((u) => !u.bot) ?? state.botUser;
  return applicationPayload({
    id: state.config.applicationId,
    name: state.config.applicationName,
    bot: userPayload(state.botUser),
    owner: userPayload(owner),
    flags: state.config.applicationFlags,
  });
}
