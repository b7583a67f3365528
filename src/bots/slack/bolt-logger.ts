// Bolt, its Web API client and its Socket Mode client log through this bridge into our structured
// logger. Their debug output is dropped: it includes request bodies, which carry message text.
import { type Logger as BoltLogger, LogLevel } from "@slack/bolt";
import type { Logger } from "../../core/ports.ts";

const MAX_DETAIL = 500;

function describe(arg: unknown): string {
  if (arg instanceof Error) return `${arg.name}: ${arg.message}`;
  if (typeof arg === "string") return arg;
  if (typeof arg === "number" || typeof arg === "boolean") return String(arg);
  return "";
}

export function boltLogger(log: Logger): BoltLogger {
  const detail = (args: unknown[]) =>
    args
      .map(describe)
      .filter((s) => s !== "")
      .join(" ")
      .slice(0, MAX_DETAIL);
  return {
    debug: () => {},
    info: (...args: unknown[]) => log.info("bolt", { detail: detail(args) }),
    warn: (...args: unknown[]) => log.warn("bolt", { detail: detail(args) }),
    error: (...args: unknown[]) => log.error("bolt", { detail: detail(args) }),
    setLevel: () => {},
    getLevel: () => LogLevel.INFO,
    setName: () => {},
  };
}
