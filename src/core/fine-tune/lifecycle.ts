// The fine-tuning lifecycle, put together from its stages (one file each):
//
//   proposals.ts   offers: dataset snapshot + estimate, the approval prompt by DM, `/assistant train`,
//                  the readiness job, expiry
//   approval.ts    Approve / Decline: reservation and job in one transaction; stranded approvals
//   launch.ts      upload and job creation, each step claimed, resumable after a crash
//   monitor.ts     following running jobs to success, failure or cancellation; the monitoring job
//   versions.ts    model versions, `/assistant models` and `/assistant rollback`
//   canary.ts      a new version's trial against the model it would replace, decided by ratings
//   retirement.ts  providers' shutdown dates: warn ahead, fall back to the base model on the day
//   file-cleanup.ts finished trainings' files deleted at the provider
//   dataset.ts, cost-estimate.ts  the training files and what they cost (pure)
//
// around states.ts, the state machine every stage moves through. Money safety rests on the
// database, not on timing: see states.ts and budgets.ts.

import { createApproval } from "./approval.ts";
import { createCanary } from "./canary.ts";
import type { LifecycleDeps } from "./context.ts";
import { createFileCleanup } from "./file-cleanup.ts";
import { createLaunch } from "./launch.ts";
import { createJobEndings, createMonitor } from "./monitor.ts";
import { createNotices } from "./notices.ts";
import { createProposals } from "./proposals.ts";
import { createRetirement } from "./retirement.ts";
import { createVersions } from "./versions.ts";

export type { LifecycleDeps, LifecycleSettings } from "./context.ts";

export function createFineTuneLifecycle(deps: LifecycleDeps) {
  const ctx = { ...deps, notices: createNotices(deps) };
  const canary = createCanary(ctx);
  const versions = createVersions(ctx, { canary });
  const endings = createJobEndings(ctx, { versions });
  const { launch } = createLaunch(ctx, endings);
  const proposals = createProposals(ctx);
  const approval = createApproval(ctx, { launch });
  const { cleanUpFiles } = createFileCleanup(ctx);
  const { refresh, monitor } = createMonitor(ctx, {
    endings,
    launch,
    resumeApprovals: approval.resumeApprovals,
    cleanUpFiles,
    expireProposals: proposals.expireProposals,
  });
  const { retirement } = createRetirement(ctx, { proposals });

  return {
    propose: proposals.propose,
    deliver: proposals.deliver,
    train: proposals.train,
    readiness: proposals.readiness,
    expireProposals: proposals.expireProposals,
    approvalClick: approval.approvalClick,
    resumeApprovals: approval.resumeApprovals,
    launch,
    refresh,
    monitor,
    cleanUpFiles,
    models: versions.models,
    rollback: versions.rollback,
    decideCanaries: canary.decideAll,
    afterRating: canary.afterRating,
    retirement,
  };
}

export type FineTuneLifecycle = ReturnType<typeof createFineTuneLifecycle>;
