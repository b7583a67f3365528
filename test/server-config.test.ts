// Per-server settings end to end: operators run `/assistant config ...` through the real discord.js
// client and the real Bolt app against the emulators; the assertions read what reached the OpenAI
// emulator (the system prompt, the model), what the bot posted, and the database (the settings,
// their audit, the exchanges). MEMORY_SCOPE is checked by what the prompt in another server holds.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PROMPT_MAX_CHARS } from "../src/core/server-config-messages.ts";
import { CACHE_MS, createServerSettings } from "../src/core/server-settings.ts";
import type { ChatCompletionRequest, OpenAIEmulator } from "./emulators/openai/index.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import {
  ALICE,
  BOB,
  type DiscordApp,
  GENERAL,
  GUILD_ID,
  RANDOM,
  startDiscordApp,
} from "./support/discord-app.ts";
import { CHANNEL, eventually, SLACK_IDS, type SlackAppHarness, startSlackApp } from "./support/slack-app.ts";

/** A second Discord server, with a role. */
const GUILD_B = "5000";
const B_GENERAL = "5001";
const B_OTHER = "5002";
const HELPERS = "6001";

/** The chat request whose last message is `text` (the reply to that message). */
function chatFor(openai: OpenAIEmulator, text: string): ChatCompletionRequest | undefined {
  return openai.requests
    .filter((r) => r.path === "/v1/chat/completions")
    .map((r) => r.body as ChatCompletionRequest)
    .findLast((b) => b.messages.at(-1)?.content === text);
}

function systemOf(request: ChatCompletionRequest | undefined): string {
  const content = request?.messages[0]?.content;
  return typeof content === "string" ? content : "";
}

function withSecondGuild(h: DiscordApp): void {
  h.emu.addGuild({
    id: GUILD_B,
    name: "Guild B",
    channels: [
      { id: B_GENERAL, name: "b-general" },
      { id: B_OTHER, name: "b-other" },
    ],
    roles: [{ id: HELPERS, name: "Helpers", permissions: "0" }],
    members: [ALICE, { userId: BOB, roles: [HELPERS] }],
  });
}

/** `/assistant config <sub>` (or another subcommand) in any server and channel; the edited reply. */
async function discordCommand(
  h: DiscordApp,
  userId: string,
  sub: string,
  options: {
    group?: string;
    guildId?: string;
    channelId?: string;
    options?: Array<{ name: string; type: number; value: string }>;
  } = {},
): Promise<{ content: string; embeds: Array<{ fields?: Array<{ name: string; value: string }> }> }> {
  const id = h.emu.slashCommand({
    userId,
    name: "assistant",
    subcommand: sub,
    ...(options.group !== undefined ? { subcommandGroup: options.group } : {}),
    guildId: options.guildId ?? GUILD_ID,
    channelId: options.channelId ?? GENERAL,
    ...(options.options ? { options: options.options } : {}),
  });
  const edit = await vi.waitUntil(
    () => h.emu.interactionResponses(id).findLast((r) => r.kind === "edit" && r.status === 200),
    { timeout: 10_000, interval: 20 },
  );
  return {
    content: String(edit.data.content ?? ""),
    embeds: (edit.data.embeds ?? []) as Array<{ fields?: Array<{ name: string; value: string }> }>,
  };
}

const config = (h: DiscordApp, userId: string, sub: string, o: Parameters<typeof discordCommand>[3] = {}) =>
  discordCommand(h, userId, sub, { group: "config", ...o });
const text = (name: string, value: string) => ({ name, type: 3, value });
const channelOption = (value: string) => ({ name: "channel", type: 7, value });
const roleOption = (value: string) => ({ name: "role", type: 8, value });

/** Posts a mention the bot must ignore, and waits until the adapter says it did. */
async function ignoredDiscordMention(h: DiscordApp, userId: string, channelId: string, words: string) {
  const message = h.emu.sendMessage({ authorId: userId, content: words, mentionsBot: true, channelId });
  await vi.waitUntil(
    () => h.log.lines.some((l) => l.includes("not answered here") && l.includes(message.id)),
    { timeout: 10_000, interval: 20 },
  );
  return message;
}

