// Proves the Discord emulator against the REAL discord.js 14 Client: login and guild cache, messages in
// guilds and DMs, replies, typing, reactions (guild and the DM-reaction quirk), slash commands with a
// deferred ephemeral reply, button updates, gateway RESUME with replayed dispatches, command
// registration, Discord's error shapes (50035, 401, 4004, 404) and multipart uploads.
import { once } from "node:events";
import {
  ActionRowBuilder,
  ApplicationCommandOptionType,
  ButtonBuilder,
  ButtonStyle,
  ChannelType,
  type ChatInputApplicationCommandData,
  Client,
  type ClientEvents,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  type Interaction,
  MessageFlags,
  Partials,
  PermissionFlagsBits,
  type TextChannel,
} from "discord.js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";
import { type DiscordEmulator, startDiscordEmulator } from "./emulators/discord/index.ts";

const TOKEN = "test-token";
const APP_ID = "1000";
const GUILD_ID = "2000";
const GENERAL = "2001";
const RANDOM = "2002";
const ALICE = "3001";
const BOB = "3002";
const CAROL = "3003";

const INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
  GatewayIntentBits.DirectMessages,
  GatewayIntentBits.GuildMessageReactions,
  GatewayIntentBits.DirectMessageReactions,
];
const PARTIALS = [Partials.Message, Partials.Channel, Partials.Reaction, Partials.User];

async function connectClient(
  emu: DiscordEmulator,
  intents: GatewayIntentBits[] = INTENTS,
  token = TOKEN,
): Promise<Client<true>> {
  const client = new Client({ intents, partials: PARTIALS, rest: { api: `${emu.url}/api` } });
  const ready = once(client, Events.ClientReady);
  await client.login(token);
  await ready;
  return client as Client<true>;
}

