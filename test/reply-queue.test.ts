// Overload through the real SDKs: with one reply slot and one place in the queue, a burst of
// mentions while the model is held gets one reply each for the first two and the busy answer for
// the rest, at once; when the model answers, every mention has exactly one answer in its thread,
// none lost and none duplicated, the busy ones are not stored, and metrics count them by code.
// Slack over Bolt's HTTP receiver (signed requests), Discord over discord.js and the gateway.
import { describe, expect, it } from "vitest";
import { outcome } from "../src/core/outcomes.ts";
import { createReplyQueue } from "../src/core/reply-queue.ts";
import { defaultChatReply } from "./emulators/openai/index.ts";
import {
  ALICE as DISCORD_ALICE,
  BOB as DISCORD_BOB,
  GENERAL,
  GUILD_ID,
  RANDOM,
  startDiscordApp,
} from "./support/discord-app.ts";
import { CHANNEL, eventually, startSlackApp } from "./support/slack-app.ts";

const TINY_QUEUE = {
  REPLY_CONCURRENCY: "1",
  REPLY_QUEUE_LIMIT: "1",
  // No "still working" note while the model is held: each thread then holds only the answer.
  REPLY_STILL_WORKING_SECONDS: "600",
};
const BURST = 6;
const BUSY = outcome("reply.busy").text;

/** Holds every chat completion until `open()`. */
function modelGate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return {
    open,
    reply: async (body: Parameters<typeof defaultChatReply>[0]) => {
      await opened;
      return defaultChatReply(body);
    },
  };
}

describe("the reply queue under overload", () => {
  it("Slack over HTTP: every mention gets exactly one answer, a reply or the busy text", {
    timeout: 120_000,
  }, async () => {
    const h = await startSlackApp({ transport: "http", env: TINY_QUEUE });
    try {
      const gate = modelGate();
      h.openai.setReply(gate.reply);
      const users = Array.from({ length: BURST }, (_, i) => `U0LOAD${i}`);
      const sent = await Promise.all(
        users.map((u, i) => h.mention(u, `question number ${i}`, { eventId: `EvLOAD${i}` })),
      );
      // Bolt acknowledged every event (with the model held, nothing was answered yet).
      expect(sent.map((s) => s.delivery.status)).toEqual(users.map(() => 200));
      const textsIn = (ts: string) => h.postsInThread(ts).map((c) => String(c.args.text));
      // The busy answers come while the model is still held: one mention runs, one waits.
      await eventually(
        () => sent.filter((s) => textsIn(s.ts).includes(BUSY)).length === BURST - 2,
        "the busy answers",
        30_000,
      );
      // Slack retrying a busy event (same event id) is not answered a second time.
      const busyOne = sent.find((s) => textsIn(s.ts).includes(BUSY))!;
      const retried = await h.send(busyOne.event, { eventId: `EvLOAD${sent.indexOf(busyOne)}`, retryNum: 1 });
      expect(retried.status).toBe(200);

      gate.open();
      await eventually(
        () => sent.every((s) => textsIn(s.ts).length > 0),
        "an answer to every mention",
        30_000,
      );
      await h.barrier();
      const answers = sent.map((s) => textsIn(s.ts));
      expect(answers.map((a) => a.length)).toEqual(users.map(() => 1));
      const busy = answers.filter((a) => a[0] === BUSY);
      const replies = answers.filter((a) => a[0]!.startsWith("echo("));
      expect(busy).toHaveLength(BURST - 2);
      expect(replies).toHaveLength(2);
      // The busy mentions cost nothing: no exchange stored (they are not answered after a restart).
      const stored = await h.database.db.exchange.findMany({
        where: { platform: "slack", channelId: CHANNEL, userMessageId: { in: sent.map((s) => s.ts) } },
        select: { userMessageId: true, status: true },
      });
      expect(stored).toHaveLength(2);
      expect(stored.every((e) => e.status === "answered")).toBe(true);
      const metrics = await h.app.metrics.registry.metrics();
      expect(metrics).toContain(`bot_outcomes_total{code="reply.busy"} ${BURST - 2}`);
      expect(metrics).toContain(`bot_replies_total{platform="slack",outcome="busy"} ${BURST - 2}`);
    } finally {
      await h.stop();
    }
  });

  it("Discord over the gateway: every mention gets exactly one answer, a reply or the busy text", {
    timeout: 120_000,
  }, async () => {
    const h = await startDiscordApp({ env: TINY_QUEUE });
    try {
      const gate = modelGate();
      h.openai.setReply(gate.reply);
      const sent = Array.from({ length: BURST }, (_, i) =>
        h.emu.sendMessage({
          authorId: i % 2 === 0 ? DISCORD_ALICE : DISCORD_BOB,
          content: `question number ${i}`,
          mentionsBot: true,
          channelId: "2001",
        }),
      );
      const textsTo = (id: string) => h.repliesTo(id).map((m) => m.content);
      await eventually(
        () => sent.filter((m) => textsTo(m.id).includes(BUSY)).length === BURST - 2,
        "the busy answers",
        30_000,
      );
      gate.open();
      await eventually(
        () => sent.every((m) => textsTo(m.id).length > 0),
        "an answer to every mention",
        30_000,
      );
      // A last mention answered after them: nothing more is on its way for the burst.
      await h.mention(DISCORD_ALICE, "barrier");
      const answers = sent.map((m) => textsTo(m.id));
      expect(answers.map((a) => a.length)).toEqual(sent.map(() => 1));
      expect(answers.filter((a) => a[0] === BUSY)).toHaveLength(BURST - 2);
      expect(answers.filter((a) => a[0]!.startsWith("echo("))).toHaveLength(2);
      const stored = await h.db.exchange.count({
        where: { platform: "discord", userMessageId: { in: sent.map((m) => m.id) } },
      });
      expect(stored).toBe(2);
      const metrics = await h.app.metrics.registry.metrics();
      expect(metrics).toContain(`bot_outcomes_total{code="reply.busy"} ${BURST - 2}`);
    } finally {
      await h.stop();
    }
  });
});