describe("per-server settings on Discord", () => {
  let h: DiscordApp;

  beforeAll(async () => {
    h = await startDiscordApp({ env: { OPERATORS: `discord:${ALICE}` } });
    withSecondGuild(h);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("registers config as a subcommand group with typed channel and role options", () => {
    const [command] = h.emu.commandsRegistered("global") ?? [];
    const group = command?.options?.find((o) => o.name === "config") as
      | { type: number; options: Array<{ name: string; options?: Array<Record<string, unknown>> }> }
      | undefined;
    expect(group?.type).toBe(2);
    expect(group?.options.map((o) => o.name)).toEqual(["show", "prompt", "model", "channels", "roles"]);
    const prompt = group?.options.find((o) => o.name === "prompt")?.options ?? [];
    expect(prompt.map((o) => [o.name, o.type, o.required ?? false])).toEqual([
      ["text", 3, true],
      ["channel", 7, false],
    ]);
    const channels = group?.options.find((o) => o.name === "channels")?.options ?? [];
    expect(channels[0]?.choices).toEqual([
      { name: "add", value: "add" },
      { name: "remove", value: "remove" },
      { name: "clear", value: "clear" },
    ]);
    const roles = group?.options.find((o) => o.name === "roles")?.options ?? [];
    expect(roles.map((o) => o.type)).toEqual([3, 8]);
  });

  it("refuses a non-operator and changes nothing", async () => {
    const reply = await config(h, BOB, "prompt", { options: [text("text", "Always answer in French.")] });
    expect(reply.content).toContain("Only the bot's operators can view or change server settings");
    expect(reply.content).toContain(`discord:${BOB}`);
    expect(await h.db.serverSetting.count()).toBe(0);
    expect(await h.db.serverSettingChange.count()).toBe(0);
    const shown = await config(h, BOB, "show");
    expect(shown.content).toContain("Only the bot's operators");
  });

  it("a server prompt reaches the model in that server only, not in another server or a DM", async () => {
    const set = await config(h, ALICE, "prompt", { options: [text("text", "Speak like a pirate.")] });
    expect(set.content).toContain("Done");
    expect(await h.db.serverSetting.findMany()).toMatchObject([
      { platform: "discord", serverId: GUILD_ID, channelId: "", systemPrompt: "Speak like a pirate." },
    ]);
    const audit = await h.db.serverSettingChange.findMany();
    expect(audit).toMatchObject([
      {
        changedBy: `discord:${ALICE}`,
        field: "systemPrompt",
        oldValue: null,
        newValue: "Speak like a pirate.",
      },
    ]);

    await h.mention(BOB, "ahoy in guild A");
    expect(systemOf(chatFor(h.openai, "ahoy in guild A"))).toMatch(/\n\nSpeak like a pirate\.$/);
    await h.mention(BOB, "hello in guild B", { channelId: B_GENERAL });
    expect(systemOf(chatFor(h.openai, "hello in guild B"))).not.toContain("pirate");
    await h.mention(BOB, "hello in a DM", { dm: true });
    expect(systemOf(chatFor(h.openai, "hello in a DM"))).not.toContain("pirate");
    // The exchange records its server (null in DMs).
    const servers = await h.db.exchange.findMany({
      where: { userText: { in: ["ahoy in guild A", "hello in guild B", "hello in a DM"] } },
      select: { userText: true, serverId: true },
      orderBy: { id: "asc" },
    });
    expect(servers.map((e) => e.serverId)).toEqual([GUILD_ID, GUILD_B, null]);
  });

  it("a channel's prompt wins over the server's, and clearing it brings the server's back", async () => {
    const set = await config(h, ALICE, "prompt", {
      options: [text("text", "Be formal here."), channelOption(RANDOM)],
    });
    expect(set.content).toContain(`in <#${RANDOM}>`);
    await h.mention(BOB, "greetings in random", { channelId: RANDOM });
    const system = systemOf(chatFor(h.openai, "greetings in random"));
    expect(system).toContain("Be formal here.");
    expect(system).not.toContain("pirate");
    await h.mention(BOB, "still general", { channelId: GENERAL });
    expect(systemOf(chatFor(h.openai, "still general"))).toContain("pirate");

    const cleared = await config(h, ALICE, "prompt", {
      options: [text("text", "clear"), channelOption(RANDOM)],
    });
    expect(cleared.content).toContain("the server's prompt applies there");
    await h.mention(BOB, "random again", { channelId: RANDOM });
    expect(systemOf(chatFor(h.openai, "random again"))).toContain("pirate");
  });

  it("refuses a prompt over the length limit, and says what to do", async () => {
    const long = "x".repeat(PROMPT_MAX_CHARS + 1);
    const reply = await config(h, ALICE, "prompt", { options: [text("text", long)] });
    expect(reply.content).toContain(`at most ${PROMPT_MAX_CHARS.toLocaleString("en")}`);
    expect(reply.content).toContain("Nothing changed");
    expect((await h.db.serverSetting.findFirstOrThrow({ where: { channelId: "" } })).systemPrompt).toBe(
      "Speak like a pirate.",
    );
  });

  it("a server model answers there; an unknown model is refused with the allowed list", async () => {
    const unknown = await config(h, ALICE, "model", { options: [text("name", "gpt-9-ultra")] });
    expect(unknown.content).toContain('"gpt-9-ultra" is not a model this bot may use');
    expect(unknown.content).toContain("gpt-4.1-mini");
    expect((await h.db.serverSetting.findFirstOrThrow({ where: { channelId: "" } })).chatModel).toBeNull();

    const set = await config(h, ALICE, "model", { options: [text("name", "gpt-4.1")] });
    expect(set.content).toContain("gpt-4.1 answers");
    const { message, replies } = await h.mention(BOB, "which model now?");
    expect(chatFor(h.openai, "which model now?")?.model).toBe("gpt-4.1");
    expect(replies[0]?.content).toBe("echo(gpt-4.1): which model now?");
    expect((await h.db.exchange.findFirstOrThrow({ where: { userMessageId: message.id } })).model).toBe(
      "gpt-4.1",
    );
    await h.mention(BOB, "model in B", { channelId: B_GENERAL });
    expect(chatFor(h.openai, "model in B")?.model).toBe("gpt-4.1-mini");
    await h.mention(BOB, "model in DM", { dm: true });
    expect(chatFor(h.openai, "model in DM")?.model).toBe("gpt-4.1-mini");

    const cleared = await config(h, ALICE, "model", { options: [text("name", "clear")] });
    expect(cleared.content).toContain("gpt-4.1-mini answers");
    await h.mention(BOB, "model after clear");
    expect(chatFor(h.openai, "model after clear")?.model).toBe("gpt-4.1-mini");
  });

  it("status shows the settings that apply where it is run", async () => {
    const long = `Speak like a pirate and ${"always mention the sea, ".repeat(6)}`.trim();
    await config(h, ALICE, "prompt", { options: [text("text", long)] });
    const status = await discordCommand(h, BOB, "status");
    const here = status.embeds[0]?.fields?.find((f) => f.name === "In this server")?.value ?? "";
    expect(here).toContain(`Server prompt: yes (this server): "${long.slice(0, 80)}…"`);
    expect(here).toContain("Model here: gpt-4.1-mini (the bot's default)");
    expect(here).toContain("Answers in: every channel");
    // In guild B nothing is set; in a DM there is no server.
    const inB = await discordCommand(h, BOB, "status", { guildId: GUILD_B, channelId: B_GENERAL });
    expect(inB.embeds[0]?.fields?.find((f) => f.name === "In this server")?.value).toContain(
      "Server prompt: none",
    );
    const dmId = h.emu.slashCommand({ userId: BOB, name: "assistant", subcommand: "status" });
    const dm = await vi.waitUntil(
      () => h.emu.interactionResponses(dmId).findLast((r) => r.kind === "edit" && r.status === 200),
      { timeout: 10_000, interval: 20 },
    );
    const dmFields = ((dm.data.embeds as Array<{ fields: Array<{ name: string }> }>)[0]?.fields ?? []).map(
      (f) => f.name,
    );
    expect(dmFields).not.toContain("In this server");
  });

  it("answers only in the allowed channels: elsewhere nothing is posted and nothing stored", async () => {
    const added = await config(h, ALICE, "channels", {
      options: [text("action", "add"), channelOption(GENERAL)],
    });
    expect(added.content).toContain(`only in <#${GENERAL}>`);
    const before = await h.db.exchange.count();
    const typingBefore = h.emu.typingIn(RANDOM).length;
    const ignored = await ignoredDiscordMention(h, BOB, RANDOM, "anyone in random?");
    expect(h.repliesTo(ignored.id)).toEqual([]);
    expect(h.emu.messagesIn(RANDOM).filter((m) => m.message_reference?.message_id === ignored.id)).toEqual(
      [],
    );
    expect(h.emu.typingIn(RANDOM).length).toBe(typingBefore);
    expect(await h.db.exchange.count()).toBe(before);
    // The allowed channel, another server and DMs are answered.
    expect((await h.mention(BOB, "in general it works")).replies).toHaveLength(1);
    expect((await h.mention(BOB, "guild B is not limited", { channelId: B_GENERAL })).replies).toHaveLength(
      1,
    );
    expect((await h.mention(BOB, "a DM always works", { dm: true })).replies).toHaveLength(1);

    const again = await config(h, ALICE, "channels", {
      options: [text("action", "add"), channelOption(GENERAL)],
    });
    expect(again.content).toContain("already in the list. Nothing changed.");
    const missing = await config(h, ALICE, "channels", { options: [text("action", "add")] });
    expect(missing.content).toContain('"add" needs a channel');
    const cleared = await config(h, ALICE, "channels", { options: [text("action", "clear")] });
    expect(cleared.content).toContain("every channel");
    expect((await h.mention(BOB, "random answered again", { channelId: RANDOM })).replies).toHaveLength(1);
  });

  it("answers only members with an allowed role", async () => {
    const set = await config(h, ALICE, "roles", {
      guildId: GUILD_B,
      channelId: B_GENERAL,
      options: [text("action", "add"), roleOption(HELPERS)],
    });
    expect(set.content).toContain(`only members with <@&${HELPERS}>`);
    expect(await h.db.serverSetting.findFirstOrThrow({ where: { serverId: GUILD_B } })).toMatchObject({
      allowedRoleIds: [HELPERS],
      updatedBy: `discord:${ALICE}`,
    });
    // Bob has the role, Alice (an operator, but not a Helper) does not.
    expect((await h.mention(BOB, "helper asks", { channelId: B_OTHER })).replies).toHaveLength(1);
    const before = await h.db.exchange.count();
    const ignored = await ignoredDiscordMention(h, ALICE, B_OTHER, "not a helper");
    expect(h.repliesTo(ignored.id)).toEqual([]);
    expect(await h.db.exchange.count()).toBe(before);
    // Guild A has no role limit.
    expect((await h.mention(ALICE, "guild A has no roles set")).replies).toHaveLength(1);
  });

  it("config show lists the server's settings and its channel overrides", async () => {
    await config(h, ALICE, "model", { options: [text("name", "gpt-4o-mini"), channelOption(RANDOM)] });
    const shown = await config(h, ALICE, "show");
    expect(shown.content).toContain("Settings of this server:");
    expect(shown.content).toContain("always mention the sea");
    expect(shown.content).toContain(`<#${RANDOM}>: model gpt-4o-mini`);
  });

  it("with MEMORY_SCOPE=user (the default) a fact told in one server is remembered in another", async () => {
    await h.mention(BOB, "my boat is called Seagull", { channelId: B_OTHER });
    await h.mention(BOB, "what is my boat called?", { channelId: RANDOM });
    expect(systemOf(chatFor(h.openai, "what is my boat called?"))).toContain("Seagull");
  });
});

describe("MEMORY_SCOPE=user-server on Discord", () => {
  let h: DiscordApp;

  beforeAll(async () => {
    h = await startDiscordApp({ env: { MEMORY_SCOPE: "user-server" } });
    withSecondGuild(h);
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("keeps memory within a server: a fact told in server A is not in the prompt in server B", async () => {
    await h.mention(BOB, "my cat is named Biscuit", { channelId: GENERAL });
    await h.mention(BOB, "my dog is named Pepper", { dm: true });
    // Another channel of server A remembers it (memory, not this channel's recent turns).
    await h.mention(BOB, "what is my cat called?", { channelId: RANDOM });
    const inA = systemOf(chatFor(h.openai, "what is my cat called?"));
    expect(inA).toContain("Biscuit");
    expect(inA).not.toContain("Pepper");
    await h.mention(BOB, "what is my cat called, in B?", { channelId: B_GENERAL });
    const inB = systemOf(chatFor(h.openai, "what is my cat called, in B?"));
    expect(inB).not.toContain("Biscuit");
    expect(inB).not.toContain("Pepper");
    // DMs are their own scope.
    await h.mention(BOB, "and my dog?", { dm: true });
    const inDm = chatFor(h.openai, "and my dog?");
    expect(JSON.stringify(inDm?.messages)).toContain("Pepper");
    expect(JSON.stringify(inDm?.messages)).not.toContain("Biscuit");
  });
});

describe("per-server settings on Slack", () => {
  let h: SlackAppHarness;
  const OTHER = "C0OTHER";
  const operator = "U0ALICE";
  const member = "U0BOB";

  /** Mentions and waits for the reply in the mention's thread. */
  async function ask(userId: string, words: string, channelId = CHANNEL) {
    const { ts } = await h.mention(userId, words, { channelId });
    return h.replyTo(ts);
  }
  const command = async (userId: string, words: string, channelId = CHANNEL) =>
    String((await h.command(userId, words, { channelId })).response.body.text ?? "");

  beforeAll(async () => {
    h = await startSlackApp({
      transport: "http",
      env: { OPERATORS: `slack:${SLACK_IDS.teamId}:${operator}` },
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("refuses a non-operator, and changes nothing", async () => {
    const reply = await command(member, "config prompt Always answer in French.");
    expect(reply).toContain("Only the bot's operators can view or change server settings");
    expect(await h.database.db.serverSetting.count()).toBe(0);
  });

  it("a workspace prompt reaches the model in channels, not in DMs; a channel override wins", async () => {
    expect(await command(operator, "config prompt Speak like a pirate.")).toContain("Done");
    await ask(member, "ahoy slack");
    expect(systemOf(chatFor(h.openai, "ahoy slack"))).toContain("Speak like a pirate.");
    const { ts } = await h.dm(member, "slack dm hello");
    await eventually(() => chatFor(h.openai, "slack dm hello"), "the DM's chat request");
    expect(systemOf(chatFor(h.openai, "slack dm hello"))).not.toContain("pirate");
    expect(ts).toBeTruthy();

    expect(await command(operator, `config prompt --channel <#${OTHER}|other> Be formal here.`)).toContain(
      `in #${OTHER}`,
    );
    await ask(member, "greetings other", OTHER);
    const system = systemOf(chatFor(h.openai, "greetings other"));
    expect(system).toContain("Be formal here.");
    expect(system).not.toContain("pirate");
    expect(await h.database.db.serverSetting.findMany({ orderBy: { channelId: "asc" } })).toMatchObject([
      { platform: "slack", serverId: SLACK_IDS.teamId, channelId: "", systemPrompt: "Speak like a pirate." },
      { platform: "slack", serverId: SLACK_IDS.teamId, channelId: OTHER, systemPrompt: "Be formal here." },
    ]);
  });

  it("a channel typed as plain text gets a clear answer", async () => {
    const reply = await command(operator, "config channels add #general");
    expect(reply).toContain('"#general" is not a channel I can read');
    expect(reply).toContain("Nothing changed");
  });

  it("a model override reaches the emulator", async () => {
    expect(await command(operator, "config model gpt-4o")).toContain("gpt-4o answers");
    await ask(member, "slack model?");
    expect(chatFor(h.openai, "slack model?")?.model).toBe("gpt-4o");
    expect(await command(operator, "config model nonsense-model")).toContain(
      "is not a model this bot may use",
    );
  });

  it("Slack has no roles: the roles command says so", async () => {
    expect(await command(operator, "config roles add <@&123456>")).toContain("Slack has no roles");
  });

  it("answers only in the allowed channels; elsewhere nothing is posted and nothing stored", async () => {
    expect(await command(operator, `config channels add <#${CHANNEL}|general>`)).toContain(
      `only in #${CHANNEL}`,
    );
    const before = await h.database.db.exchange.count();
    const { ts } = await h.mention(member, "is anyone in other?", { channelId: OTHER });
    await eventually(
      () => h.log.lines.some((l) => l.includes("not answered here") && l.includes(ts)),
      "the ignored mention",
    );
    expect(h.postsInThread(ts)).toEqual([]);
    expect(await h.database.db.exchange.count()).toBe(before);
    await ask(member, "general still answers");

    const status = await command(member, "status");
    expect(status).toContain(`Answers in: #${CHANNEL}`);
    expect(status).toContain("Model here: gpt-4o (set for this server)");
  });

  it("forgetting an operator keeps the server's settings and removes who made them", async () => {
    await ask(operator, "hello from the operator");
    const request = await h.app.assistant.forgetRequest(h.userRef(operator));
    const click = await h.click(operator, {
      actionId: request.confirmButtonId,
      channelId: CHANNEL,
      messageTs: "1700000000.000200",
    });
    await h.responseTo(click.responseUrl, 20_000);
    const db = h.database.db;
    await eventually(
      async () => (await db.user.count({ where: { externalId: h.externalId(operator) } })) === 0,
      "the forget",
    );
    const rows = await db.serverSetting.findMany();
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.map((r) => r.updatedBy)).toEqual(rows.map(() => null));
    expect(await db.serverSettingChange.count()).toBeGreaterThan(0);
    expect(await db.serverSettingChange.count({ where: { changedBy: { not: null } } })).toBe(0);
  });
});

describe("the settings cache", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.close();
  });

  it("sees its own changes at once and another process's once its entry is older than CACHE_MS", async () => {
    let clock = 0;
    const mine = createServerSettings({ db: database.db, allowedModels: ["m"], now: () => clock });
    const other = createServerSettings({ db: database.db, allowedModels: ["m"], now: () => clock });
    const place = { platform: "discord" as const, serverId: "9000", channelId: "9001" };
    expect((await other.effective(place))?.systemPrompt).toBeUndefined();
    await mine.change(place, { field: "systemPrompt", value: "Be brief." }, "discord:1");
    expect((await mine.effective(place))?.systemPrompt).toBe("Be brief.");
    // The other process answers from its cache until the entry expires, then reads the change.
    clock += CACHE_MS - 1;
    expect((await other.effective(place))?.systemPrompt).toBeUndefined();
    clock += 1;
    expect((await other.effective(place))?.systemPrompt).toBe("Be brief.");
    // The channel's row (channelId set) wins over the server's.
    await mine.change({ ...place }, { field: "chatModel", value: "m" }, "discord:1");
    await mine.change(
      { platform: "discord", serverId: "9000" },
      { field: "chatModel", value: "not-allowed-any-more" },
      "discord:1",
    );
    expect(await mine.effective(place)).toMatchObject({ chatModel: "m", modelFrom: "channel" });
    expect(await mine.effective({ ...place, channelId: "9002" })).toMatchObject({
      disallowedModel: "not-allowed-any-more",
    });
    expect((await mine.effective({ ...place, channelId: "9002" }))?.chatModel).toBeUndefined();
    // DMs have no settings.
    expect(await mine.effective({ platform: "discord" })).toBeUndefined();
  });
});
