// Which arm of an experiment a reply falls in, decided by a hash of the exchange (one per platform
// message: a retried, replayed or restarted reply is the same row), so the same message always lands
// in the same arm, with no state to keep and nothing random to replay in a test.
import { createHash } from "node:crypto";

/** A number in [0, 1) from `key`, independent for each `experiment` name. */
export function unitHash(experiment: string, key: string): number {
  const h = createHash("sha256").update(`${experiment}\u0000${key}`).digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

/** Whether the reply to exchange `exchangeId` is in the `share` of `experiment`. */
export function inShare(experiment: string, exchangeId: bigint | string, share: number): boolean {
  return share > 0 && unitHash(experiment, String(exchangeId)) < share;
}

/** The experiments' names: each gets its own split of the same exchanges. */
export const EXPERIMENTS = { canary: "canary", holdout: "personalisation-holdout" } as const;
