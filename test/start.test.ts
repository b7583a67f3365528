// `npm start` as a person meets it: what it says with nothing configured, and what a second bot on
// the same embedded data directory does.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startBot } from "./support/processes.ts";

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
    const first = startBot(env, cwd);
    try {
      await first.waitForOutput(/database ready/);
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
});
