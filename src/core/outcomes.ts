// What a command or a click came to, as a value. Expected refusals (over budget, not enough data,
// opted out, someone else's button) are outcomes, not exceptions: each has a stable code, which
// metrics count and logs name, and a text for the person, kept apart in messages.ts so that the
// code that decides never writes a sentence. (The shape of documenso's AppError with its separate
// userMessage, without the throwing: only the unexpected throws.)
import { OUTCOMES, type OutcomeArgs, type OutcomeCode } from "./messages.ts";

export type { OutcomeCode } from "./messages.ts";

export interface Outcome<C extends OutcomeCode = OutcomeCode> {
  /** False for a refusal or a failure: the person's request was not carried out. */
  ok: boolean;
  /** Why: stable across wording changes (`train.not_enough_examples`, `limit.user_month_spend`...). */
  code: C;
  /** What the person reads. */
  text: string;
}

/** The outcome `code`, its text written from `args`. */
export function outcome<C extends OutcomeCode>(code: C, ...args: OutcomeArgs<C>): Outcome<C> {
  const { ok, text } = OUTCOMES[code] as { ok: boolean; text: (...a: OutcomeArgs<C>) => string };
  return { ok, code, text: text(...args) };
}

/** Whether an outcome code marks a refusal or a failure. */
export function isRefusal(code: OutcomeCode): boolean {
  return !OUTCOMES[code].ok;
}

/** A button click's outcome: `promptText` is the prompt's new text when the click settled it. */
export interface ClickOutcome<C extends OutcomeCode = OutcomeCode> extends Outcome<C> {
  /** Replaces the message the button was on, whose buttons are then removed. */
  promptText?: string;
}

/** The click settled its prompt: the prompt now reads `promptText` (by default the outcome's text). */
export function settles<C extends OutcomeCode>(o: Outcome<C>, promptText = o.text): ClickOutcome<C> {
  return { ...o, promptText };
}
