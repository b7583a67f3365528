// The Slack emulator against the REAL Bolt app, over both transports Slack offers: signed HTTP
// requests to Bolt's HTTPReceiver, and Socket Mode envelopes over a WebSocket. Every assertion
// reads what actually crossed the wire (recorded Web API calls, response_url posts, acks).
import type { AddressInfo } from "node:net";
import {
  App,
  type BlockAction,
  type ButtonAction,
  type Logger,
  LogLevel,
  SocketModeReceiver,
} from "@slack/bolt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SlackEmulator, startSlackEmulator } from "./emulators/slack/index.ts";

const IDS = {
  teamId: "T1",
  botUserId: "UBOT",
  botId: "BBOT",
  botToken: "xoxb-test",
  appToken: "xapp-test",
  signingSecret: "s3cret",
};
const ALICE = "UALICE";
const CHANNEL = "C0GENERAL";

/** Bolt logger that keeps lines instead of printing them (Bolt logs through it and its WebClients). */
function collectingLogger(): Logger & { lines: { level: string; text: string }[] } {
  const lines: { level: string; text: string }[] = [];
  let level = LogLevel.INFO;
  const push =
    (lvl: string) =>
    (...msg: unknown[]) => {
      lines.push({ level: lvl, text: msg.map(String).join(" ") });
    };
  return {
    lines,
    debug: push("debug"),
    info: push("info"),
    warn: push("warn"),
    error: push("error"),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

interface Seen {
  mentions: { text: string; ts: string; retryNum: number | undefined; retryReason: string | undefined }[];
  reactions: { reaction: string; itemUser: string | undefined; itemTs: string }[];
  commands: { text: string; userId: string }[];
  actions: { actionId: string; value: string | undefined; messageTs: string }[];
}

/** One app, the same listeners for both transports. */
function registerListeners(app: App, seen: Seen): void {
  app.event("app_mention", async ({ event, say, context, client }) => {
    seen.mentions.push({
      text: event.text,
      ts: event.ts,
      retryNum: context.retryNum,
      retryReason: context.retryReason,
    });
    if (event.text.includes("dm me") && event.user) {
      const dm = await client.conversations.open({ users: event.user });
      await client.chat.postMessage({ channel: dm.channel?.id ?? "", text: "Here is your private answer." });
      return;
    }
    await say({
      text: `You said: ${event.text.replace(/<@[A-Z0-9]+>\s*/, "")}`,
      thread_ts: event.thread_ts ?? event.ts,
    });
  });
  app.event("reaction_added", async ({ event }) => {
    seen.reactions.push({ reaction: event.reaction, itemUser: event.item_user, itemTs: event.item.ts });
  });
  app.command("/assistant", async ({ command, ack, respond }) => {
    await ack();
    seen.commands.push({ text: command.text, userId: command.user_id });
    await respond({ response_type: "ephemeral", text: `status for <@${command.user_id}>: all good` });
  });
  app.action<BlockAction<ButtonAction>>("rate_up", async ({ ack, body, action, client }) => {
    await ack();
    if (!body.channel || !body.message) return;
    seen.actions.push({ actionId: action.action_id, value: action.value, messageTs: body.message.ts });
    await client.chat.update({
      channel: body.channel.id,
      ts: body.message.ts,
      text: "Thanks for the rating!",
      blocks: [],
    });
  });
}

async function until<T>(read: () => T | undefined, what: string, timeoutMs = 3000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = read();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const clientOptions = (emu: SlackEmulator) => ({ slackApiUrl: emu.apiUrl, retryConfig: { retries: 0 } });

interface Harness {
  emu: SlackEmulator;
  app: App;
  logger: ReturnType<typeof collectingLogger>;
  seen: Seen;
}

/** Emulator + real Bolt app with the shared listeners, connected over `transport`. */
async function startHarness(transport: "http" | "socket"): Promise<Harness> {
  const emu = await startSlackEmulator({ ...IDS, users: [{ id: ALICE, name: "alice", isAdmin: true }] });
  const logger = collectingLogger();
  const seen: Seen = { mentions: [], reactions: [], commands: [], actions: [] };
  // The emulator must be up before `new App`: Bolt calls auth.test from its constructor.
  if (transport === "http") {
    const app = new App({
      token: IDS.botToken,
      signingSecret: IDS.signingSecret,
      logger,
      clientOptions: clientOptions(emu),
    });
    registerListeners(app, seen);
    const server = await app.start(0); // port 0: the OS picks; Bolt resolves with the http.Server
    emu.setTarget({
      kind: "http",
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`,
    });
    return { emu, app, logger, seen };
  }
  const app = new App({
    token: IDS.botToken,
    appToken: IDS.appToken,
    socketMode: true,
    logger,
    clientOptions: clientOptions(emu), // Bolt hands these to the SocketModeClient too
  });
  registerListeners(app, seen);
  await app.start(); // resolves once the emulator's "hello" arrived
  emu.setTarget({ kind: "socket" });
  return { emu, app, logger, seen };
}

/** Stop the app first: a Socket Mode client whose socket vanishes reconnects (and fails) later. */
async function stopHarness(h: Harness | undefined): Promise<void> {
  await h?.app.stop();
  await h?.emu.stop();
}

describe.each(["http", "socket"] as const)("real Bolt app over %s", (transport) => {
  let h: Harness;
  let emu: SlackEmulator;
  let app: App;
  let logger: Harness["logger"];
  let seen: Seen;

  beforeAll(async () => {
    h = await startHarness(transport);
    ({ emu, app, logger, seen } = h);
  });

  afterAll(() => stopHarness(h));

  it("starts: auth.test with the bot token (and apps.connections.open with the app token in Socket Mode)", async () => {
    const auth = await emu.waitForCall("auth.test");
    expect(auth.token).toBe(IDS.botToken);
    expect(auth.response).toMatchObject({ ok: true, team_id: "T1", user_id: "UBOT", bot_id: "BBOT" });
    if (transport === "socket") {
      const open = emu.callsTo("apps.connections.open");
      expect(open).toHaveLength(1);
      expect(open[0]?.token).toBe(IDS.appToken);
      expect(String(open[0]?.response.url)).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/link\/\?ticket=/);
      expect(emu.socketConnections).toBe(1);
    } else {
      expect(emu.callsTo("apps.connections.open")).toHaveLength(0);
      const verification = await emu.sendUrlVerification("challenge-123");
      expect(verification.status).toBe(200);
      expect(verification.json).toEqual({ challenge: "challenge-123" });
    }
  });

  it("delivers app_mention; say() in the thread arrives as chat.postMessage", async () => {
    const event = emu.events.appMention({ userId: ALICE, channelId: CHANNEL, text: "hello there" });
    const delivered = await emu.sendEvent(event);
    expect(delivered.status).toBe(200);
    expect(delivered.transport).toBe(transport);
    if (transport === "socket") expect(emu.acks.map((a) => a.envelopeId)).toContain(delivered.envelopeId);

    const post = await emu.waitForCall("chat.postMessage", (c) => c.args.thread_ts === event.ts);
    expect(post.token).toBe(IDS.botToken);
    expect(post.args).toMatchObject({ channel: CHANNEL, text: "You said: hello there", thread_ts: event.ts });
    expect(post.response).toMatchObject({ ok: true, channel: CHANNEL });
    expect(seen.mentions.at(-1)?.text).toBe("<@UBOT> hello there");
    const stored = emu.messages(CHANNEL).find((m) => m.ts === post.response.ts);
    expect(stored).toMatchObject({
      thread_ts: event.ts,
      user: "UBOT",
      bot_id: "BBOT",
      text: "You said: hello there",
    });

    // The thread as Slack would return it: the user's mention, then the bot's reply.
    const replies = await app.client.conversations.replies({ channel: CHANNEL, ts: String(event.ts) });
    expect(replies.messages?.map((m) => m.user)).toEqual([ALICE, "UBOT"]);
  });

  it("delivers reaction_added with item_user", async () => {
    const rated = await app.client.chat.postMessage({ channel: CHANNEL, text: "An answer to rate" });
    const before = seen.reactions.length;
    await emu.sendEvent(
      emu.events.reactionAdded({
        userId: ALICE,
        reaction: "+1",
        channelId: CHANNEL,
        messageTs: String(rated.ts),
        itemUser: IDS.botUserId,
      }),
    );
    const got = await until(() => seen.reactions[before], "reaction handler");
    expect(got).toEqual({ reaction: "+1", itemUser: "UBOT", itemTs: rated.ts });
  });

  it("acks a slash command and respond() reaches the response_url", async () => {
    const result = await emu.sendSlashCommand({
      command: "/assistant",
      text: "status",
      userId: ALICE,
      channelId: CHANNEL,
    });
    expect(result.status).toBe(200);
    const post = await emu.waitForResponseUrlPost((p) => p.url === result.responseUrl);
    expect(post).toMatchObject({ kind: "command", channelId: CHANNEL, userId: ALICE });
    expect(post.body).toEqual({ response_type: "ephemeral", text: `status for <@${ALICE}>: all good` });
    expect(seen.commands.at(-1)).toEqual({ text: "status", userId: ALICE });
  });

  it("delivers a block action; client.chat.update edits the bot's message", async () => {
    const posted = await app.client.chat.postMessage({
      channel: CHANNEL,
      text: "Was this helpful?",
      blocks: [
        { type: "section", text: { type: "mrkdwn", text: "Was this helpful?" } },
        {
          type: "actions",
          elements: [
            {
              type: "button",
              action_id: "rate_up",
              value: "answer-42",
              text: { type: "plain_text", text: "Yes" },
            },
          ],
        },
      ],
    });
    const postCall = await emu.waitForCall("chat.postMessage", (c) => c.response.ts === posted.ts);
    expect(Array.isArray(postCall.args.blocks)).toBe(true); // form-encoded JSON, parsed back

    const result = await emu.sendBlockAction({
      userId: ALICE,
      actionId: "rate_up",
      value: "answer-42",
      channelId: CHANNEL,
      messageTs: String(posted.ts),
    });
    expect(result.status).toBe(200);
    const update = await emu.waitForCall("chat.update", (c) => c.args.ts === posted.ts);
    expect(update.args).toMatchObject({ channel: CHANNEL, text: "Thanks for the rating!", blocks: [] });
    expect(update.response).toMatchObject({ ok: true, ts: posted.ts });
    expect(seen.actions.at(-1)).toEqual({ actionId: "rate_up", value: "answer-42", messageTs: posted.ts });
    const stored = emu.messages(CHANNEL).find((m) => m.ts === posted.ts);
    expect(stored?.text).toBe("Thanks for the rating!");
    expect(stored?.blocks).toBeUndefined();
    expect(stored?.edits.map((e) => e.text)).toEqual(["Was this helpful?"]);
  });

  it("opens a DM with conversations.open and posts there", async () => {
    await emu.sendEvent(emu.events.appMention({ userId: ALICE, channelId: CHANNEL, text: "dm me please" }));
    const open = await emu.waitForCall("conversations.open");
    expect(open.args.users).toBe(ALICE);
    const dmId = String((open.response.channel as { id: string }).id);
    expect(dmId).toMatch(/^D/);
    const post = await emu.waitForCall("chat.postMessage", (c) => c.args.channel === dmId);
    expect(post.args.text).toBe("Here is your private answer.");
    expect(emu.messages(dmId).map((m) => m.text)).toEqual(["Here is your private answer."]);
    const info = await app.client.users.info({ user: ALICE });
    expect(info.user).toMatchObject({ id: ALICE, name: "alice", is_admin: true });
  });

  it("passes Slack's retry number and reason through to the listener's context", async () => {
    const before = seen.mentions.length;
    await emu.sendEvent(emu.events.appMention({ userId: ALICE, channelId: CHANNEL, text: "retried" }), {
      retryNum: 2,
      retryReason: "http_timeout",
    });
    const got = await until(() => seen.mentions[before], "retried mention");
    expect(got).toMatchObject({ retryNum: 2, retryReason: "http_timeout" });
  });

  it("answers Web API errors the way Slack does", async () => {
    await expect(app.client.chat.postMessage({ channel: CHANNEL, text: "" })).rejects.toMatchObject({
      data: { ok: false, error: "no_text" },
    });
    await expect(app.client.apiCall("nope.nothing", {})).rejects.toMatchObject({
      data: { error: "unknown_method" },
    });
    expect(emu.callsTo("nope.nothing")[0]?.response).toEqual({ ok: false, error: "unknown_method" });
    emu.failNext("chat.postMessage", "channel_not_found");
    await expect(app.client.chat.postMessage({ channel: CHANNEL, text: "x" })).rejects.toMatchObject({
      data: { error: "channel_not_found" },
    });
    const tooMany = Array.from({ length: 51 }, () => ({ type: "divider" }));
    await expect(
      app.client.chat.postMessage({ channel: CHANNEL, text: "x", blocks: tooMany }),
    ).rejects.toMatchObject({
      data: { error: "invalid_blocks" },
    });
    // Slack's "[ERROR] ..." response_metadata lines are what @slack/web-api logs for invalid blocks.
    expect(logger.lines).toContainEqual({
      level: "error",
      text: "no more than 50 items allowed [json-pointer:/blocks]",
    });
    const long = await app.client.chat.postMessage({ channel: CHANNEL, text: "a".repeat(40_001) });
    expect(emu.messages(CHANNEL).find((m) => m.ts === long.ts)?.text).toHaveLength(40_000);
  });
});

describe("HTTP only: request verification", () => {
  let h: Harness;
  let emu: SlackEmulator;
  let logger: Harness["logger"];
  let seen: Seen;

  beforeAll(async () => {
    h = await startHarness("http");
    ({ emu, logger, seen } = h);
  });

  afterAll(() => stopHarness(h));

  it("rejects a forged signature with 401 and never runs the listener", async () => {
    const before = seen.mentions.length;
    const forged = emu.events.appMention({ userId: ALICE, channelId: CHANNEL, text: "forged" });
    const body = JSON.stringify({
      type: "event_callback",
      team_id: "T1",
      api_app_id: "A0EMULATOR",
      event: forged,
    });
    const ts = Math.floor(Date.now() / 1000);
    const res = await emu.sendRaw({
      body,
      headers: {
        "content-type": "application/json",
        "x-slack-request-timestamp": String(ts),
        "x-slack-signature": emu.sign(body, ts).replace(/.$/, (c) => (c === "0" ? "1" : "0")),
      },
    });
    expect(res.status).toBe(401);
    // A genuine event afterwards is the barrier: once it is seen, the forged one would have been too.
    await emu.sendEvent(emu.events.appMention({ userId: ALICE, channelId: CHANNEL, text: "genuine" }));
    await until(() => seen.mentions.find((m) => m.text.endsWith("genuine")), "genuine mention");
    expect(seen.mentions.slice(before).map((m) => m.text)).toEqual(["<@UBOT> genuine"]);
    expect(logger.lines.some((l) => l.level === "warn" && l.text.includes("signature mismatch"))).toBe(true);
  });

  it("rejects a stale timestamp (> 5 minutes) with 401", async () => {
    const before = seen.mentions.length;
    const stale = await emu.sendEvent(
      emu.events.appMention({ userId: ALICE, channelId: CHANNEL, text: "stale" }),
      {
        timestampSec: Math.floor(Date.now() / 1000) - 6 * 60,
      },
    );
    expect(stale.status).toBe(401);
    const unsigned = await emu.sendRaw({ body: "{}", headers: { "content-type": "application/json" } });
    expect(unsigned.status).toBe(401);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen.mentions.length).toBe(before);
  });

  it("Bolt answers 400 to a form body whose content-type has a charset", async () => {
    const body = new URLSearchParams({ command: "/assistant", text: "status", user_id: ALICE }).toString();
    const res = await emu.sendRaw({
      body,
      headers: {
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        ...emu.signedHeaders(body),
      },
    });
    expect(res.status).toBe(400);
  });
});

describe("Socket Mode only", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness("socket");
  });

  afterAll(() => stopHarness(h));

  it("records the ack payload of a slash command envelope", async () => {
    const { emu, seen } = h;
    const result = await emu.sendSlashCommand({
      command: "/assistant",
      text: "again",
      userId: ALICE,
      channelId: CHANNEL,
    });
    expect(result.envelopeId).toBeDefined();
    expect(emu.acks.find((a) => a.envelopeId === result.envelopeId)?.payload).toEqual({});
    expect(seen.commands).toEqual([{ text: "again", userId: ALICE }]);
  });

  it("rejects a delivery when no socket is open", async () => {
    const { emu, app } = h;
    await app.stop(); // the socket closes; nothing can ack any more
    await until(() => (emu.socketConnections === 0 ? true : undefined), "socket closed");
    await expect(
      emu.sendEvent(emu.events.appMention({ userId: ALICE, channelId: CHANNEL, text: "x" })),
    ).rejects.toThrow(/no Socket Mode connection/);
  });
});

describe("HTTP with processBeforeResponse", () => {
  it("answers the HTTP request only after the listener finished", async () => {
    const emu = await startSlackEmulator(IDS);
    const app = new App({
      token: IDS.botToken,
      signingSecret: IDS.signingSecret,
      logger: collectingLogger(),
      processBeforeResponse: true,
      clientOptions: clientOptions(emu),
    });
    app.event("app_mention", async ({ event, say }) => {
      await say({ text: "done", thread_ts: event.ts });
    });
    try {
      const server = await app.start(0);
      emu.setTarget({
        kind: "http",
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`,
      });
      const event = emu.events.appMention({ userId: ALICE, channelId: CHANNEL, text: "sync" });
      const result = await emu.sendEvent(event);
      expect(result.status).toBe(200);
      // No waiting: the reply was posted before Bolt answered the event request.
      expect(emu.callsTo("chat.postMessage").map((c) => c.args.thread_ts)).toEqual([event.ts]);
    } finally {
      await app.stop();
      await emu.stop();
    }
  });
});

