// The texts of `/assistant config` (server-config.ts) and the "here" lines of `/assistant status`,
// kept beside messages.ts (which spreads SERVER_CONFIG_OUTCOMES into OUTCOMES) so that the
// wording is in one place per feature. Channels and roles are written as Discord shows them
// (`<#id>`, `<@&id>`, as names); on Slack, whose adapter escapes every `<` in the core's texts, as
// `#<id>`.
import type { Platform } from "./ports.ts";

/** What applies where a command is run, for `/assistant status` and `config show`. */
export interface HereSettings {
  platform: Platform;
  /** The server's or channel's prompt, whole (shortened when shown in status). */
  prompt?: string;
  promptFrom?: "channel" | "server";
  /** The model base-model replies use here. */
  model: string;
  modelFrom: "channel" | "server" | "global";
  /** Set but no longer allowed (SERVER_CHAT_MODELS): CHAT_MODEL answers instead. */
  disallowedModel?: string;
  allowedChannelIds: string[];
  allowedRoleIds: string[];
}

/** How long a prompt may be (one Discord string option holds 6000; replies pay for every token). */
export const PROMPT_MAX_CHARS = 1_000;
/** How much of the prompt `/assistant status` shows. */
export const STATUS_PROMPT_CHARS = 80;

export const CONFIG_USAGE = [
  "Usage (bot operators):",
  "- `/assistant config show`: the settings of this server and its channels",
  `- \`/assistant config prompt <text>\` or \`clear\`: added to my system prompt here (at most ${PROMPT_MAX_CHARS} characters)`,
  "- `/assistant config model <name>` or `clear`: the chat model for answers here",
  "  (both take `--channel #channel` to set one channel only; a channel's setting wins over the server's)",
  "- `/assistant config channels add|remove #channel` or `clear`: the channels I answer in (none listed: all)",
  "- `/assistant config roles add|remove @role` or `clear`: who I answer (Discord; none listed: everyone)",
].join("\n");

/** A channel as the platform shows it in the core's texts. */
export const channelRef = (platform: Platform, id: string) =>
  platform === "discord" ? `<#${id}>` : `#${id}`;
/** A Discord role, shown as its name. */
export const roleRef = (id: string) => `<@&${id}>`;
/** "in this server", or "in #channel". */
export const whereRef = (platform: Platform, channelId?: string) =>
  channelId ? `in ${channelRef(platform, channelId)}` : "in this server";
const joined = (refs: string[]) => refs.join(", ");

/** The lines `/assistant status` adds when run in a server. */
export function hereLines(h: HereSettings, options: { fullPrompt?: boolean } = {}): string[] {
  const prompt = h.prompt
    ? options.fullPrompt || h.prompt.length <= STATUS_PROMPT_CHARS
      ? h.prompt
      : `${h.prompt.slice(0, STATUS_PROMPT_CHARS)}…`
    : undefined;
  return [
    `Server prompt: ${prompt ? `yes (${h.promptFrom === "channel" ? "this channel" : "this server"}): "${prompt}"` : "none"}`,
    `Model here: ${h.model}${h.modelFrom === "global" ? " (the bot's default)" : h.modelFrom === "channel" ? " (set for this channel)" : " (set for this server)"}${h.disallowedModel ? `; ${h.disallowedModel} is set but no longer allowed` : ""}`,
    `Answers in: ${h.allowedChannelIds.length ? joined(h.allowedChannelIds.map((id) => channelRef(h.platform, id))) : "every channel"}`,
    ...(h.allowedRoleIds.length ? [`Answers members with: ${joined(h.allowedRoleIds.map(roleRef))}`] : []),
  ];
}

/** One channel override, for `config show`. */
export interface ChannelOverride {
  channelId: string;
  prompt?: string;
  model?: string;
}

function shown(server: HereSettings, overrides: ChannelOverride[]): string {
  return [
    "Settings of this server:",
    ...hereLines(server, { fullPrompt: true }),
    ...(overrides.length
      ? [
          "Channel overrides:",
          ...overrides.map(
            (o) =>
              `- ${channelRef(server.platform, o.channelId)}: ${[o.prompt ? `prompt "${o.prompt}"` : "", o.model ? `model ${o.model}` : ""].filter(Boolean).join(", ")}`,
          ),
        ]
      : ["No channel overrides."]),
  ].join("\n");
}

