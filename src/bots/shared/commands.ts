// The `/assistant` command table, for every platform: each subcommand's name (the core's, see
// src/core/commands.ts), the words people may type for it, its argument, its one-line help and who
// may run it. Discord registers its slash command from this table; Slack reads typed text with it.
// What a subcommand does, and what an unknown one gets, is the core's decision.
import type { CommandInput } from "../../core/ports.ts";

/** The slash command's name on every platform (`/assistant`). */
export const COMMAND_NAME = "assistant";

export interface CommandSpec {
  /** The core's name for it; a space separates a group from its subcommand (`limits set`). */
  name: string;
  /** Other words typed for it (Slack's free text); matched case-insensitively. */
  aliases?: readonly string[];
  /** The one-line help (Discord shows it in the command picker). */
  help: string;
  /** The argument it takes, as the rest of the text (Slack) or one string option (Discord). */
  argument?: {
    name: string;
    help: string;
    required: boolean;
    maxLength: number;
    /** The only words it takes (Discord offers them as choices). */
    choices?: readonly string[];
  };
  /**
   * A channel or role the command takes besides the argument. Slack: typed in the text
   * (`#channel` as a link, `@role`), Discord: a channel or role option, which its adapter writes into
   * the text the core reads: `<#id>` / `<@&id>` after the argument, or `--channel <#id>` before it
   * when `flag` is set.
   */
  target?: { kind: "channel" | "role"; name: string; help: string; flag?: boolean };
  /** Only the bot's operators (OPERATORS) may run it; the core checks on every call. */
  operatorsOnly?: boolean;
}

/** The groups of subcommands, with their help. */
export const COMMAND_GROUPS: Readonly<Record<string, string>> = {
  limits: "Spending limits (bot operators only)",
  config: "This server's prompt, model and channels (bot operators only)",
};

/** The words `config channels` / `config roles` take. */
const LIST_ACTIONS = ["add", "remove", "clear"] as const;

/** `--channel <#id>` on a setting: that channel's override instead of the server's value. */
const ONE_CHANNEL: CommandSpec["target"] = {
  kind: "channel",
  name: "channel",
  help: "Only in this channel (wins over the server's)",
  flag: true,
};

export const COMMANDS: readonly CommandSpec[] = [
  { name: "status", help: "What I remember about you and how close you are to your own model" },
  { name: "train", help: "Ask for a fine-tune of your own model now" },
  {
    name: "training",
    help: "Whether I offer you a training of your own model (train always works)",
    argument: {
      name: "offers",
      help: "off: no offers unless you ask; on: offer when you're ready",
      required: true,
      maxLength: 3,
    },
  },
  {
    name: "models",
    help: "Your fine-tuned model versions, their ratings and trials",
    argument: {
      name: "use",
      help: "use v2 (or base): answer with that version, ending a trial",
      required: false,
      maxLength: 40,
    },
  },
  {
    name: "rollback",
    help: "Answer with an earlier model",
    argument: {
      name: "target",
      help: "previous (default), base, or a version number",
      required: false,
      maxLength: 40,
    },
  },
  { name: "memory", help: "What I hold about you: counts, recent and best-rated exchanges" },
  { name: "export", help: "Get everything I hold about you as a file by DM" },
  { name: "forget", help: "Delete everything I hold about you (asks you to confirm)" },
  {
    name: "opt-out",
    aliases: ["optout", "opt_out"],
    help: "Stop me storing and learning from your messages",
  },
  {
    name: "opt-in",
    aliases: ["optin", "opt_in"],
    help: "Let me remember and learn from you again (starts fresh)",
  },
  // `/assistant limits` alone shows them.
  { name: "limits show", aliases: ["limits"], help: "Show the spending limits", operatorsOnly: true },
  {
    name: "limits set",
    help: "Change a limit, e.g. training-user-month 20",
    argument: {
      name: "setting",
      help: "A limit and its new value, e.g. training-user-month 20",
      required: true,
      maxLength: 200,
    },
    operatorsOnly: true,
  },
  // `/assistant config` alone shows the settings.
  {
    name: "config show",
    aliases: ["config"],
    help: "This server's settings and channel overrides",
    operatorsOnly: true,
  },
  {
    name: "config prompt",
    help: "Add to my system prompt in this server (or one channel)",
    argument: {
      name: "text",
      help: 'What to add to my system prompt here, or "clear"',
      required: true,
      maxLength: 1000,
    },
    target: ONE_CHANNEL,
    operatorsOnly: true,
  },
  {
    name: "config model",
    help: "The chat model for answers in this server (or one channel)",
    argument: { name: "name", help: 'A chat model name, or "clear"', required: true, maxLength: 100 },
    target: ONE_CHANNEL,
    operatorsOnly: true,
  },
  {
    name: "config channels",
    help: "The channels I answer in (none listed: all)",
    argument: {
      name: "action",
      help: "add or remove a channel, or clear the list",
      required: true,
      maxLength: 6,
      choices: LIST_ACTIONS,
    },
    target: { kind: "channel", name: "channel", help: "The channel to add or remove" },
    operatorsOnly: true,
  },
  {
    name: "config roles",
    help: "The roles I answer (none listed: everyone)",
    argument: {
      name: "action",
      help: "add or remove a role, or clear the list",
      required: true,
      maxLength: 6,
      choices: LIST_ACTIONS,
    },
    target: { kind: "role", name: "role", help: "The role to add or remove" },
    operatorsOnly: true,
  },
];

/**
 * The subcommand in typed text (what follows `/assistant`): the longest command name or alias its
 * first words spell, and the rest as the argument. Nothing typed is `help`; anything else unknown
 * goes to the core as typed, which answers it.
 */
export function parseCommandText(text: string): CommandInput {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return { name: "help", args: "" };
  const lower = words.map((w) => w.toLowerCase());
  for (const take of [2, 1]) {
    if (lower.length < take) continue;
    const typed = lower.slice(0, take).join(" ");
    const spec = COMMANDS.find((c) => c.name === typed || c.aliases?.includes(typed));
    // A group's word alone stands for its default (`limits`); followed by words it does not know
    // (`limits frob`) it is an unknown subcommand, not the default with an argument.
    const groupWithMore = take === 1 && typed in COMMAND_GROUPS && lower.length > 1;
    if (spec && !groupWithMore) return { name: spec.name, args: words.slice(take).join(" ") };
  }
  return { name: lower.slice(0, 2).join(" "), args: "" };
}
