// Scheduled jobs through real node-cron schedules, on fake timers (Date and setTimeout), with two
// replicas (two schedulers) over one database. A replica is "late" when its process is busy as the
// tick is due: a timer of the test, due at the same instant and ordered between the two replicas'
// timers, moves the clock on, as a blocked event loop would, so the second replica's timer fires
// after the others'.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { slotOf } from "../src/jobs/claims.ts";
import { type ScheduledJob, startScheduler } from "../src/jobs/scheduler.ts";
import { memoryLogger } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";

describe("scheduled jobs on several replicas", () => {
  let t: TestDatabase;
  let log: ReturnType<typeof memoryLogger>;
  let runs: string[];
  let schedulers: Array<{ stop(): Promise<void> }>;

  beforeEach(async () => {
    t = await createTestDatabase();
    log = memoryLogger();
    runs = [];
    schedulers = [];
  });
  afterEach(async () => {
    await Promise.all(schedulers.map((s) => s.stop()));
    vi.useRealTimers();
    await t.close();
  });

  /** Fake Date and timers only: the database underneath keeps running on real ones. */
  const fakeTime = (iso: string) =>
    vi.useFakeTimers({ now: new Date(iso), toFake: ["Date", "setTimeout", "clearTimeout"] });

  function replica(name: string, schedule: string) {
    const job: ScheduledJob = {
      name: "monitor",
      schedule,
      run: async () => {
        runs.push(name);
      },
    };
    schedulers.push(startScheduler({ db: t.db, log, jobs: [job] }));
  }

  /** Blocks "the event loop" for `ms` when the timer fires, `inMs` from now. */
  const busyAt = (inMs: number, ms: number) => setTimeout(() => vi.setSystemTime(Date.now() + ms), inMs);

  /**
   * Lets the ticks that fired finish: the replicas stop (no further ticks), real timers come back
   * (the database underneath needs them to make progress) and the handlers' log lines are counted.
   */
  async function ticksHandled(n: number) {
    await Promise.all(schedulers.map((s) => s.stop()));
    vi.useRealTimers();
    const handled = () => log.lines.filter((l) => /"msg":"scheduled job (tick|failed)"/.test(l)).length;
    await vi.waitFor(() => expect(handled()).toBe(n), { timeout: 15_000, interval: 20 });
  }

  async function claims() {
    const rows = await t.db.jobRun.findMany({ orderBy: { id: "asc" } });
    return rows.map((r) => [r.job, r.slot, r.outcome]);
  }

  it("runs a tick once when one replica starts it 1.5 s late, across the minute boundary", async () => {
    fakeTime("2026-11-21T12:00:58.000Z");
    replica("a", "59 * * * * *");
    busyAt(1_000, 1_500);
    replica("b", "59 * * * * *");

    await vi.advanceTimersByTimeAsync(1_000);
    await ticksHandled(2);
    // Either replica may win: both claim the same slot, and on a Postgres server (TEST_DATABASE_URL)
    // their claims race over two connections. What matters is one run, under the scheduled slot.
    expect(runs).toHaveLength(1);
    expect(await claims()).toEqual([["monitor", "2026-11-21T12:00:59", "ok"]]);
  });

  it("runs a minute tick once when one replica starts it late", async () => {
    fakeTime("2026-11-21T12:00:59.000Z");
    replica("a", "* * * * *");
    busyAt(1_000, 900);
    replica("b", "* * * * *");

    await vi.advanceTimersByTimeAsync(1_000);
    await ticksHandled(2);
    expect(runs).toHaveLength(1);
    expect(await claims()).toEqual([["monitor", "2026-11-21T12:01", "ok"]]);
  });

  it("runs a tick that every replica missed (too late for node-cron) once, late, under its slot", async () => {
    fakeTime("2026-11-21T12:00:58.000Z");
    busyAt(1_000, 3_000);
    replica("a", "59 * * * * *");
    replica("b", "59 * * * * *");

    await vi.advanceTimersByTimeAsync(1_000);
    await ticksHandled(2);
    expect(runs).toHaveLength(1);
    expect(await claims()).toEqual([["monitor", "2026-11-21T12:00:59", "ok"]]);
    expect(log.lines.filter((l) => /tick missed; running it late/.test(l))).toHaveLength(2);
  });

  it("runs a tick missed by one replica once: the other ran it on time", async () => {
    fakeTime("2026-11-21T12:00:58.000Z");
    replica("a", "59 * * * * *");
    busyAt(1_000, 3_000);
    replica("b", "59 * * * * *");

    await vi.advanceTimersByTimeAsync(1_000);
    await ticksHandled(2);
    // b's missed tick is run late under the same claim as a's on-time one, so only one of them runs
    // it (which one is a race on a Postgres server, where the two claims travel on two connections).
    expect(runs).toHaveLength(1);
    expect(await claims()).toEqual([["monitor", "2026-11-21T12:00:59", "ok"]]);
    expect(log.lines.filter((l) => /tick missed; running it late/.test(l))).toHaveLength(1);
  });
});

it("names slots by the scheduled minute, with seconds only when a tick is not on the minute", () => {
  expect(slotOf(new Date("2026-11-21T13:00:00.000Z"))).toBe("2026-11-21T13:00");
  expect(slotOf(new Date("2026-11-21T13:00:30.000Z"))).toBe("2026-11-21T13:00:30");
});