const yes = <A extends unknown[]>(text: (...args: A) => string) => ({ ok: true as const, text });
const no = <A extends unknown[]>(text: (...args: A) => string) => ({ ok: false as const, text });

export const SERVER_CONFIG_OUTCOMES = {
  "config.not_operator": no(
    (caller: string) =>
      "Only the bot's operators can view or change server settings. Nothing changed. " +
      `If you should be one, ask an admin to add you to OPERATORS (your id is ${caller}).`,
  ),
  "config.no_server": no(
    () =>
      "Server settings belong to a server: run this in one of its channels. (Direct messages have no server settings and are always answered.)",
  ),
  "config.usage": no((problem: string) => `${problem} Nothing changed.\n${CONFIG_USAGE}`),
  "config.shown": yes(shown),
  "config.prompt_set": yes(
    (where: string) => `Done: ${where} your prompt is added to my system prompt from the next answer on.`,
  ),
  "config.prompt_cleared": yes(
    (where: string, fallback: string) => `Done: no prompt of its own ${where} any more; ${fallback}.`,
  ),
  "config.prompt_too_long": no(
    (n: number) =>
      `That prompt is ${n.toLocaleString("en")} characters; a server prompt can be at most ${PROMPT_MAX_CHARS.toLocaleString("en")}. Please shorten it. Nothing changed.`,
  ),
  "config.model_set": yes(
    (where: string, model: string) =>
      `Done: ${where} ${model} answers from the next answer on (people's own fine-tuned models still answer them).`,
  ),
  "config.model_cleared": yes(
    (where: string, fallback: string) => `Done: no model of its own ${where} any more; ${fallback} answers.`,
  ),
  "config.model_unknown": no(
    (name: string, allowed: readonly string[]) =>
      `"${name}" is not a model this bot may use. Pick one of: ${allowed.join(", ")}. (An admin can change the list with SERVER_CHAT_MODELS.) Nothing changed.`,
  ),
  "config.unchanged": yes((what: string) => `${what} Nothing changed.`),
  "config.channels_updated": yes((refs: string[]) =>
    refs.length
      ? `Done: I answer mentions only in ${joined(refs)} (and in DMs). Elsewhere in this server I stay quiet.`
      : "Done: I answer mentions in every channel of this server.",
  ),
  "config.roles_updated": yes((refs: string[]) =>
    refs.length
      ? `Done: in this server I answer only members with ${joined(refs)}.`
      : "Done: I answer everyone in this server.",
  ),
  "config.no_roles_here": no(
    () =>
      "Slack has no roles, so I can't limit answers by role there. Use `/assistant config channels` to choose where I answer. Nothing changed.",
  ),
};

/** The problems `config.usage` names. */
export const configProblems = {
  nothing: "Tell me what to set.",
  promptEmpty: 'Give the prompt text, or "clear" to remove it.',
  modelEmpty: 'Give a model name, or "clear" to remove it.',
  channelAction: 'Use "add", "remove" or "clear".',
  needsChannel: (action: string) => `"${action}" needs a channel, like #general.`,
  needsRole: (action: string) => `"${action}" needs a role, like @Helpers.`,
  notAChannel: (word: string) =>
    `"${word}" is not a channel I can read: pick the channel from the list (it must appear as a link), or give its id.`,
  notARole: (word: string) => `"${word}" is not a role I can read: pick it from the list, or give its id.`,
  channelFlag: "--channel needs a channel, like --channel #general.",
  channelFlagHere: "--channel works with prompt and model only.",
};

/** Sentences for `config.unchanged` and `config.prompt_cleared`. */
export const configNotes = {
  alreadyListed: (ref: string) => `${ref} is already in the list.`,
  notListed: (ref: string) => `${ref} is not in the list.`,
  alreadyEmpty: "The list is already empty.",
  sameValue: "That is already the setting.",
  nothingSet: "Nothing was set there.",
  serverPromptApplies: "the server's prompt applies there",
  globalPromptOnly: "only my usual system prompt applies",
};