describe("Socket Mode reconnect", () => {
  it("reconnects through a fresh apps.connections.open after a disconnect message", async () => {
    const emu = await startSlackEmulator(IDS);
    const logger = collectingLogger();
    // App does not expose the client's ping timeout (which also sets the reconnect delay, 5 s by
    // default), so build the receiver directly; it needs the emulator URL in installerOptions.
    const receiver = new SocketModeReceiver({
      appToken: IDS.appToken,
      logger,
      clientPingTimeout: 1000,
      installerOptions: { clientOptions: clientOptions(emu) },
    });
    const app = new App({ token: IDS.botToken, receiver, logger, clientOptions: clientOptions(emu) });
    const mentions: string[] = [];
    app.event("app_mention", async ({ event }) => {
      mentions.push(event.text);
    });
    try {
      await app.start();
      emu.setTarget({ kind: "socket" });
      expect(emu.socketConnectionsOpened).toBe(1);
      emu.disconnectSocket("refresh_requested");
      await emu.waitForSocketConnections(2, 5000);
      expect(emu.callsTo("apps.connections.open")).toHaveLength(2);
      await until(() => (emu.socketConnections === 1 ? true : undefined), "one open connection");
      const result = await emu.sendEvent(
        emu.events.appMention({ userId: ALICE, channelId: CHANNEL, text: "after" }),
      );
      expect(result.status).toBe(200);
      await until(() => mentions.find((t) => t.endsWith("after")), "mention after reconnect");
    } finally {
      await app.stop();
      await emu.stop();
    }
  });
});
