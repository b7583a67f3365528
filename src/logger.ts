// A small structured logger: one JSON line per event on stderr. Callers pass identifiers and
// counts, never message text, tokens or keys (see the privacy section of the README).
import type { Logger } from "./core/ports.ts";

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LEVELS)[number];

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  bindings: Record<string, unknown> = {},
): Logger {
  const min = LEVELS.indexOf(level);
  const at =
    (lvl: LogLevel) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      if (LEVELS.indexOf(lvl) < min) return;
      write(
        JSON.stringify({ level: lvl, time: new Date().toISOString(), msg, ...bindings, ...fields }, jsonSafe),
      );
    };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (more) => createLogger(level, write, { ...bindings, ...more }),
  };
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
