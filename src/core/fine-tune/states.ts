// The fine-tune state machine: the states a training offer (FineTuneProposal) and a training
// (FineTuneJob) can be in, the moves allowed between them, and `transition`, the one function that
// makes a move. Nothing else writes a `state` column.
//
//   offer:    pending ──> approved ──> cancelled          (approved and started: the job goes on)
//                    ├──> declined | expired | cancelled
//   training: approved ──> uploading ──> uploaded ──> creating ──> running ──> succeeded
//             any unfinished state ──> failed | cancelled
//
// Money safety rests on the database, not on timing: a move is a conditional update
// (`UPDATE ... WHERE id = $1 AND state IN (from)`), so of two callers racing for the same move (a
// double click, two replicas, an approval's launch and the monitor) exactly one wins, and the other
// learns it from the result and does nothing. Partial unique indexes back this up: one pending offer
// and one unfinished training per person.
import type { Database } from "../../database/open-database.ts";
import type { Prisma } from "../../generated/prisma/client.ts";

export const PROPOSAL_STATES = ["pending", "approved", "declined", "expired", "cancelled"] as const;
export type ProposalState = (typeof PROPOSAL_STATES)[number];

export const JOB_STATES = [
  "approved",
  "uploading",
  "uploaded",
  "creating",
  "running",
  "succeeded",
  "failed",
  "cancelled",
] as const;
export type JobState = (typeof JOB_STATES)[number];

/** A training that ended, one way or the other: nothing more happens to it at the provider. */
export const FINISHED_JOB_STATES = [
  "succeeded",
  "failed",
  "cancelled",
] as const satisfies readonly JobState[];
export const UNFINISHED_JOB_STATES = [
  "approved",
  "uploading",
  "uploaded",
  "creating",
  "running",
] as const satisfies readonly JobState[];
/** The launch's steps: a job in one of these is resumed by the monitor (launch.ts). */
export const LAUNCH_JOB_STATES = [
  "approved",
  "uploading",
  "uploaded",
  "creating",
] as const satisfies readonly JobState[];
/** Unfinished, with nothing at the provider yet: stopping one is a state change here only. */
export const NOT_LAUNCHED_JOB_STATES = [
  "approved",
  "uploading",
  "uploaded",
] as const satisfies readonly JobState[];
/** Offers that never became a training: they age out with the exchanges they copy (retention). */
export const CLOSED_PROPOSAL_STATES = [
  "declined",
  "expired",
  "cancelled",
] as const satisfies readonly ProposalState[];

export function isFinished(state: string): boolean {
  return (FINISHED_JOB_STATES as readonly string[]).includes(state);
}

export function isIn<S extends string>(states: readonly S[], state: string): state is S {
  return (states as readonly string[]).includes(state);
}

const PROPOSAL_MOVES: Record<ProposalState, readonly ProposalState[]> = {
  pending: ["approved", "declined", "expired", "cancelled"],
  // An approved offer whose training could not start (another one running, a limit in the way, or
  // left without a job too long) is closed.
  approved: ["cancelled"],
  declined: [],
  expired: [],
  cancelled: [],
};

const JOB_MOVES: Record<JobState, readonly JobState[]> = {
  approved: ["uploading", "failed", "cancelled"],
  uploading: ["uploaded", "failed", "cancelled"],
  uploaded: ["creating", "failed", "cancelled"],
  creating: ["running", "failed", "cancelled"],
  running: ["succeeded", "failed", "cancelled"],
  succeeded: [],
  failed: [],
  cancelled: [],
};

/** The database, or a transaction of it: a move can be part of the caller's transaction. */
export type StateWriter = Database | Prisma.TransactionClient;

/** A training to move; with `lease`, only while its `updatedAt` is still that lease (launch.ts). */
export interface JobTarget {
  job: string;
  lease?: Date;
}

export interface ProposalTarget {
  proposal: string;
}

/**
 * Moves one offer or training from one of the `from` states to `to`, writing `changes` with it, and
 * says whether this call made the move (false: it was in another state, someone else moved first).
 * A move the machine does not allow is a programming error and throws before touching the database.
 */
export async function transition(
  tx: StateWriter,
  target: JobTarget,
  from: JobState | readonly JobState[],
  to: JobState,
  changes?: Omit<Prisma.FineTuneJobUpdateManyMutationInput, "state">,
): Promise<boolean>;
export async function transition(
  tx: StateWriter,
  target: ProposalTarget,
  from: ProposalState | readonly ProposalState[],
  to: ProposalState,
  changes?: Omit<Prisma.FineTuneProposalUpdateManyMutationInput, "state">,
): Promise<boolean>;
export async function transition(
  tx: StateWriter,
  target: JobTarget | ProposalTarget,
  from: string | readonly string[],
  to: string,
  changes: Record<string, unknown> = {},
): Promise<boolean> {
  const sources = typeof from === "string" ? [from] : from;
  const moves: Record<string, readonly string[]> = "job" in target ? JOB_MOVES : PROPOSAL_MOVES;
  for (const s of sources)
    if (!moves[s]?.includes(to))
      throw new Error(`fine-tune ${"job" in target ? "job" : "offer"} cannot move from ${s} to ${to}`);
  const state = sources.length === 1 ? sources[0]! : { in: [...sources] };
  const data = { ...changes, state: to };
  const r =
    "job" in target
      ? await tx.fineTuneJob.updateMany({
          where: { id: target.job, state, ...(target.lease ? { updatedAt: target.lease } : {}) },
          data,
        })
      : await tx.fineTuneProposal.updateMany({ where: { id: target.proposal, state }, data });
  return r.count === 1;
}

/**
 * Whether a write failed on a unique index: here, one of the partial indexes that allow one pending
 * offer and one unfinished training per person, which catch what a count before the write missed.
 */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string; cause?: { originalCode?: string } };
  return (
    err?.code === "P2002" ||
    err?.cause?.originalCode === "23505" ||
    /unique constraint|duplicate key value/i.test(err?.message ?? "")
  );
}
