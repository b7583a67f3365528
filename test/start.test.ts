// `npm start` as a person meets it: what it says with nothing configured, what a second bot on
// the same embedded data directory does, and what SIGTERM to `npm start` (a supervisor, a terminal)
// does to the process tree npm created.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { seedDataDir } from "./support/database.ts";
import { alive, descendants, runNpmStart, startBot } from "./support/processes.ts";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "bot-start-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("npm start", () => {
  it("exits 2 with an empty environment, naming what to set", async () => {
    const bot = startBot({}, tempDir());
    expect(await bot.exited).toBe(2);
    expect(bot.output()).toMatch(/^ {2}DISCORD_TOKEN: .*set it to/m);
    expect(bot.output()).toMatch(/^ {2}SLACK_BOT_TOKEN: .*set it to/m);
    expect(bot.output()).toMatch(/^ {2}OPENAI_API_KEY: .*set it to/m);
  });

  it("refuses a second process on the same data directory, clearly, and leaves the first one running", {
    timeout: 120_000,
  }, async () => {
    const cwd = tempDir();
    const env = {
      DISCORD_TOKEN: "test-token",
      DISCORD_APPLICATION_ID: "1000",
      // Nothing listens here: this test is about the database, not Discord.
      DISCORD_API_URL: "http://127.0.0.1:9/api",
      OPENAI_API_KEY: "test-key",
      DATA_DIR: join(cwd, "data"),
      HEALTH_PORT: "0",
    };
    // A data directory a bot has used before: the test is about the lock, not Postgres' bootstrap.
    await seedDataDir(env.DATA_DIR);
    const first = startBot(env, cwd);
    try {
      await first.waitForOutput(/database ready/, 90_000);
      const second = startBot(env, cwd);
      expect(await second.exited).toBe(1);
      expect(second.output()).toMatch(/is in use by another bot process \(pid \d+\)/);
      expect(second.output()).toContain("DATA_DIR");
      expect(first.child.exitCode).toBeNull();
    } finally {
      first.child.kill("SIGTERM");
    }
    expect(await first.exited).toBe(0);
  });

  it("is one Node process that npm started: SIGTERM to npm shuts the bot down cleanly and leaves no process behind", {
    timeout: 120_000,
  }, async () => {
    const cwd = tempDir();
    const bot = runNpmStart({
      DISCORD_TOKEN: "test-token",
      DISCORD_APPLICATION_ID: "1000",
      // Nothing listens here: the login fails at once and is retried in the background.
      DISCORD_API_URL: "http://127.0.0.1:9/api",
      OPENAI_API_KEY: "test-key",
      DATA_DIR: join(cwd, "data"),
      HEALTH_PORT: "0",
    });
    let tree: Array<{ pid: number; args: string }> = [];
    try {
      await bot.waitForOutput(/"msg":"database ready"/, 90_000);
      tree = descendants(bot.child.pid!);
      // npm's only child is the bot itself: no shell, no tsx wrapper, no esbuild service.
      expect(tree.map((p) => p.args)).toEqual([expect.stringMatching(/^node .*main\.js$/)]);
      bot.child.kill("SIGTERM");
      expect(await bot.exited).toBe(0);
      expect(bot.output()).toMatch(/"signal":"SIGTERM".*"msg":"shutting down"/);
      expect(bot.output()).toMatch(/"msg":"shut down cleanly"/);
      for (const p of tree) expect(alive(p.pid), `process ${p.pid} (${p.args}) outlived npm`).toBe(false);
    } finally {
      for (const p of [...tree, ...descendants(bot.child.pid ?? -1)])
        if (alive(p.pid)) process.kill(p.pid, "SIGKILL");
      if (bot.child.exitCode === null) bot.child.kill("SIGKILL");
    }
  });
});
