// node-cron schedules for the fine-tuning jobs. Each tick is claimed through the database
// (claims.ts), so several replicas running the same schedules do each piece of work once.
//
// The claim is keyed by the tick's scheduled time, which node-cron passes to the task (`date` in its
// TaskContext), never by the time the handler happens to read: a replica whose tick starts late
// would otherwise claim a later slot than the others and run the same tick a second time.
//
// node-cron runs a tick only when its timer fires within `missedExecutionTolerance` (1 s) of the
// scheduled time; a later one (a blocked event loop, a suspended machine) is reported as
// "execution:missed" and not run. Those ticks are run here, late, under the same claim: when
// another replica ran that tick already the claim says so, and when none did the work still
// happens instead of waiting for the next tick (an hour for readiness, a day for retention).
import cron, { type TaskContext } from "node-cron";
import type { Logger } from "../core/ports.ts";
import type { Database } from "../database/open-database.ts";
import { runClaimed, slotOf } from "./claims.ts";

export interface ScheduledJob {
  name: string;
  schedule: string;
  run: () => Promise<unknown>;
}

export function startScheduler(deps: { db: Database; log: Logger; jobs: ScheduledJob[] }) {
  const tasks = deps.jobs.map((job) => {
    // One run of a job at a time in this process, scheduled or caught up. A missed tick that finds
    // one running is covered by it: every job picks up whatever is left when it runs.
    let running = false;
    const tick = async (scheduled: Date, late: boolean) => {
      const slot = slotOf(scheduled);
      if (running) {
        deps.log.debug("scheduled job tick skipped: a run is in progress", { job: job.name, slot });
        return;
      }
      running = true;
      try {
        const ran = await runClaimed(deps.db, job.name, slot, job.run);
        deps.log.debug("scheduled job tick", { job: job.name, slot, ran, late });
      } catch (e) {
        deps.log.error("scheduled job failed", { job: job.name, slot, error: e });
      } finally {
        running = false;
      }
    };
    const task = cron.schedule(job.schedule, (ctx: TaskContext) => tick(ctx.date, false), {
      name: job.name,
      noOverlap: true,
    });
    task.on("execution:missed", (ctx) => {
      deps.log.info("scheduled job tick missed; running it late", { job: job.name, slot: slotOf(ctx.date) });
      return tick(ctx.date, true);
    });
    return task;
  });
  return {
    async stop() {
      await Promise.all(tasks.map((t) => t.stop()));
    },
  };
}
