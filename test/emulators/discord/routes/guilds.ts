// REST routes about guilds: the guild, its channels, roles and members.
import { Errors } from "../errors.ts";
import { compareSnowflakes } from "../ids.ts";
import { guildPayload } from "../payloads.ts";
import { type AddRoute, ok } from "../router.ts";
import type { DiscordState } from "../state.ts";

export function guildRoutes(add: AddRoute, s: DiscordState): void {
  const guildOf = (id: string) => {
    const guild = s.guilds.get(id);
    if (!guild) throw Errors.unknownGuild();
    return guild;
  };
  add("GET", "/guilds/:guildId", ({ params, query }) => {
    const guild = guildOf(params.guildId!);
    return ok({
      ...guildPayload(guild),
      ...(query.get("with_counts") === "true"
        ? { approximate_member_count: guild.members.size, approximate_presence_count: 0 }
        : {}),
    });
  });
  add("GET", "/guilds/:guildId/channels", ({ params }) =>
    ok(s.guildChannels(guildOf(params.guildId!).id).map((c) => s.channelPayload(c))),
  );
  add("GET", "/guilds/:guildId/roles", ({ params }) =>
    ok(s.guildCreatePayload(guildOf(params.guildId!)).roles),
  );
  add("GET", "/guilds/:guildId/members", ({ params, query }) => {
    const guild = guildOf(params.guildId!);
    const limit = Math.min(Number(query.get("limit") ?? 1), 1000);
    const after = query.get("after") ?? "0";
    const members = [...guild.members.values()]
      .filter((m) => compareSnowflakes(m.userId, after) > 0)
      .sort((a, b) => compareSnowflakes(a.userId, b.userId))
      .slice(0, limit);
    const payload = s.guildCreatePayload(guild).members;
    return ok(members.map((m) => payload.find((p) => p.user.id === m.userId)));
  });
  add("GET", "/guilds/:guildId/members/:userId", ({ params }) => {
    const guild = guildOf(params.guildId!);
    const member = s.guildCreatePayload(guild).members.find((m) => m.user.id === params.userId);
    if (!member) throw Errors.unknownMember();
    return ok(member);
  });
}
