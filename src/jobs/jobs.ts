// The scheduled jobs: name, schedule, and what each one calls in the core. The composition root
// (src/app.ts) starts them; the core only offers the work (each call picks up whatever is left, so
// a late or repeated run is harmless) and knows nothing of schedules. scheduler.ts runs the table,
// each tick claimed through the database (claims.ts) so several replicas do each piece of work once.
import type { Config } from "../config.ts";
import type { Core } from "../core/create-core.ts";
import type { Clock, Logger } from "../core/ports.ts";
import { runRetention } from "../core/retention.ts";
import type { Database } from "../database/open-database.ts";
import { type ScheduledJob, startScheduler } from "./scheduler.ts";

export interface JobDeps {
  config: Config;
  db: Database;
  clock: Clock;
  log: Logger;
  core: Pick<Core, "lifecycle" | "dataRights">;
}

/** The job table. */
export function jobTable({ config, db, clock, log, core }: JobDeps): ScheduledJob[] {
  const { lifecycle, dataRights } = core;
  const schedules = config.fineTune.schedules;
  return [
    // Offers a training to everyone who has enough highly rated replies.
    { name: "readiness", schedule: schedules.readiness, run: lifecycle.readiness },
    // Follows running trainings to their end; resumes approvals a crash left behind; expires offers.
    { name: "monitor", schedule: schedules.monitor, run: lifecycle.monitor },
    // Decides new model versions' trials (canaries) whose ratings or age allow it.
    { name: "canary", schedule: schedules.monitor, run: lifecycle.decideCanaries },
    // Warns ahead of a provider's shutdown date for a tuned model; falls back to the base model on it.
    { name: "retirement", schedule: schedules.retirement, run: lifecycle.retirement },
    // Deletes exchanges older than RETENTION_DAYS, except unused training examples (retention.ts).
    {
      name: "retention",
      schedule: config.retention.schedule,
      run: () =>
        runRetention({
          db,
          clock,
          log: log.child({ part: "retention" }),
          retentionDays: config.retention.days,
          minRating: config.fineTune.minRating,
        }),
    },
    // Provider deletions that failed (a forget's, or a finished training's files) are retried on
    // the monitoring job's schedule.
    { name: "deletions", schedule: schedules.monitor, run: () => dataRights.retryDeletions() },
  ];
}

/** Starts the job table's schedules; `stop()` waits for runs under way. */
export function startJobs(deps: JobDeps) {
  return startScheduler({ db: deps.db, log: deps.log.child({ part: "jobs" }), jobs: jobTable(deps) });
}
