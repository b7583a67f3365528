// `/assistant config ...`: operators set a server's (or one channel's) prompt and model, and where
// the bot answers. Both platforms send the same words (Discord's options are written out as text
// by its adapter: `<#id>` for a channel, `<@&id>` for a role, `--channel <#id>` for a channel
// override), so the parsing and the checks live here once. Operators are OPERATORS, as for
// `/assistant limits` (operators.ts): being a server's admin is not enough, because what a server
// sets (its model) is paid from the bot's budget. Every refusal changes nothing.
import { isOperator } from "./operators.ts";
import { type Outcome, outcome } from "./outcomes.ts";
import type { CommandPlace, Platform, UserRef } from "./ports.ts";
import {
  type ChannelOverride,
  channelRef,
  configNotes,
  configProblems,
  type HereSettings,
  PROMPT_MAX_CHARS,
  roleRef,
  whereRef,
} from "./server-config-messages.ts";
import type { EffectiveSettings, ServerSettings } from "./server-settings.ts";

export const CONFIG_ACTIONS = ["show", "prompt", "model", "channels", "roles"] as const;
export type ConfigAction = (typeof CONFIG_ACTIONS)[number];

const CLEAR_WORDS = new Set(["clear", "off", "none", "reset"]);

/** A channel as typed or sent: `<#id>`, `<#id|name>` (Slack), or a bare id. */
export function channelIdOf(token: string, platform: Platform): string | undefined {
  const mention = /^<#([A-Za-z0-9]+)(?:\|[^>]*)?>$/.exec(token);
  if (mention) return mention[1];
  const bare = platform === "discord" ? /^\d{1,25}$/ : /^[CG][A-Z0-9]{2,}$/;
  return bare.test(token) ? token : undefined;
}

/** A Discord role as sent: `<@&id>` or a bare id. */
export function roleIdOf(token: string): string | undefined {
  const mention = /^<@&(\d{1,25})>$/.exec(token);
  if (mention) return mention[1];
  return /^\d{1,25}$/.test(token) ? token : undefined;
}

/** `--channel <#id>` at the start or the end of the words, taken out. */
export function takeChannelFlag(
  args: string,
  platform: Platform,
): { rest: string; channelId?: string } | { problem: string } {
  const flag = /(?:^|\s)--channel(?:=|\s+|$)(\S*)/.exec(args);
  if (!flag) return { rest: args.trim() };
  const token = flag[1] ?? "";
  if (!token) return { problem: configProblems.channelFlag };
  const channelId = channelIdOf(token, platform);
  if (!channelId) return { problem: configProblems.notAChannel(token) };
  const rest = `${args.slice(0, flag.index)} ${args.slice(flag.index + flag[0].length)}`.trim();
  return { rest, channelId };
}

/** What applies at a place, as `/assistant status` and `config show` write it. */
export function hereSettings(
  platform: Platform,
  s: EffectiveSettings | undefined,
  chatModel: string,
): HereSettings {
  return {
    platform,
    ...(s?.systemPrompt ? { prompt: s.systemPrompt, promptFrom: s.promptFrom } : {}),
    model: s?.chatModel ?? chatModel,
    modelFrom: s?.modelFrom ?? "global",
    ...(s?.disallowedModel ? { disallowedModel: s.disallowedModel } : {}),
    allowedChannelIds: s?.allowedChannelIds ?? [],
    allowedRoleIds: s?.allowedRoleIds ?? [],
  };
}

