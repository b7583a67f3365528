// REST routes about the bot itself: the gateway URL, users and DM channels, the application, and
// application commands (global and per guild: list, replace all, create or update one, delete).
import { Errors } from "../errors.ts";
import { snowflake } from "../ids.ts";
import { commandPayload, userPayload } from "../payloads.ts";
import { type AddRoute, noContent, ok } from "../router.ts";
import { botApplication } from "../session.ts";
import type { DiscordState } from "../state.ts";
import { validateCommands } from "./validation.ts";

export function applicationRoutes(add: AddRoute, s: DiscordState, gatewayUrl: () => string): void {
  add("GET", "/gateway", () => ok({ url: gatewayUrl() }), false);
  add("GET", "/gateway/bot", () =>
    ok({
      url: gatewayUrl(),
      shards: 1,
      session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
    }),
  );
  add("GET", "/users/@me", () => ok(s.userPayload(s.botUser.id)));
  add("GET", "/users/:userId", ({ params }) => {
    const user = s.users.get(params.userId!);
    if (!user) throw Errors.unknownUser();
    return ok(userPayload(user));
  });
  add("POST", "/users/@me/channels", ({ body }) => {
    const user = s.users.get(String(body.recipient_id));
    if (!user) throw Errors.unknownUser();
    return ok(s.channelPayload(s.dmChannelFor(user.id)));
  });
  add("GET", "/applications/@me", () => ok(botApplication(s)));
  add("GET", "/oauth2/applications/@me", () => ok(botApplication(s)));

  // ---- application commands (global and guild)
  const scopeOf = (params: Record<string, string>) => {
    if (params.applicationId !== s.config.applicationId) throw Errors.unknownApplication();
    if (params.guildId && !s.guilds.has(params.guildId)) throw Errors.unknownGuild();
    return params.guildId ?? "global";
  };
  for (const prefix of ["/applications/:applicationId", "/applications/:applicationId/guilds/:guildId"]) {
    add("GET", `${prefix}/commands`, ({ params }) => ok(s.commands.get(scopeOf(params)) ?? []));
    add("PUT", `${prefix}/commands`, ({ params, body }) => {
      const scope = scopeOf(params);
      const list = Array.isArray(body) ? (body as Record<string, unknown>[]) : [];
      validateCommands(list);
      const existing = s.commands.get(scope) ?? [];
      const commands = list.map((command) =>
        commandPayload(command, {
          id: existing.find((c) => c.name === command.name)?.id ?? snowflake(),
          applicationId: s.config.applicationId,
          ...(params.guildId ? { guildId: params.guildId } : {}),
        }),
      );
      s.commands.set(scope, commands);
      return ok(commands);
    });
    add("POST", `${prefix}/commands`, ({ params, body }) => {
      const scope = scopeOf(params);
      validateCommands([body]);
      const existing = s.commands.get(scope) ?? [];
      const previous = existing.find((c) => c.name === body.name);
      const command = commandPayload(body, {
        id: previous?.id ?? snowflake(),
        applicationId: s.config.applicationId,
        ...(params.guildId ? { guildId: params.guildId } : {}),
      });
      s.commands.set(scope, [...existing.filter((c) => c !== previous), command]);
      return { status: previous ? 200 : 201, body: command };
    });
    add("DELETE", `${prefix}/commands/:commandId`, ({ params }) => {
      const scope = scopeOf(params);
      const existing = s.commands.get(scope) ?? [];
      if (!existing.some((c) => c.id === params.commandId)) throw Errors.unknownCommand();
      s.commands.set(
        scope,
        existing.filter((c) => c.id !== params.commandId),
      );
      return noContent();
    });
  }
}
