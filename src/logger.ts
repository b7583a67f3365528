// Structured logs with pino: JSON lines for collectors, or a pretty mode for development. Callers
// pass identifiers and counts, never message text, tokens or keys; as a second line of defence,
// error messages go through the privacy filter and fields that usually hold text are redacted.
import pino from "pino";
import pretty from "pino-pretty";
import type { Logger } from "./core/ports.ts";
import { createPrivacyFilter } from "./core/privacy-filter.ts";

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

const privacy = createPrivacyFilter();

/** Field names that would carry people's words or credentials if someone ever logged them. */
const REDACT = [
  "text",
  "content",
  "message.content",
  "prompt",
  "token",
  "apiKey",
  "authorization",
  "*.text",
  "*.content",
  "*.token",
  "*.apiKey",
  "*.authorization",
];

function serializeError(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const status = (e as { status?: unknown }).status;
  return {
    type: e.name,
    message: privacy.redact(e.message).text,
    ...(status !== undefined ? { status } : {}),
  };
}

function wrap(p: pino.Logger): Logger {
  const at =
    (level: "debug" | "info" | "warn" | "error") =>
    (msg: string, fields: Record<string, unknown> = {}) => {
      const safe: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(fields)) {
        safe[k] = typeof v === "bigint" ? v.toString() : v instanceof Error ? serializeError(v) : v;
      }
      p[level](safe, msg);
    };
  return {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: (bindings) => wrap(p.child(bindings)),
  };
}

/**
 * `write`: where lines go (tests collect them); default stderr. `format: "pretty"` renders for a
 * terminal. Writes are synchronous so nothing is lost when the process exits.
 */
export function createLogger(
  level: LogLevel,
  write?: (line: string) => void,
  bindings: Record<string, unknown> = {},
  format: "json" | "pretty" = "json",
): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT, censor: "[redacted]" },
    serializers: { err: serializeError, error: serializeError },
  };
  const destination =
    format === "pretty"
      ? pretty({ sync: true, destination: 2, colorize: process.stderr.isTTY })
      : write
        ? { write: (line: string) => write(line.endsWith("\n") ? line.slice(0, -1) : line) }
        : pino.destination({ fd: 2, sync: true });
  return wrap(pino(options, destination).child(bindings));
}