export function createServerConfigCommands(deps: {
  settings: ServerSettings;
  operators: readonly string[];
  /** SERVER_CHAT_MODELS. */
  allowedModels: readonly string[];
  /** CHAT_MODEL: what answers where nothing is set. */
  chatModel: string;
}) {
  const { settings } = deps;

  async function run(
    caller: UserRef,
    place: CommandPlace | undefined,
    action: string,
    args: string,
  ): Promise<Outcome> {
    if (!isOperator(deps.operators, caller.externalId))
      return outcome("config.not_operator", caller.externalId);
    const serverId = place?.serverId;
    if (!serverId) return outcome("config.no_server");
    const platform = caller.platform;
    const server = { platform, serverId };
    const by = caller.externalId;
    const words = args.trim();

    if (action === "show") return show(platform, serverId);
    if (action === "channels" || action === "roles") {
      if (/(?:^|\s)--channel\b/.test(words)) return outcome("config.usage", configProblems.channelFlagHere);
      return action === "channels" ? channels(server, words, by) : roles(server, words, by);
    }
    if (action !== "prompt" && action !== "model") return outcome("config.usage", configProblems.nothing);

    const flag = takeChannelFlag(words, platform);
    if ("problem" in flag) return outcome("config.usage", flag.problem);
    const target = { ...server, ...(flag.channelId ? { channelId: flag.channelId } : {}) };
    const value = flag.rest;
    const where = whereRef(platform, flag.channelId);
    const clear = CLEAR_WORDS.has(value.toLowerCase());

    if (action === "prompt") {
      if (!value) return outcome("config.usage", configProblems.promptEmpty);
      if (!clear && value.length > PROMPT_MAX_CHARS) return outcome("config.prompt_too_long", value.length);
      const { changed } = await settings.change(
        target,
        { field: "systemPrompt", value: clear ? null : value },
        by,
      );
      if (clear) {
        if (!changed) return outcome("config.unchanged", configNotes.nothingSet);
        const fallback = flag.channelId ? configNotes.serverPromptApplies : configNotes.globalPromptOnly;
        return outcome("config.prompt_cleared", where, fallback);
      }
      return changed
        ? outcome("config.prompt_set", where)
        : outcome("config.unchanged", configNotes.sameValue);
    }

    if (!value) return outcome("config.usage", configProblems.modelEmpty);
    if (!clear && !deps.allowedModels.includes(value))
      return outcome("config.model_unknown", value, deps.allowedModels);
    const { changed } = await settings.change(
      target,
      { field: "chatModel", value: clear ? null : value },
      by,
    );
    if (clear) {
      if (!changed) return outcome("config.unchanged", configNotes.nothingSet);
      // What answers there now: the server's model for a channel, else CHAT_MODEL.
      const now = await settings.effective({ ...server, channelId: flag.channelId });
      return outcome("config.model_cleared", where, now?.chatModel ?? deps.chatModel);
    }
    return changed
      ? outcome("config.model_set", where, value)
      : outcome("config.unchanged", configNotes.sameValue);
  }

  async function show(platform: Platform, serverId: string): Promise<Outcome> {
    const rows = await settings.rowsFresh(platform, serverId);
    const overrides: ChannelOverride[] = rows
      .filter((r) => r.channelId !== "" && (r.systemPrompt || r.chatModel))
      .map((r) => ({
        channelId: r.channelId,
        ...(r.systemPrompt ? { prompt: r.systemPrompt } : {}),
        ...(r.chatModel ? { model: r.chatModel } : {}),
      }));
    return outcome(
      "config.shown",
      hereSettings(platform, settings.resolve(rows, undefined), deps.chatModel),
      overrides,
    );
  }

  /** `add|remove <ids...>` or `clear` on one of the server's lists. */
  async function editList(
    server: { platform: Platform; serverId: string },
    words: string,
    field: "allowedChannelIds" | "allowedRoleIds",
    by: string,
  ): Promise<Outcome | { ids: string[]; changed: boolean }> {
    const [verb = "", ...tokens] = words.split(/\s+/).filter(Boolean);
    const action = verb.toLowerCase();
    const channelsList = field === "allowedChannelIds";
    if (!["add", "remove", "clear"].includes(action))
      return outcome(
        "config.usage",
        action ? `"${verb}": ${configProblems.channelAction}` : configProblems.channelAction,
      );
    const current = (await settings.current(server.platform, server.serverId, ""))?.[field] ?? [];
    if (action === "clear") {
      if (current.length === 0) return outcome("config.unchanged", configNotes.alreadyEmpty);
      const { changed } = await settings.change(server, { field, value: [] }, by);
      return { ids: [], changed };
    }
    if (tokens.length === 0)
      return outcome(
        "config.usage",
        channelsList ? configProblems.needsChannel(action) : configProblems.needsRole(action),
      );
    const ids: string[] = [];
    for (const t of tokens) {
      const id = channelsList ? channelIdOf(t, server.platform) : roleIdOf(t);
      if (!id)
        return outcome(
          "config.usage",
          channelsList ? configProblems.notAChannel(t) : configProblems.notARole(t),
        );
      ids.push(id);
    }
    const next =
      action === "add" ? [...new Set([...current, ...ids])] : current.filter((id) => !ids.includes(id));
    if (next.length === current.length && next.every((id, i) => id === current[i])) {
      const first = ref(server.platform, field, ids[0]!);
      const note = action === "add" ? configNotes.alreadyListed(first) : configNotes.notListed(first);
      return outcome("config.unchanged", note);
    }
    const { changed } = await settings.change(server, { field, value: next }, by);
    return { ids: next, changed };
  }

  async function channels(server: { platform: Platform; serverId: string }, words: string, by: string) {
    const r = await editList(server, words, "allowedChannelIds", by);
    return "ids" in r
      ? outcome(
          "config.channels_updated",
          r.ids.map((id) => channelRef(server.platform, id)),
        )
      : r;
  }

  async function roles(server: { platform: Platform; serverId: string }, words: string, by: string) {
    if (server.platform === "slack") return outcome("config.no_roles_here");
    const r = await editList(server, words, "allowedRoleIds", by);
    return "ids" in r ? outcome("config.roles_updated", r.ids.map(roleRef)) : r;
  }

  return { run };
}

/** A channel or role of a list, as the texts show it. */
function ref(platform: Platform, field: "allowedChannelIds" | "allowedRoleIds", id: string): string {
  return field === "allowedChannelIds" ? channelRef(platform, id) : roleRef(id);
}

export type ServerConfigCommands = ReturnType<typeof createServerConfigCommands>;