describe("typing under a burst (Discord)", () => {
  it("shows typing for a reply that starts at once, not for one that waits in the queue or is answered busy", {
    timeout: 60_000,
  }, async () => {
    const h = await startDiscordApp({ env: TINY_QUEUE });
    const THIRD = "2003";
    h.emu.addChannel(GUILD_ID, { id: THIRD, name: "third" });
    try {
      const gate = modelGate();
      h.openai.setReply(gate.reply);
      // One slot, one place in the queue: the first runs, the second waits, the third is refused.
      const [running, queued, refused] = [GENERAL, RANDOM, THIRD].map((channelId, i) =>
        h.emu.sendMessage({
          authorId: DISCORD_ALICE,
          content: `question ${i}`,
          mentionsBot: true,
          channelId,
        }),
      ) as [
        ReturnType<typeof h.emu.sendMessage>,
        ReturnType<typeof h.emu.sendMessage>,
        ReturnType<typeof h.emu.sendMessage>,
      ];
      const textsTo = (id: string) => h.repliesTo(id).map((m) => m.content);
      await eventually(() => textsTo(refused.id).includes(BUSY), "the busy answer", 30_000);
      await eventually(() => h.emu.typingIn(GENERAL).length > 0, "typing for the running reply", 30_000);
      gate.open();
      await eventually(
        () => textsTo(running.id).length > 0 && textsTo(queued.id).length > 0,
        "both answers",
        30_000,
      );
      expect(textsTo(queued.id)[0]).toMatch(/^echo\(/);
      expect(h.emu.typingIn(RANDOM)).toEqual([]);
      expect(h.emu.typingIn(THIRD)).toEqual([]);
    } finally {
      await h.stop();
    }
  });
});

describe("createReplyQueue", () => {
  it("a burst of replies in flight at once raises no listener warning on the shutdown signal", {
    timeout: 120_000,
  }, async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    const h = await startSlackApp({
      transport: "http",
      env: { REPLY_CONCURRENCY: "16", REPLY_STILL_WORKING_SECONDS: "600" },
    });
    try {
      const gate = modelGate();
      h.openai.setReply(gate.reply);
      const chats = () => h.openai.requests.filter((r) => r.path === "/v1/chat/completions").length;
      const sent = await Promise.all(
        Array.from({ length: 14 }, (_, i) =>
          h.mention(`U0FLIGHT${i}`, `held question ${i}`, { eventId: `EvFL${i}` }),
        ),
      );
      // Fourteen chat calls held at the model at once, each listening for the bot stopping.
      await eventually(() => chats() >= 14, "fourteen chat calls in flight", 30_000);
      gate.open();
      await eventually(
        () => sent.every((s) => h.postsInThread(s.ts).length > 0),
        "an answer to every mention",
        30_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(warnings.filter((w) => w.startsWith("MaxListenersExceededWarning"))).toEqual([]);
    } finally {
      process.off("warning", onWarning);
      await h.stop();
    }
  });

  it("runs at most `concurrency` at once, queues up to `limit`, refuses the rest, and keeps order", async () => {
    const queue = createReplyQueue({ concurrency: 2, limit: 2 });
    const started: number[] = [];
    const finish: Array<() => void> = [];
    const job = (n: number) => () =>
      new Promise<number>((resolve) => {
        started.push(n);
        finish[n] = () => resolve(n);
      });
    const admissions = [0, 1, 2, 3, 4].map((n) => queue.offer(job(n)));
    expect(admissions.map((a) => a.admitted)).toEqual([true, true, true, true, false]);
    expect(started).toEqual([0, 1]);
    expect([queue.running, queue.waiting]).toEqual([2, 2]);
    finish[0]!();
    await eventually(() => started.length === 3, "the first waiting job to start");
    expect(started).toEqual([0, 1, 2]);
    finish[1]!();
    finish[2]!();
    await eventually(() => started.length === 4, "the second waiting job to start");
    finish[3]!();
    const results = await Promise.all(admissions.flatMap((a) => (a.admitted ? [a.result] : [])));
    expect(results).toEqual([0, 1, 2, 3]);
    expect([queue.running, queue.waiting]).toEqual([0, 0]);
  });

  it("settles what still waits as stopped when the bot stops, without running it", async () => {
    const stopping = new AbortController();
    const queue = createReplyQueue({ concurrency: 1, limit: 5, stopping: stopping.signal });
    let release = () => {};
    const running = queue.offer(
      () =>
        new Promise<string>((resolve) => {
          release = () => resolve("done");
        }),
    );
    let ran = false;
    const waiting = queue.offer(async () => {
      ran = true;
      return "late";
    });
    stopping.abort();
    expect(waiting.admitted && (await waiting.result)).toBe("stopped");
    release();
    expect(running.admitted && (await running.result)).toBe("done");
    expect(ran).toBe(false);
  });
});
