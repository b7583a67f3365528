// What every Slack listener needs: the core, a logger, who the bot is, and the in-flight tracker.
import type { Assistant, Logger } from "../../core/ports.ts";
import type { InFlight } from "../shared/in-flight.ts";

/** The workspace the bot token belongs to, from auth.test at start. */
export interface SlackWorkspace {
  teamId: string;
  botUserId: string;
  botId?: string;
}

export interface ListenerDeps {
  assistant: Assistant;
  log: Logger;
  workspace: SlackWorkspace;
  inFlight: InFlight;
}

/** Error fields safe to log: Slack's error code and the error's name, never payloads or text. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { error: typeof error };
  const data = (error as { data?: { error?: unknown } }).data;
  const code = (error as { code?: unknown }).code;
  return {
    error: error.name,
    ...(typeof code === "string" ? { code } : {}),
    ...(typeof data?.error === "string" ? { slackError: data.error } : {}),
  };
}
