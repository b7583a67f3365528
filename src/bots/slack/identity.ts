// Opaque identities for Slack users: `slack:<teamId>:<userId>`. This file is the only place that
// builds or reads them; everything else passes them around as strings.
import type { UserRef } from "../../core/ports.ts";

/** The identity of a Slack user as the core stores it. */
export function slackExternalId(teamId: string, userId: string): string {
  return `slack:${teamId}:${userId}`;
}

export function slackUserRef(teamId: string, userId: string): UserRef {
  return { platform: "slack", externalId: slackExternalId(teamId, userId) };
}

/** The Slack user behind an identity, or undefined when it is not a Slack identity. */
export function parseSlackExternalId(externalId: string): { teamId: string; userId: string } | undefined {
  const m = /^slack:([A-Z0-9]+):([A-Z0-9]+)$/.exec(externalId);
  return m ? { teamId: m[1]!, userId: m[2]! } : undefined;
}
