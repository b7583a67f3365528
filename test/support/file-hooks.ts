// Work to do when a test file ends, registered by support modules as they are used: the file's
// databases (database.ts) are dropped here. Loaded as a vitest setup file, so its `afterAll` runs
// after the test file's own hooks (vitest runs "after" hooks in reverse order of registration),
// once every test has closed what it opened. Kept free of imports so that files without a database
// pay nothing for it.
import { afterAll } from "vitest";

type Hook = () => Promise<void>;
const KEY = Symbol.for("learning-assistant.test.after-file");
const hooks = (): Hook[] => {
  const g = globalThis as { [KEY]?: Hook[] };
  g[KEY] ??= [];
  return g[KEY];
};

/** Runs `hook` when the current test file has finished. */
export function afterEachFile(hook: Hook): void {
  hooks().push(hook);
}

afterAll(async () => {
  const pending = hooks().splice(0);
  const results = await Promise.allSettled(pending.map((h) => h()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
});
