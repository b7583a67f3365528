// Scheduled work runs on every replica; each run is claimed through a unique (job, slot) row, so
// exactly one replica does the work for a given tick. A crashed run is not retried for the same
// slot; the next tick picks up whatever is left (every job is written to resume).
import { hostname } from "node:os";
import { clipStorable } from "../core/storable-text.ts";
import type { Database } from "../database/open-database.ts";

export const replicaId = `${hostname()}:${process.pid}`;

/**
 * The slot a tick belongs to: its scheduled time, the same on every replica ("2026-11-21T13:00" for
 * a minute; with the seconds for six-field schedules that fire within a minute, so each such tick
 * keeps a slot of its own).
 */
export function slotOf(scheduled: Date): string {
  return scheduled.toISOString().slice(0, scheduled.getUTCSeconds() === 0 ? 16 : 19);
}

export async function claimRun(db: Database, job: string, slot: string, owner = replicaId): Promise<boolean> {
  const r = await db.jobRun.createMany({ data: [{ job, slot, claimedBy: owner }], skipDuplicates: true });
  return r.count === 1;
}

export async function finishRun(db: Database, job: string, slot: string, outcome: string): Promise<void> {
  await db.jobRun.updateMany({
    where: { job, slot },
    data: { finishedAt: new Date(), outcome: clipStorable(outcome, 200) },
  });
}

/** Claims the slot and runs `work` if this replica won it; returns whether it ran. */
export async function runClaimed(
  db: Database,
  job: string,
  slot: string,
  work: () => Promise<unknown>,
  owner = replicaId,
): Promise<boolean> {
  if (!(await claimRun(db, job, slot, owner))) return false;
  try {
    await work();
    await finishRun(db, job, slot, "ok");
  } catch (e) {
    await finishRun(db, job, slot, `error: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  }
  return true;
}
