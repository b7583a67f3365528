// `npx tsx bench/profile-summary.ts <file.cpuprofile> [top]`: self time by module and by function,
// so a reply's CPU can be split into the database engine, Prisma, our code and the rest.
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const file = process.argv[2];
if (!file) throw new Error("usage: profile-summary.ts <file.cpuprofile> [top]");
const top = Number(process.argv[3] ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8")) as {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
};
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (const [i, id] of profile.samples.entries())
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
const total = [...self.values()].reduce((s, x) => s + x, 0);

/** A module's short name: the package under node_modules, or the path under the repository. */
function moduleOf(url: string): string {
  if (!url) return "(native/idle)";
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const repo = /\/(src|bench|test)\/(.*)$/.exec(url);
  if (repo) return `${repo[1]}/${repo[2]}`;
  return url.replace(/^.*\//, "");
}
const modules = new Map<string, number>();
const functions = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id)!;
  const m = moduleOf(n.callFrame.url);
  modules.set(m, (modules.get(m) ?? 0) + us);
  const f = `${n.callFrame.functionName || "(anonymous)"} ${m}:${n.callFrame.lineNumber + 1}`;
  functions.set(f, (functions.get(f) ?? 0) + us);
}
const show = (title: string, map: Map<string, number>) => {
  process.stdout.write(`${title}\n`);
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(
      `  ${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}\n`,
    );
};
process.stdout.write(`total ${(total / 1000).toFixed(0)} ms sampled\n`);
show("self time by module", modules);
show("self time by function", functions);
