// The interfaces the core needs from the outside world, in one place. Adapters (src/bots), providers
// (src/core/providers) and tests implement them; the core depends only on these.

/** Structured logging. Fields carry ids and counts, never message text or secrets. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** Time, injectable so tests can move it (expiry, budgets by month, retirement dates). */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
