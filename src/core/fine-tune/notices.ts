// How the fine-tune stages reach a person outside a conversation: a DM, or an edit of the approval
// prompt they were sent. Delivery failures are logged and never stop the state machine: the state
// in the database is the truth, a lost DM only means the person learns it from /assistant status.
import type { Database } from "../../database/open-database.ts";
import type { Logger, MessageRef, Notifier } from "../ports.ts";

export interface Notices {
  /** The platform's notifier, when that platform runs in this process. */
  notifierFor(platform: string): Notifier | undefined;
  /** A DM to the person with this internal id. */
  dm(userId: string, text: string): Promise<void>;
  /** Replaces a delivered approval prompt with `text` and no buttons (nothing if it was never delivered). */
  closePrompt(proposalId: string, text: string): Promise<void>;
}

export function createNotices(deps: {
  db: Database;
  log: Logger;
  notifiers: Partial<Record<string, Notifier>>;
}): Notices {
  const { db, log } = deps;
  // Read at each call: the composition root adds a platform's notifier once it is connected.
  const notifierFor = (platform: string) => deps.notifiers[platform];

  return {
    notifierFor,

    async dm(userId, text) {
      const user = await db.user.findUnique({
        where: { id: userId },
        select: { externalId: true, platform: true },
      });
      if (!user) return;
      await notifierFor(user.platform)
        ?.sendDirectMessage(user.externalId, text)
        .catch((e: unknown) => log.warn("could not DM user", { userId, error: e }));
    },

    async closePrompt(proposalId, text) {
      const p = await db.fineTuneProposal.findUnique({
        where: { id: proposalId },
        select: { notification: true, user: { select: { platform: true } } },
      });
      const ref = p?.notification as MessageRef | null | undefined;
      if (!p || !ref) return;
      await notifierFor(p.user.platform)
        ?.closeApprovalPrompt(ref, text)
        .catch((e: unknown) => log.warn("could not edit approval prompt", { proposalId, error: e }));
    },
  };
}
