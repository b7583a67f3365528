// Who may change the bot's spending limits, and the `limits` admin commands shared by the Discord
// and Slack adapters. The adapters only build the caller's externalId and pass the text after
// `limits set`; the wording and the checks live here so both platforms behave the same.
import { type Budgets, type Limits, LimitsError, validateLimitsPatch } from "./budgets.ts";
import { LIMITS_USAGE, limitProblemText, limitsCommandProblems as problem } from "./messages.ts";
import { type Outcome, outcome } from "./outcomes.ts";

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

export type ParsedLimitsCommand =
  | { ok: true; patch: Partial<Limits> }
  | {
      ok: false;
      /** What is wrong, then the usage. */
      error: string;
      /** What is wrong, alone. */
      problem: string;
    };

/**
 * Parses the text after `limits set`: one or more `key value` pairs (`key=value` works too), e.g.
 * `training-user-month 20`, `chat-day off`, `training-total-month 200 trainings-user-month 2`.
 */
export function parseLimitsCommand(args: string): ParsedLimitsCommand {
  const fail = (what: string) => ({ ok: false as const, error: `${what}\n${LIMITS_USAGE}`, problem: what });
  const tokens = args
    .trim()
    .split(/\s+/)
    .flatMap((t) => t.split("="))
    .filter((t) => t !== "");
  if (tokens.length === 0) return fail(problem.nothingToSet);

  const patch: Partial<Limits> = {};
  for (let i = 0; i < tokens.length; i += 2) {
    const word = tokens[i]!.toLowerCase();
    const raw = tokens[i + 1];
    if (!Object.hasOwn(LIMIT_COMMAND_KEYS, word)) return fail(problem.unknownWord(tokens[i]!));
    const key = LIMIT_COMMAND_KEYS[word as CommandKey];
    if (raw === undefined) return fail(problem.needsValue(word));
    if (key in patch) return fail(problem.givenTwice(word));

    const value = raw.toLowerCase();
    if (OFF_WORDS.has(value)) {
      patch[key] = null;
      continue;
    }
    if (key === "trainingsPerUserMonth") {
      if (!/^\d+$/.test(value)) return fail(problem.notACount(word, raw));
    } else if (!/^\$?(\d+(\.\d{1,6})?|\.\d{1,6})$/.test(value)) {
      return fail(problem.notDollars(word, raw));
    }
    patch[key] = Number(value.replace("$", ""));
  }
  try {
    // Same rules as setLimits (ranges), so the admin hears about them before anything is written.
    return { ok: true, patch: validateLimitsPatch(patch) };
  } catch (e) {
    if (e instanceof LimitsError) return fail(limitProblemText(e.problem));
    throw e;
  }
}

export interface LimitsCommands {
  /** `limits show`: the limits and this month's spend. Operators only. */
  show(caller: string): Promise<Outcome>;
  /** `limits set <args>`: changes limits and shows the result. Operators only. */
  set(caller: string, args: string): Promise<Outcome>;
  /**
   * The change itself, for any front end (the command above, an operator dashboard): the same
   * operator check, the same validation, the same answer. Operators only.
   */
  apply(caller: string, patch: Partial<Limits>): Promise<Outcome>;
}

export function createLimitsCommands(deps: {
  budgets: Pick<Budgets, "getLimits" | "setLimits" | "spend">;
  operators: readonly string[];
}): LimitsCommands {
  const { budgets, operators } = deps;

  async function apply(caller: string, patch: Partial<Limits>): Promise<Outcome> {
    if (!isOperator(operators, caller)) return outcome("limits.not_operator", caller);
    try {
      const limits = await budgets.setLimits(patch, caller);
      return outcome("limits.updated", limits, await budgets.spend());
    } catch (e) {
      if (e instanceof LimitsError) return outcome("limits.invalid", limitProblemText(e.problem));
      throw e;
    }
  }

  return {
    async show(caller) {
      if (!isOperator(operators, caller)) return outcome("limits.not_operator", caller);
      const [limits, spend] = await Promise.all([budgets.getLimits(), budgets.spend()]);
      return outcome("limits.shown", limits, spend);
    },

    async set(caller, args) {
      if (!isOperator(operators, caller)) return outcome("limits.not_operator", caller);
      const parsed = parseLimitsCommand(args);
      if (!parsed.ok) return outcome("limits.invalid", parsed.problem);
      return apply(caller, parsed.patch);
    },

    apply,
  };
}