/** The next `event` whose arguments the predicate accepts. */
function nextEvent<K extends keyof ClientEvents>(
  client: Client,
  event: K,
  predicate: (...args: ClientEvents[K]) => boolean = () => true,
  timeoutMs = 5000,
): Promise<ClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off(event, listener);
      reject(new Error(`no ${String(event)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (...args: ClientEvents[K]) => {
      if (!predicate(...args)) return;
      clearTimeout(timer);
      client.off(event, listener);
      resolve(args);
    };
    client.on(event, listener);
  });
}

/** Collects raw gateway packets of one type until stopped. */
function collectRaw(client: Client, type: string) {
  const packets: Array<{ t: string; s: number; d: Record<string, unknown> }> = [];
  const listener = (packet: { t: string; s: number; d: Record<string, unknown> }) => {
    if (packet.t === type) packets.push(packet);
  };
  client.on(Events.Raw, listener);
  return { packets, stop: () => client.off(Events.Raw, listener) };
}

function body(request: { body: unknown }): Record<string, unknown> {
  return (request.body ?? {}) as Record<string, unknown>;
}

describe("Discord emulator with the real discord.js Client", () => {
  let emu: DiscordEmulator;
  let client: Client<true>;
  let general: TextChannel;

  beforeAll(async () => {
    emu = await startDiscordEmulator({ token: TOKEN, applicationId: APP_ID, botUserId: APP_ID });
    emu.addUser({ id: ALICE, username: "alice", globalName: "Alice" });
    emu.addUser({ id: BOB, username: "bob" });
    emu.addUser({ id: CAROL, username: "carol" });
    emu.addGuild({
      id: GUILD_ID,
      name: "Test Guild",
      channels: [
        { id: GENERAL, name: "general", type: 0 },
        { id: RANDOM, name: "random", type: 0 },
      ],
      members: [ALICE, BOB],
    });
    client = await connectClient(emu);
    general = client.channels.cache.get(GENERAL) as TextChannel;
  });

  afterAll(async () => {
    await client?.destroy();
    await emu?.close();
  });

  it("logs in, identifies with the requested intents and caches the guild", () => {
    expect(client.isReady()).toBe(true);
    expect(client.user.id).toBe(APP_ID);
    expect(client.user.bot).toBe(true);
    expect(client.application.id).toBe(APP_ID);
    const guild = client.guilds.cache.get(GUILD_ID);
    expect(guild?.name).toBe("Test Guild");
    expect(guild?.available).toBe(true);
    expect(guild?.members.cache.get(ALICE)?.user.username).toBe("alice");
    expect(general.type).toBe(ChannelType.GuildText);
    expect(general.name).toBe("general");

    const gatewayBot = emu.sent.find((r) => r.path === "/gateway/bot");
    expect(gatewayBot?.headers.authorization).toBe(`Bot ${TOKEN}`);
    expect(emu.gatewayConnections[0]).toMatchObject({
      path: "/gateway",
      query: { v: "10", encoding: "json" },
    });
    const identify = emu.identifies[0];
    expect(identify?.token).toBe(TOKEN);
    expect(identify?.intents).toBe(INTENTS.reduce((bits, bit) => bits | bit, 0));
    expect(identify?.compress).toBe(false);
    const outTypes = emu.gatewayFrames.filter((f) => f.direction === "out" && f.op === 0).map((f) => f.t);
    expect(outTypes.slice(0, 2)).toEqual(["READY", "GUILD_CREATE"]);
  });

  it("delivers a guild message to messageCreate, and message.reply() arrives with message_reference", async () => {
    const received = nextEvent(client, Events.MessageCreate, (m) => m.author.id === ALICE);
    const sent = emu.sendMessage({
      channelId: GENERAL,
      authorId: ALICE,
      content: "hello bot",
      mentionsBot: true,
    });
    const [message] = await received;

    expect(message.id).toBe(sent.id);
    expect(message.content).toBe(`<@${APP_ID}> hello bot`);
    expect(message.mentions.users.has(APP_ID)).toBe(true);
    expect(message.guildId).toBe(GUILD_ID);
    expect(message.member?.id).toBe(ALICE);
    expect(message.author.globalName).toBe("Alice");
    expect(message.createdTimestamp).toBeGreaterThan(Date.now() - 60_000);

    const echoed = nextEvent(
      client,
      Events.MessageCreate,
      (m) => m.author.id === APP_ID && m.content === "hi alice",
    );
    const reply = await message.reply("hi alice");
    expect(reply.reference?.messageId).toBe(sent.id);
    const [echo] = await echoed;
    expect(echo.id).toBe(reply.id);

    const request = emu.sent.find((r) => r.method === "POST" && body(r).content === "hi alice");
    expect(request?.path).toBe(`/channels/${GENERAL}/messages`);
    expect(request?.status).toBe(200);
    expect(body(request!).message_reference).toMatchObject({ message_id: sent.id });
    const stored = emu.messagesIn(GENERAL).find((m) => m.id === reply.id);
    expect(stored?.type).toBe(19);
    expect(stored?.referenced_message?.id).toBe(sent.id);
    expect(stored?.mentions.map((u) => u.id)).toContain(ALICE);
  });

  it("records channel.sendTyping()", async () => {
    await general.sendTyping();
    const typing = emu.typingIn(GENERAL);
    expect(typing).toHaveLength(1);
    expect(typing[0]?.status).toBe(204);
  });

  it("delivers a DM with channel type DM, and the bot can answer and open DMs", async () => {
    const received = nextEvent(
      client,
      Events.MessageCreate,
      (m) => m.author.id === BOB && m.content === "psst",
    );
    const sent = emu.sendMessage({ authorId: BOB, content: "psst" });
    const [message] = await received;

    expect(message.channel.type).toBe(ChannelType.DM);
    expect(message.guildId).toBeNull();
    expect(message.channelId).toBe(sent.channel_id);
    expect(emu.state.channels.get(sent.channel_id)?.type).toBe(1);

    await message.channel.send("dm answer");
    expect(emu.messagesIn(sent.channel_id).map((m) => m.content)).toEqual(["dm answer"]);

    const dm = await client.users.send(CAROL, "hello carol");
    const open = emu.sent.find((r) => r.method === "POST" && r.path === "/users/@me/channels");
    expect(body(open!)).toMatchObject({ recipient_id: CAROL });
    expect(open?.response).toMatchObject({ type: 1, recipients: [{ id: CAROL }] });
    expect(emu.messagesIn(dm.channelId)[0]?.content).toBe("hello carol");
  });

  it("delivers guild reactions to messageReactionAdd/Remove, also on uncached (partial) messages", async () => {
    const rated = await general.send("rate me");
    const added = nextEvent(client, Events.MessageReactionAdd, (r) => r.message.id === rated.id);
    const payload = emu.addReaction({ messageId: rated.id, userId: ALICE, emoji: "👍" });
    const [reaction, user] = await added;
    expect(reaction.emoji.name).toBe("👍");
    expect(user.id).toBe(ALICE);
    expect(reaction.message.author?.id).toBe(APP_ID);
    expect(payload).toMatchObject({
      message_author_id: APP_ID,
      guild_id: GUILD_ID,
      member: { user: { id: ALICE } },
    });

    const removed = nextEvent(client, Events.MessageReactionRemove, (r) => r.message.id === rated.id);
    emu.removeReaction({ messageId: rated.id, userId: ALICE, emoji: "👍" });
    const [removedReaction, remover] = await removed;
    expect(removedReaction.emoji.name).toBe("👍");
    expect(remover.id).toBe(ALICE);

    // An old message the client no longer caches arrives partial; fetching it uses GET .../messages/:id.
    general.messages.cache.delete(rated.id);
    const partial = nextEvent(client, Events.MessageReactionAdd, (r) => r.message.id === rated.id);
    emu.addReaction({ messageId: rated.id, userId: BOB, emoji: "👎" });
    const [partialReaction] = await partial;
    expect(partialReaction.message.partial).toBe(true);
    const fetched = await partialReaction.message.fetch();
    expect(fetched.content).toBe("rate me");
    expect(fetched.reactions.cache.get("👎")?.count).toBe(1);
    expect(
      emu.sent.some((r) => r.method === "GET" && r.path === `/channels/${GENERAL}/messages/${rated.id}`),
    ).toBe(true);
  });

  it("shows DM reactions in uncached DM channels only as raw packets (discord.js #11486)", async () => {
    const raw = collectRaw(client, "MESSAGE_REACTION_ADD");
    const emitted: string[] = [];
    const onReaction = (_: unknown, user: { id: string }) => void emitted.push(user.id);
    client.on(Events.MessageReactionAdd, onReaction);
    try {
      // A bot DM from before a restart: neither the channel nor the message is in the client's cache.
      const payload = emu.addReaction({
        messageId: "4000",
        channelId: "4100",
        userId: CAROL,
        emoji: "👍",
        messageAuthorId: APP_ID,
      });
      await vi.waitUntil(() => raw.packets.length > 0);
      await new Promise((resolve) => setImmediate(resolve));

      expect(raw.packets[0]?.d).toMatchObject({
        user_id: CAROL,
        channel_id: "4100",
        message_author_id: APP_ID,
      });
      expect(raw.packets[0]?.d.guild_id).toBeUndefined();
      expect(payload.guild_id).toBeUndefined();
      // discord.js 14.26.2–14.28.1 drops it: handle the raw packet instead.
      expect(emitted).toEqual([]);

      // Once the DM channel is cached (here: Carol writes first), the same kind of packet is emitted.
      const dm = emu.sendMessage({ authorId: CAROL, content: "hi bot" });
      await nextEvent(client, Events.MessageCreate, (m) => m.id === dm.id);
      const cached = nextEvent(client, Events.MessageReactionAdd, (r) => r.message.id === dm.id);
      emu.addReaction({ messageId: dm.id, userId: CAROL, emoji: "👍" });
      const [reaction, user] = await cached;
      expect(reaction.message.channel.type).toBe(ChannelType.DM);
      expect(user.id).toBe(CAROL);
      expect(raw.packets.at(-1)?.d).toMatchObject({ message_id: dm.id, message_author_id: CAROL });
    } finally {
      raw.stop();
      client.off(Events.MessageReactionAdd, onReaction);
    }
  });

  it("records PUT of global and guild commands and rejects invalid ones with 50035", async () => {
    const commands: ChatInputApplicationCommandData[] = [
      {
        name: "assistant",
        description: "Talk to the assistant",
        options: [
          { type: ApplicationCommandOptionType.Subcommand, name: "status", description: "Show status" },
          {
            type: ApplicationCommandOptionType.Subcommand,
            name: "forget",
            description: "Forget me",
            options: [
              { type: ApplicationCommandOptionType.String, name: "what", description: "What to forget" },
            ],
          },
        ],
      },
    ];
    const registered = await client.application.commands.set(commands);
    await client.application.commands.set(commands, GUILD_ID);

    const global = emu.sent.find((r) => r.method === "PUT" && r.path === `/applications/${APP_ID}/commands`);
    expect(global?.status).toBe(200);
    expect(body(global!)).toBeInstanceOf(Array);
    expect((global!.body as Array<{ name: string }>)[0]?.name).toBe("assistant");
    expect(emu.commandsRegistered("global")?.map((c) => c.name)).toEqual(["assistant"]);
    expect(emu.commandsRegistered(GUILD_ID)?.[0]?.guild_id).toBe(GUILD_ID);
    expect(registered.first()?.id).toBe(emu.commandsRegistered("global")?.[0]?.id);
    expect(emu.sent.some((r) => r.path === `/applications/${APP_ID}/guilds/${GUILD_ID}/commands`)).toBe(true);

    const error = await client.application.commands
      .set([{ name: "Bad Name", description: "spaces and capitals" }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiscordAPIError);
    expect((error as DiscordAPIError).code).toBe(50035);
  });

  it("answers a slash command with deferReply(ephemeral) then editReply", async () => {
    const seen: Interaction[] = [];
    const handler = async (interaction: Interaction) => {
      if (!interaction.isChatInputCommand()) return;
      seen.push(interaction);
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      await interaction.editReply(
        `status ${interaction.options.getSubcommand()} for ${interaction.user.username}: ${interaction.options.getString("detail")}`,
      );
    };
    client.on(Events.InteractionCreate, handler);
    try {
      const id = emu.slashCommand({
        userId: ALICE,
        guildId: GUILD_ID,
        channelId: GENERAL,
        name: "assistant",
        subcommand: "status",
        options: { detail: "full" },
        memberPermissions: PermissionFlagsBits.Administrator,
      });
      await emu.waitFor((r) => r.method === "PATCH" && r.path.endsWith("/messages/@original"));

      const interaction = seen[0];
      expect(interaction?.id).toBe(id);
      expect(interaction?.isChatInputCommand() && interaction.commandName).toBe("assistant");
      expect(interaction?.guildId).toBe(GUILD_ID);
      expect(interaction?.channelId).toBe(GENERAL);
      expect(interaction?.memberPermissions?.has(PermissionFlagsBits.Administrator)).toBe(true);

      const responses = emu.interactionResponses(id);
      expect(responses.map((r) => r.kind)).toEqual(["callback", "edit"]);
      expect(responses[0]).toMatchObject({ type: 5, ephemeral: true, status: 204 });
      expect(responses[1]).toMatchObject({ messageId: "@original", ephemeral: true, status: 200 });
      expect(responses[1]?.data.content).toBe("status status for alice: full");
      // The raw request path was percent-encoded (%40original); the record is decoded.
      expect(responses[1]?.request.path).toBe(
        `/webhooks/${APP_ID}/${emu.interaction(id)?.token}/messages/@original`,
      );
      const original = emu.interaction(id)?.originalMessageId;
      const message = emu.messagesIn(GENERAL).find((m) => m.id === original);
      expect(message?.content).toBe("status status for alice: full");
      expect(message?.flags).toBe(MessageFlags.Ephemeral);
    } finally {
      client.off(Events.InteractionCreate, handler);
    }
  });

  it("records reply(withResponse), followUp, fetchReply and deleteReply of one interaction", async () => {
    const results: Record<string, unknown> = {};
    const handler = async (interaction: Interaction) => {
      if (!interaction.isChatInputCommand()) return;
      const response = await interaction.reply({ content: "part 1", withResponse: true });
      results.resourceMessageId = response.resource?.message?.id;
      const followUp = await interaction.followUp({ content: "part 2", flags: MessageFlags.Ephemeral });
      results.followUpEphemeral = followUp.flags.has(MessageFlags.Ephemeral);
      results.fetched = (await interaction.fetchReply()).content;
      await interaction.deleteReply();
      results.done = true;
    };
    client.on(Events.InteractionCreate, handler);
    try {
      const created = nextEvent(client, Events.MessageCreate, (m) => m.content === "part 1");
      const id = emu.slashCommand({
        userId: BOB,
        guildId: GUILD_ID,
        name: "assistant",
        subcommand: "status",
      });
      const [publicReply] = await created;
      await vi.waitUntil(() => results.done === true);

      expect(publicReply.interactionMetadata?.id).toBe(id);
      expect(publicReply.author.id).toBe(APP_ID);
      expect(results).toMatchObject({
        resourceMessageId: publicReply.id,
        followUpEphemeral: true,
        fetched: "part 1",
      });
      const responses = emu.interactionResponses(id);
      expect(responses.map((r) => [r.kind, r.status])).toEqual([
        ["callback", 200],
        ["followup", 200],
        ["fetch", 200],
        ["delete", 204],
      ]);
      expect(responses[0]).toMatchObject({ type: 4, ephemeral: false, data: { content: "part 1" } });
      expect(responses[0]?.request.query.with_response).toBe("true");
      expect(responses[1]).toMatchObject({ ephemeral: true, data: { content: "part 2" } });
      const inChannel = emu.messagesIn(GENERAL).filter((m) => m.interaction_metadata?.id === id);
      expect(inChannel.map((m) => m.content)).toEqual(["part 2"]);
    } finally {
      client.off(Events.InteractionCreate, handler);
    }
  });

  it("answers a button click with update()", async () => {
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder().setCustomId("feedback:up").setLabel("Helpful").setStyle(ButtonStyle.Primary),
    );
    const prompt = await general.send({ content: "Was this helpful?", components: [row] });
    const clicks: string[] = [];
    const handler = async (interaction: Interaction) => {
      if (!interaction.isButton()) return;
      clicks.push(`${interaction.customId}@${interaction.message.id}`);
      await interaction.update({ content: "Thanks for the feedback!", components: [] });
    };
    client.on(Events.InteractionCreate, handler);
    try {
      const updated = nextEvent(client, Events.MessageUpdate, (_, m) => m.id === prompt.id);
      const id = emu.clickButton({ userId: BOB, messageId: prompt.id, customId: "feedback:up" });
      await emu.waitFor((r) => r.path.startsWith(`/interactions/${id}/`));
      const [, after] = await updated;

      expect(clicks).toEqual([`feedback:up@${prompt.id}`]);
      const [callback] = emu.interactionResponses(id);
      expect(callback).toMatchObject({ kind: "callback", type: 7, status: 204 });
      expect(callback?.data).toMatchObject({ content: "Thanks for the feedback!", components: [] });
      const stored = emu.messagesIn(GENERAL).find((m) => m.id === prompt.id);
      expect(stored?.content).toBe("Thanks for the feedback!");
      expect(stored?.components).toEqual([]);
      expect(after.content).toBe("Thanks for the feedback!");
    } finally {
      client.off(Events.InteractionCreate, handler);
    }
  });

  it("delivers a replayed INTERACTION_CREATE again; the second acknowledgement gets 40060", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const handler = async (interaction: Interaction) => {
      if (!interaction.isChatInputCommand()) return;
      calls++;
      await interaction.reply("pong").catch((e: unknown) => errors.push(e));
    };
    client.on(Events.InteractionCreate, handler);
    try {
      const id = emu.slashCommand({
        userId: ALICE,
        guildId: GUILD_ID,
        name: "assistant",
        subcommand: "status",
      });
      await emu.waitFor((r) => r.path.startsWith(`/interactions/${id}/`));
      const replayed = emu.replayLastDispatch((p) => p.t === "INTERACTION_CREATE");
      expect(replayed).toHaveLength(1);
      await emu.waitFor((r) => r.path.startsWith(`/interactions/${id}/`) && r.status === 400);
      await vi.waitUntil(() => errors.length > 0);

      expect(calls).toBe(2);
      expect((errors[0] as DiscordAPIError).code).toBe(40060);
      expect(emu.interactionResponses(id).map((r) => r.status)).toEqual([204, 400]);
    } finally {
      client.off(Events.InteractionCreate, handler);
    }
  });

  it("resumes after a gateway RECONNECT and replays what the client missed", async () => {
    const seenBefore = emu.sendMessage({ channelId: RANDOM, authorId: ALICE, content: "before reconnect" });
    await nextEvent(client, Events.MessageCreate, (m) => m.id === seenBefore.id);

    const raw = collectRaw(client, "MESSAGE_CREATE");
    const created: string[] = [];
    const onCreate = (m: { id: string }) => void created.push(m.id);
    client.on(Events.MessageCreate, onCreate);
    try {
      const resumedEvent = once(client, Events.ShardResume);
      const resumed = emu.reconnect({ resume: true, replayLast: 1 });
      // Dispatched while the client is away: logged for the session, delivered on RESUME.
      const missed = emu.sendMessage({ channelId: RANDOM, authorId: BOB, content: "while you were away" });
      await resumed;
      await resumedEvent;
      await vi.waitUntil(() => created.includes(missed.id));

      const resumeFrame = emu.gatewayFrames.find((f) => f.direction === "in" && f.op === 6);
      expect(resumeFrame?.d).toMatchObject({ token: TOKEN, session_id: emu.sessions[0]?.id });
      expect(emu.gatewayConnections.at(-1)?.path).toBe("/gateway-resume");
      expect(emu.sessions[0]).toMatchObject({ connected: true, resumes: 1 });
      // The already-seen message came again (duplicate delivery) but discord.js dedupes it by cache.
      expect(raw.packets.map((p) => p.d.id)).toEqual([seenBefore.id, missed.id]);
      expect(created).toEqual([missed.id]);
      const afterResume = emu.gatewayFrames
        .slice(emu.gatewayFrames.indexOf(resumeFrame!) + 1)
        .filter((f) => f.direction === "out" && f.op === 0);
      expect(afterResume.map((f) => [f.t, f.s])).toEqual([
        ["MESSAGE_CREATE", raw.packets[0]?.s],
        ["MESSAGE_CREATE", raw.packets[1]?.s],
        ["RESUMED", (raw.packets[1]?.s ?? 0) + 1],
      ]);
      expect(raw.packets[1]!.s).toBe(raw.packets[0]!.s + 1);
    } finally {
      raw.stop();
      client.off(Events.MessageCreate, onCreate);
    }
  });

  it("rejects content over 2000 characters with Discord's 50035 error", async () => {
    const error = await general.send("x".repeat(2001)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiscordAPIError);
    const apiError = error as DiscordAPIError;
    expect(apiError.status).toBe(400);
    expect(apiError.code).toBe(50035);
    expect(apiError.rawError).toMatchObject({
      errors: { content: { _errors: [{ code: "BASE_TYPE_MAX_LENGTH" }] } },
    });
    const recorded = emu.sent.filter((r) => r.status === 400 && r.path === `/channels/${GENERAL}/messages`);
    expect(recorded.map((r) => (body(r).content as string).length)).toEqual([2001]);

    const exact = await general.send("y".repeat(2000));
    expect(exact.content).toHaveLength(2000);
  });

  it("parses multipart uploads (payload_json + files) and serves the attachment", async () => {
    const sent = await general.send({
      content: "here is a file",
      files: [{ attachment: Buffer.from("hello file"), name: "note.txt" }],
    });
    const request = emu.sent.find((r) => r.method === "POST" && body(r).content === "here is a file");
    expect(request?.headers["content-type"]).toMatch(/^multipart\/form-data/);
    expect(request?.files).toHaveLength(1);
    expect(request?.files[0]).toMatchObject({ field: "files[0]", filename: "note.txt", size: 10 });
    expect(request?.files[0]?.data.toString()).toBe("hello file");
    const attachment = sent.attachments.first();
    expect(attachment?.name).toBe("note.txt");
    const download = await fetch(attachment!.url);
    expect(await download.text()).toBe("hello file");
  });

  it("answers unknown routes with 404 in Discord's shape and records them", async () => {
    const error = await client.rest.get("/nothing/here").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiscordAPIError);
    expect((error as DiscordAPIError).status).toBe(404);
    expect(emu.unknownRequests().map((r) => `${r.method} ${r.path}`)).toContain("GET /nothing/here");
  });

  it("withholds guild message content from a client without the MessageContent intent", async () => {
    const limited = await connectClient(
      emu,
      INTENTS.filter((i) => i !== GatewayIntentBits.MessageContent),
    );
    try {
      const plain = nextEvent(limited, Events.MessageCreate, (m) => m.author.id === BOB);
      emu.sendMessage({ channelId: RANDOM, authorId: BOB, content: "secret words" });
      const [message] = await plain;
      expect(message.content).toBe("");

      const mention = nextEvent(limited, Events.MessageCreate, (m) => m.author.id === ALICE);
      emu.sendMessage({ channelId: RANDOM, authorId: ALICE, content: "visible", mentionsBot: true });
      const [mentioned] = await mention;
      expect(mentioned.content).toBe(`<@${APP_ID}> visible`);
    } finally {
      await limited.destroy();
    }
  });
});

describe("Discord emulator authentication", () => {
  let emu: DiscordEmulator;

  beforeAll(async () => {
    emu = await startDiscordEmulator({ token: TOKEN, applicationId: APP_ID });
  });

  afterAll(async () => {
    await emu?.close();
  });

  it("answers REST with 401 for a wrong token, so login() fails with TokenInvalid", async () => {
    const client = new Client({ intents: INTENTS, rest: { api: emu.apiUrl } });
    try {
      await expect(client.login("wrong-token")).rejects.toMatchObject({ code: "TokenInvalid" });
      expect(emu.sent[0]).toMatchObject({ path: "/gateway/bot", status: 401 });
    } finally {
      await client.destroy();
    }
  });

  it("closes the gateway with 4004 when IDENTIFY carries a wrong token", async () => {
    const socket = new WebSocket(`${emu.gatewayUrl}?v=10&encoding=json`);
    const [hello] = (await once(socket, "message")) as [Buffer];
    expect(JSON.parse(hello.toString())).toMatchObject({ op: 10, d: { heartbeat_interval: 41_250 } });
    socket.send(JSON.stringify({ op: 2, d: { token: "wrong", intents: 0, properties: {} } }));
    const [code] = (await once(socket, "close")) as [number];
    expect(code).toBe(4004);
    expect(emu.sessions).toEqual([]);
  });
});
