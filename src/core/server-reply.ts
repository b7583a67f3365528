// What a reply takes from its server: the operators' prompt added to SYSTEM_PROMPT, and, with
// MEMORY_SCOPE=user-server, which of the person's exchanges memory and few-shot may use.
// conversation.ts calls these; the settings themselves live in server-settings.ts.
import type { EffectiveSettings, SettingsPlace } from "./server-settings.ts";

/** MEMORY_SCOPE: a person's memory follows them everywhere (`user`), or stays per server. */
export type MemoryScope = "user" | "user-server";

/** The part of the settings a reply reads (cached in server-settings.ts). */
export interface ServerReplySettings {
  effective(place: SettingsPlace): Promise<EffectiveSettings | undefined>;
}

/** SYSTEM_PROMPT, then the channel's or the server's prompt (appended: the bot stays itself). */
export function placePrompt(systemPrompt: string, here: EffectiveSettings | undefined): string {
  return here?.systemPrompt ? `${systemPrompt}\n\n${here.systemPrompt}` : systemPrompt;
}

/**
 * The exchanges a reply at `serverId` may remember: all of the person's (undefined) under
 * MEMORY_SCOPE=user; under user-server those of the same server, or of DMs for a DM (null).
 */
export function scopeFilter(
  scope: MemoryScope | undefined,
  serverId: string | null | undefined,
): { serverId: string | null } | undefined {
  return scope === "user-server" ? { serverId: serverId ?? null } : undefined;
}
