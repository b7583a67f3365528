// BENCH_CPU_PROFILE=<dir>: a V8 CPU profile of the timed replies only (not of loading the data),
// one .cpuprofile per cell, to open in Chrome DevTools or summarise with bench/profile-summary.ts.
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";

export async function startCpuProfile(): Promise<((name: string) => Promise<void>) | undefined> {
  const dir = process.env.BENCH_CPU_PROFILE;
  if (!dir) return undefined;
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  // 100 µs: a reply is ~20 ms, so a few hundred samples each.
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  return async (name: string) => {
    const { profile } = await session.post("Profiler.stop");
    session.disconnect();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
  };
}
