// The checkout's root (package.json, prisma/), found from this module's location so it is right both
// when the sources run (src/database/) and when the bundle `npm start` builds runs (dist/chunks/).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let found: string | undefined;

export function projectRoot(): string {
  if (found) return found;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "prisma", "schema.prisma"))) {
      found = dir;
      return dir;
    }
    if (dirname(dir) === dir) throw new Error(`no prisma/schema.prisma above ${start}`);
  }
}
