// Who may change the bot's spending limits, and the `limits` admin commands shared by the Discord
// and Slack adapters. The adapters only build the caller's externalId and pass the text after
// `limits set`; the wording and the checks live here so both platforms behave the same.
import { type Budgets, formatLimits, type Limits, LimitsError, validateLimitsPatch } from "./budgets.ts";

/**
 * Whether `externalId` (`discord:<userId>` or `slack:<teamId>:<userId>`) is listed in OPERATORS.
 * Exact match: ids are opaque, and a loose match (case, prefixes) could let someone else in.
 */
export function isOperator(operators: readonly string[], externalId: string): boolean {
  const id = externalId.trim();
  if (!id) return false;
  return operators.some((op) => op.trim() === id);
}

/** The words admins type, and the limit each one sets. */
export const LIMIT_COMMAND_KEYS = {
  "training-user-month": "trainingPerUserMonthUsd",
  "training-total-month": "trainingTotalMonthUsd",
  "trainings-user-month": "trainingsPerUserMonth",
  "chat-day": "chatPerDayUsd",
} as const satisfies Record<string, keyof Limits>;

type CommandKey = keyof typeof LIMIT_COMMAND_KEYS;

/** Words that remove a limit. */
const OFF_WORDS = new Set(["off", "none", "unlimited", "no-limit"]);

export const LIMITS_USAGE = [
  "Usage: limits set <key> <value> [<key> <value> ...]",
  "Keys:",
  "- training-user-month <dollars>: training spend per user per calendar month (UTC)",
  "- training-total-month <dollars>: training spend for everyone per calendar month",
  "- trainings-user-month <count>: number of trainings per user per calendar month",
  "- chat-day <dollars>: chat spend for everyone per UTC day",
  'Use "off" as the value to remove a limit, e.g. `limits set chat-day off`.',
].join("\n");

export type ParsedLimitsCommand = { ok: true; patch: Partial<Limits> } | { ok: false; error: string };

/**
 * Parses the text after `limits set`: one or more `key value` pairs (`key=value` works too), e.g.
 * `training-user-month 20`, `chat-day off`, `training-total-month 200 trainings-user-month 2`.
 */
export function parseLimitsCommand(args: string): ParsedLimitsCommand {
  const fail = (problem: string) => ({ ok: false as const, error: `${problem}\n${LIMITS_USAGE}` });
  const tokens = args
    .trim()
    .split(/\s+/)
    .flatMap((t) => t.split("="))
    .filter((t) => t !== "");
  if (tokens.length === 0) return fail("Tell me which limit to set.");

  const patch: Partial<Limits> = {};
  for (let i = 0; i < tokens.length; i += 2) {
    const word = tokens[i]!.toLowerCase();
    const raw = tokens[i + 1];
    if (!Object.hasOwn(LIMIT_COMMAND_KEYS, word)) return fail(`"${tokens[i]}" is not a limit I know.`);
    const key = LIMIT_COMMAND_KEYS[word as CommandKey];
    if (raw === undefined) return fail(`"${word}" needs a value (a number, or "off").`);
    if (key in patch) return fail(`"${word}" is given twice.`);

    const value = raw.toLowerCase();
    if (OFF_WORDS.has(value)) {
      patch[key] = null;
      continue;
    }
    if (key === "trainingsPerUserMonth") {
      if (!/^\d+$/.test(value))
        return fail(`"${word}" takes a whole number of trainings, like 2 (got "${raw}").`);
    } else if (!/^\$?(\d+(\.\d{1,6})?|\.\d{1,6})$/.test(value)) {
      return fail(`"${word}" takes an amount in dollars, like 20 or 2.50 (got "${raw}").`);
    }
    patch[key] = Number(value.replace("$", ""));
  }
  try {
    // Same rules as setLimits (ranges), so the admin hears about them before anything is written.
    return { ok: true, patch: validateLimitsPatch(patch) };
  } catch (e) {
    if (e instanceof LimitsError) return fail(e.message);
    throw e;
  }
}

export type CommandReply = { ok: true; text: string } | { ok: false; text: string };

export interface LimitsCommands {
  /** `limits show`: the limits and this month's spend. Operators only. */
  show(caller: string): Promise<CommandReply>;
  /** `limits set <args>`: changes limits and shows the result. Operators only. */
  set(caller: string, args: string): Promise<CommandReply>;
}

export function refusal(caller: string): string {
  return (
    "Only the bot's operators can view or change the spending limits. " +
    `If you should be one, ask an admin to add you to OPERATORS (your id is ${caller}).`
  );
}

export function createLimitsCommands(deps: {
  budgets: Pick<Budgets, "getLimits" | "setLimits" | "spend">;
  operators: readonly string[];
}): LimitsCommands {
  const { budgets, operators } = deps;

  async function current(): Promise<string> {
    const [limits, spend] = await Promise.all([budgets.getLimits(), budgets.spend()]);
    return formatLimits(limits, spend);
  }

  return {
    async show(caller) {
      if (!isOperator(operators, caller)) return { ok: false, text: refusal(caller) };
      return { ok: true, text: await current() };
    },

    async set(caller, args) {
      if (!isOperator(operators, caller)) return { ok: false, text: refusal(caller) };
      const parsed = parseLimitsCommand(args);
      if (!parsed.ok) return { ok: false, text: parsed.error };
      try {
        const limits = await budgets.setLimits(parsed.patch, caller);
        return { ok: true, text: `Limits updated.\n${formatLimits(limits, await budgets.spend())}` };
      } catch (e) {
        if (e instanceof LimitsError) return { ok: false, text: `${e.message}\n${LIMITS_USAGE}` };
        throw e;
      }
    },
  };
}
