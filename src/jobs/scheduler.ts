// node-cron schedules for the fine-tuning jobs. Each tick is claimed through the database
// (claims.ts), so several replicas running the same schedules do each piece of work once.
import cron from "node-cron";
import type { Clock, Logger } from "../core/ports.ts";
import type { Database } from "../database/open-database.ts";
import { runClaimed, slotOf } from "./claims.ts";

export interface ScheduledJob {
  name: string;
  schedule: string;
  run: () => Promise<unknown>;
}

export function startScheduler(deps: { db: Database; log: Logger; clock: Clock; jobs: ScheduledJob[] }) {
  const tasks = deps.jobs.map((job) =>
    cron.schedule(
      job.schedule,
      async () => {
        const slot = slotOf(deps.clock.now());
        try {
          const ran = await runClaimed(deps.db, job.name, slot, job.run);
          deps.log.debug("scheduled job tick", { job: job.name, slot, ran });
        } catch (e) {
          deps.log.error("scheduled job failed", { job: job.name, slot, error: e });
        }
      },
      { name: job.name, noOverlap: true },
    ),
  );
  return {
    async stop() {
      await Promise.all(tasks.map((t) => t.stop()));
    },
  };
}
