// Opaque identities at the edge: a Discord user is `discord:<userId>` everywhere outside this
// adapter. Only this module builds or reads that string.
import type { UserRef } from "../../core/ports.ts";

const PREFIX = "discord:";

export function userRef(discordUserId: string): UserRef {
  return { externalId: externalUserId(discordUserId), platform: "discord" };
}

export function externalUserId(discordUserId: string): string {
  return `${PREFIX}${discordUserId}`;
}

/** The Discord user id inside an opaque identity; throws for anything that is not ours. */
export function discordUserId(externalId: string): string {
  const id = externalId.startsWith(PREFIX) ? externalId.slice(PREFIX.length) : "";
  if (!/^\d+$/.test(id)) throw new Error(`not a Discord user identity: ${externalId}`);
  return id;
}
