// The embedded database as the bot runs it: PGlite in a worker thread, reached over its socket by
// node-postgres (src/database/pglite-thread.ts). A mention answered through Bolt with it, its data
// still there after the app restarts on the same DATA_DIR, and a thread that dies is a clear error
// (and frees DATA_DIR) rather than a bot that hangs.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { lockPath } from "../src/database/data-dir-lock.ts";
import { openDatabase } from "../src/database/open-database.ts";
import { DatabaseWorkerCrashedError } from "../src/database/pglite-thread.ts";
import { seedDataDir } from "./support/database.ts";
import { ALICE, eventually, startSlackApp } from "./support/slack-app.ts";

const dirs: string[] = [];
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), "bot-worker-db-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the embedded database in its worker thread", () => {
  it("answers a mention end to end, and the exchange is still there after a restart on the same DATA_DIR", {
    timeout: 180_000,
  }, async () => {
    const dir = dataDir();
    // A fresh directory: initdb and the migrations run through the worker's socket.
    const first = await startSlackApp({ transport: "http", dataDir: dir });
    let ts: string;
    let replyTs: string;
    try {
      const sent = await first.mention(ALICE, "Remember that my favourite colour is teal");
      expect(sent.delivery.status).toBe(200);
      ts = sent.ts;
      const reply = await first.replyTo(ts);
      replyTs = String(reply.response.ts);
      await eventually(
        () => first.database.db.exchange.findFirst({ where: { userMessageId: ts, replyMessageId: replyTs } }),
        "the reply recorded on its exchange",
      );
    } finally {
      await first.stop();
    }
    // Stopped cleanly: the lock is released and the worker's socket directory gone with it.
    expect(existsSync(lockPath(dir))).toBe(false);

    const second = await startSlackApp({ transport: "http", dataDir: dir });
    try {
      const stored = await second.database.db.exchange.findFirst({
        where: { userMessageId: ts },
        select: { userText: true, replyMessageId: true },
      });
      expect(stored).toMatchObject({ replyMessageId: replyTs });
      expect(stored?.userText).toContain("teal");
      // The reply posted before the restart can still be rated: the rating finds it in the database.
      await second.react(ALICE, replyTs, "+1");
      await eventually(
        () => second.database.db.exchangeReaction.findFirst({ where: { exchange: { userMessageId: ts } } }),
        "the rating of the reply posted before the restart",
      );
    } finally {
      await second.stop();
    }
  });

  it("reports a thread that dies as a crash with a message a person can act on, and frees DATA_DIR", {
    timeout: 120_000,
  }, async () => {
    const dir = dataDir();
    await seedDataDir(dir);
    const opened = await openDatabase({ dataDir: dir });
    let closed = false;
    try {
      expect(opened.worker).toBeDefined();
      expect(await opened.db.$queryRaw`SELECT 1 AS one`).toEqual([{ one: 1 }]);
      expect(existsSync(lockPath(dir))).toBe(true);

      // What an out-of-memory kill or a fatal error in the WebAssembly does: the thread just ends.
      await opened.worker!.terminate();
      const crash = await opened.crashed;
      expect(crash).toBeInstanceOf(DatabaseWorkerCrashedError);
      expect(crash.message).toMatch(/embedded database stopped unexpectedly/);
      expect(crash.message).toMatch(/exiting so that its supervisor restarts it/);
      expect(crash.message).toContain("DATABASE_URL");
      // A query now fails instead of waiting forever.
      await expect(opened.db.$queryRaw`SELECT 1`).rejects.toThrow();
      // The files are no longer in use: the next start may take the directory.
      await eventually(() => !existsSync(lockPath(dir)), "the data directory's lock to be released");
      await opened.close().catch(() => {});
      closed = true;
      const again = await openDatabase({ dataDir: dir });
      try {
        expect(await again.db.$queryRaw`SELECT 1 AS one`).toEqual([{ one: 1 }]);
      } finally {
        await again.close();
      }
    } finally {
      if (!closed) await opened.close().catch(() => {});
    }
  });
});
