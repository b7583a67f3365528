// People's rights over their data, put together from one module each:
//
//   memory.ts      see it (`/assistant memory`)
//   export.ts      get it as a file by DM (`/assistant export`)
//   forget.ts      erase it, here and at the provider (`/assistant forget`, `npm run admin -- forget`)
//   opt-out.ts     stop and restart the learning (`/assistant opt-out`, `opt-in`)
//   deletions.ts   the provider deletion queue that forget and finished trainings share
//
// Platform-neutral: the adapters call these and post the text (ephemerally where they can); the
// scheduled age limit is the retention job's. The README's "Privacy" section says the same to users
// and operators.
import { createBudgets } from "../budgets.ts";
import type { ClickOutcome, Outcome } from "../outcomes.ts";
import type { UserRef } from "../ports.ts";
import type { DataRightsDeps } from "./context.ts";
import { createDeletions, type DeletionSweepResult, type ForgetProgress } from "./deletions.ts";
import { createExport, type ExportResult } from "./export.ts";
import { createForget, type ForgetResult } from "./forget.ts";
import { createMemory } from "./memory.ts";
import { createOptOut } from "./opt-out.ts";

export type { DataRightsDeps } from "./context.ts";

export interface DataRights {
  memory(ref: UserRef): Promise<Outcome>;
  /** The export document and the text of the DM that carries it (nothing sent). */
  exportData(ref: UserRef): Promise<ExportResult>;
  /** `/assistant export`: DMs the document; the answer says whether it went. */
  sendExport(ref: UserRef): Promise<Outcome>;
  forget(ref: UserRef, onProgress?: (p: ForgetProgress) => void): Promise<ForgetResult>;
  /** `/assistant forget`: the warning, and the id of the confirmation button to show with it. */
  forgetRequest(ref: UserRef): Promise<Outcome & { confirmButtonId: string }>;
  /** The confirmation button: only the person it was shown to can use it; a double click counts once. */
  forgetConfirm(input: { user: UserRef; buttonId: string; eventKey?: string }): Promise<ClickOutcome>;
  optOut(ref: UserRef): Promise<Outcome>;
  optIn(ref: UserRef): Promise<Outcome>;
  /**
   * Retries outstanding provider deletions: one person's (`subjectHash`) or everyone's. `forget`
   * calls it for the person; the deletions job and operators run it for all.
   */
  retryDeletions(options?: {
    subjectHash?: string;
    onProgress?: (p: ForgetProgress) => void;
  }): Promise<DeletionSweepResult>;
}

export function createDataRights(deps: DataRightsDeps): DataRights {
  const ctx = { ...deps, budgets: deps.budgets ?? createBudgets({ db: deps.db, clock: deps.clock }) };
  const deletions = createDeletions(ctx);
  return {
    ...createMemory(ctx),
    ...createExport(ctx),
    ...createForget(ctx, { deletions }),
    ...createOptOut(ctx),
    retryDeletions: deletions.retryDeletions,
  };
}
