/**
 * Discord emulator: REST (v10) and gateway on one local port, good enough for the REAL discord.js
 * 14 Client to log in, cache guilds, receive messages / reactions / interactions and answer them.
 * Everything the bot sends is recorded for assertions.
 *
 *   const emu = await startDiscordEmulator({ token: "test-token", applicationId: "1000", botUserId: "1000" });
 *   emu.addGuild({ id: "2000", name: "Test", channels: [{ id: "2001", name: "general" }], members: ["3000"] });
 *   const client = new Client({ intents, partials, rest: { api: emu.apiUrl } });   // apiUrl = url + "/api"
 *   await client.login("test-token");       // resolves after READY; "clientReady" follows the GUILD_CREATEs
 *   const msg = emu.sendMessage({ channelId: "2001", authorId: "3000", content: "hi", mentionsBot: true });
 *   const req = await emu.waitFor((r) => r.method === "POST" && r.path === "/channels/2001/messages");
 *   ...
 *   await client.destroy(); await emu.close();
 *
 * Wiring (what discord.js needs, all done here): `GET /api/v10/gateway/bot` gives `ws://…/gateway`
 * and `session_start_limit.max_concurrency`; the gateway sends plain JSON text frames (discord.js
 * asks for no compression without zlib-sync); READY carries user, application {id, flags},
 * session_id, resume_gateway_url (`ws://…/gateway-resume`) and the guilds as unavailable, then
 * one GUILD_CREATE per guild follows at once (otherwise discord.js waits 15 s per guild).
 *
 * Test-facing API (all ids are strings; unknown users are created on the fly):
 * - World: `addUser({ id?, username?, globalName?, bot?, dmsClosed? })`, `addGuild({ id?, name?,
 *   ownerId?, channels?: [{ id?, name?, type? }], roles?, members?, everyonePermissions?, botRoles? })`,
 *   `addChannel(guildId, spec)`, `addMember(guildId, { userId, roles? })`. Adding a guild or
 *   channel while a client is connected dispatches GUILD_CREATE / CHANNEL_CREATE.
 * - Inbound events (full payloads: author, member, mentions with member, timestamps, snowflakes):
 *   `sendMessage({ channelId?, guildId?, authorId, content, mentionsBot?, replyTo?, attachments?,
 *   embeds? })` → the APIMessage. A known channelId decides guild vs DM; guildId alone → the
 *   guild's first text channel; neither (or an unknown channelId) → a DM from the author (DM channel
 *   type 1 created on first use, `channel_type: 1` in the dispatch); `editMessage`,
 *   `deleteMessage`; `addReaction` / `removeReaction({ messageId,
 *   channelId?, userId, emoji })` → the MESSAGE_REACTION_ADD/REMOVE payload (with
 *   `message_author_id`); `slashCommand({ userId, guildId?, channelId?, name, subcommandGroup?,
 *   subcommand?, options?, memberPermissions?, locale? })`, `clickButton({ userId, messageId,
 *   customId })`, `selectMenu({ …, values })` → interaction id (`interaction(id)` for the record).
 * - Gateway: `reconnect({ resume = true, replayLast = 0 })` sends RECONNECT (op 7); the client
 *   RESUMEs ~500 ms later and gets every dispatch it missed (anything sent in between), plus
 *   `replayLast` already-seen ones again; resolves when resumed. `resume: false` sends
 *   INVALID_SESSION instead (fresh IDENTIFY). `replayLastDispatch(filter?)` re-sends the last
 *   dispatch with its original sequence number. `gatewayFrames` (in/out), `sessions`,
 *   `identifies` (each IDENTIFY's data: token, intents, properties).
 * - Records: `sent` (every REST request: method, URL-decoded path without /api/v10, route pattern,
 *   params, query, body (JSON or the multipart payload_json), files, status, response, at),
 *   `waitFor(predicate, timeoutMs?)` (already recorded or future), `messagesIn(channelId,
 *   { includeUsers?, includeDeleted? })` (current state of the bot's messages there, interaction
 *   responses included), `interactionResponses(interactionId)` (callback, edits of @original,
 *   followups, deletes in order), `typingIn(channelId)`, `commandsRegistered(scope = "global" |
 *   guildId)`, `unknownRequests()` (requests no route matched: 404 `{ message, code: 0 }`).
 * - Faults: `failNext({ method?, path?, status, code?, message?, body?, headers?, times? })`.
 *   discord.js's REST retries 5xx (3 times by default) and waits out a 429 with a `retry-after`
 *   header, so a single scripted 500 or 429 is invisible to the bot unless `times` exceeds that.
 * - Options: `interactionTimeoutMs` (default 3000: a first callback later than that gets 10062
 *   Unknown interaction, as on Discord), `heartbeatIntervalMs` (41250), `disallowedIntents`
 *   (IDENTIFY with them is closed with 4014), `applicationFlags`.
 *
 * Discord behaviour emulated: bot auth on REST (`Authorization: Bot <token>`, else 401; interaction
 * and webhook routes need none), wrong gateway token → close 4004; the bot's own posts come back as
 * MESSAGE_CREATE (after the REST response); without the MessageContent intent guild messages
 * arrive with empty content unless they mention the bot; events are filtered by intents
 * (GuildMessages / DirectMessages / …Reactions); content > 2000 chars, > 10 embeds, embed limits →
 * 400 code 50035 "Invalid Form Body" with Discord's nested `errors`; empty message → 50006;
 * replies to unknown messages → 50035; DMs to users with `dmsClosed` → 403 50007; missing Send
 * Messages → 403 50013; interaction acknowledged twice → 40060; editing @original before any
 * callback → 10008; the first followup after a deferred reply replaces the "thinking…" message.
 *
 * Lifecycle: `await client.destroy()` before `await emu.close()`; a client whose gateway vanishes
 * keeps trying to reconnect.
 *
 * discord.js quirks seen against this emulator (14.28.1):
 * - DM reactions in a DM channel the client has not cached are dropped before
 *   `messageReactionAdd` (issue #11486): only `client.on("raw")` sees the packet.
 * - A replayed MESSAGE_CREATE for a message already in the cache does not emit `messageCreate`
 *   again (MessageCreateAction returns the cached message), INTERACTION_CREATE replays do emit.
 * - `ephemeral: true` in reply/defer options still works but warns; use `flags: MessageFlags.Ephemeral`.
 * - A fresh IDENTIFY within 5 s of the previous one (e.g. `reconnect({ resume: false })`) waits for
 *   discord.js's identify throttler (5 s per max_concurrency bucket). Tests that need it fast can
 *   build the Client with `ws: { buildIdentifyThrottler: async () => ({ waitForIdentify: async () => {} }) }`.
 * - `client.login()` resolves on READY; the `clientReady` event comes after the GUILD_CREATEs
 *   (register `once(client, Events.ClientReady)` before calling login).
 * - A wrong token fails at `GET /gateway/bot` (401 → `TokenInvalid`) before the gateway is used.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { APIApplicationCommand, APIEmbed, APIMessage, GatewayIdentifyData } from "discord.js";
import { DiscordGateway, type DispatchPayload, type GatewayFrame } from "./gateway.ts";
import {
  type ComponentOptions,
  component,
  type MessageCommandOptions,
  messageCommand,
  type SlashCommandOptions,
  slashCommand,
} from "./interactions.ts";
import { deleteMessage, editMessage, type SendMessageOptions, sendUserMessage } from "./messages.ts";
import { type ReactionOptions, react, unreact } from "./reactions.ts";
import { DiscordRest, type RecordedRequest, type RestFailure } from "./rest.ts";
import { afterReady, readyPayload, requestGuildMembers } from "./session.ts";
import {
  type ChannelSpec,
  DiscordState,
  type GuildSpec,
  type InteractionRecord,
  type MemberSpec,
  type UserSpec,
} from "./state.ts";

export { CallbackType, Intent, MessageFlag, Permission } from "./constants.ts";
export type { DispatchPayload, GatewayFrame } from "./gateway.ts";
export type { ComponentOptions, SlashCommandOptions } from "./interactions.ts";
export type { SendMessageOptions } from "./messages.ts";
export type { ReactionOptions } from "./reactions.ts";
export type { RecordedFile, RecordedRequest, RestFailure } from "./rest.ts";
export type { ChannelSpec, GuildSpec, InteractionRecord, MemberSpec, UserSpec } from "./state.ts";

export interface DiscordEmulatorOptions {
  /** Bot token the client must present (default "test-token"). */
  token?: string;
  /** Default "1000000000000000001". */
  applicationId?: string;
  /** Default: the application id (as for real bots). */
  botUserId?: string;
  botUsername?: string;
  applicationName?: string;
  /** READY's application.flags (default: GATEWAY_MESSAGE_CONTENT_LIMITED | GATEWAY_GUILD_MEMBERS_LIMITED). */
  applicationFlags?: number;
  heartbeatIntervalMs?: number;
  interactionTimeoutMs?: number;
  disallowedIntents?: number;
}

export interface InteractionResponse {
  kind: "callback" | "edit" | "followup" | "delete" | "fetch";
  /** Callback type (4, 5, 6, 7, 9) for `callback`; undefined otherwise. */
  type?: number;
  /** Edits/deletes/fetches: the message id in the path (`@original` or an id). */
  messageId?: string;
  /** The message data sent (callback `data`, or the edit / followup body). */
  data: Record<string, unknown>;
  ephemeral: boolean;
  status: number;
  request: RecordedRequest;
}

export interface GatewaySessionInfo {
  id: string;
  intents: number;
  connected: boolean;
  seq: number;
  resumes: number;
}

export class DiscordEmulator {
  readonly token: string;
  readonly applicationId: string;
  readonly botUserId: string;
  /** Escape hatch: the emulator's whole world. */
  readonly state: DiscordState;
  private readonly gateway: DiscordGateway;
  private readonly rest: DiscordRest;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;

  constructor(options: DiscordEmulatorOptions = {}) {
    this.token = options.token ?? "test-token";
    this.applicationId = options.applicationId ?? "1000000000000000001";
    this.botUserId = options.botUserId ?? this.applicationId;
    this.gateway = new DiscordGateway({
      token: this.token,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 41_250,
      disallowedIntents: options.disallowedIntents ?? 0,
      wsBase: () => `ws://127.0.0.1:${this.port}`,
      buildReady: (session, resumeUrl) => readyPayload(this.state, session, resumeUrl),
      afterReady: () => afterReady(this.state),
      requestGuildMembers: (d) => requestGuildMembers(this.state, d),
    });
    this.state = new DiscordState(
      {
        token: this.token,
        applicationId: this.applicationId,
        applicationName: options.applicationName ?? "Assistant",
        applicationFlags: options.applicationFlags ?? (1 << 19) | (1 << 15),
        botUserId: this.botUserId,
        botUsername: options.botUsername ?? "assistant",
        baseUrl: () => this.url,
      },
      (t, d, dispatchOptions) => this.gateway.dispatch(t, d, dispatchOptions),
    );
    this.rest = new DiscordRest(this.state, {
      token: this.token,
      interactionTimeoutMs: options.interactionTimeoutMs ?? 3000,
      gatewayUrl: () => this.gateway.url,
    });
    this.server = createServer((req, res) => {
      this.rest.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: `500: ${(error as Error).message}`, code: 0 }));
      });
    });
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    this.server.on("upgrade", (req, socket, head) => {
      if (!this.gateway.handleUpgrade(req, socket, head)) socket.destroy();
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:PORT` */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** What to pass as discord.js `rest.api`: `http://127.0.0.1:PORT/api`. */
  get apiUrl(): string {
    return `${this.url}/api`;
  }

  /** `ws://127.0.0.1:PORT/gateway` */
  get gatewayUrl(): string {
    return this.gateway.url;
  }

  // ------------------------------------------------------------------------------ world

  addUser(spec: UserSpec = {}) {
    return this.state.addUser(spec);
  }

  addGuild(spec: GuildSpec = {}) {
    return this.state.addGuild(spec);
  }

  addChannel(guildId: string, spec: ChannelSpec) {
    return this.state.addChannel(guildId, spec);
  }

  addMember(guildId: string, spec: MemberSpec) {
    return this.state.addMember(guildId, spec);
  }

  // ------------------------------------------------------------------------------ inbound events

  sendMessage(options: SendMessageOptions): APIMessage {
    return sendUserMessage(this.state, options);
  }

  /** A user edits their message: MESSAGE_UPDATE. */
  editMessage(options: { messageId: string; content?: string; embeds?: APIEmbed[] }): APIMessage {
    const stored = this.state.messages.get(options.messageId);
    if (!stored || stored.deleted) throw new Error(`discord emulator: unknown message ${options.messageId}`);
    editMessage(this.state, stored, { content: options.content, embeds: options.embeds });
    return this.state.snapshot(stored);
  }

  /** A user deletes a message: MESSAGE_DELETE. */
  deleteMessage(options: { messageId: string }): void {
    const stored = this.state.messages.get(options.messageId);
    if (!stored || stored.deleted) throw new Error(`discord emulator: unknown message ${options.messageId}`);
    deleteMessage(this.state, stored);
  }

  addReaction(options: ReactionOptions) {
    return react(this.state, options).payload;
  }

  removeReaction(options: ReactionOptions) {
    return unreact(this.state, options).payload;
  }

  /** Dispatches a chat-input command (type 2, data.type 1); returns the interaction id. */
  slashCommand(options: SlashCommandOptions): string {
    return slashCommand(this.state, options).id;
  }

  /** Dispatches a button click (type 3, component_type 2) on a stored message; returns the id. */
  clickButton(options: ComponentOptions): string {
    return component(this.state, { ...options, componentType: 2 }).id;
  }

  /** Runs a message context-menu command on a message; returns the interaction id. */
  messageCommand(options: MessageCommandOptions): string {
    return messageCommand(this.state, options).id;
  }

  /** Dispatches a string select (type 3, component_type 3); returns the interaction id. */
  selectMenu(options: ComponentOptions & { values: string[] }): string {
    return component(this.state, { ...options, componentType: 3 }).id;
  }

  interaction(id: string): InteractionRecord | undefined {
    return this.state.interactions.get(id);
  }

  // ------------------------------------------------------------------------------ gateway

  reconnect(options: { resume?: boolean; replayLast?: number; timeoutMs?: number } = {}): Promise<void> {
    return this.gateway.reconnect(options);
  }

  replayLastDispatch(filter?: (payload: DispatchPayload) => boolean): DispatchPayload[] {
    return this.gateway.replayLastDispatch(filter);
  }

  get gatewayFrames(): GatewayFrame[] {
    return this.gateway.frames;
  }

  get gatewayConnections(): Array<{ path: string; query: Record<string, string>; at: number }> {
    return this.gateway.connectionLog;
  }

  get sessions(): GatewaySessionInfo[] {
    return [...this.gateway.sessions.values()].map((s) => ({
      id: s.id,
      intents: s.intents,
      connected: s.connection !== null && !s.detached,
      seq: s.seq,
      resumes: s.resumes,
    }));
  }

  get identifies(): GatewayIdentifyData[] {
    return this.gateway.frames
      .filter((f) => f.direction === "in" && f.op === 2)
      .map((f) => f.d as GatewayIdentifyData);
  }

  // ------------------------------------------------------------------------------ records

  /** Every GET of an attachment's bytes, with its status. */
  get attachmentDownloads(): ReadonlyArray<{ path: string; status: number; at: number }> {
    return this.rest.attachmentDownloads;
  }

  get sent(): RecordedRequest[] {
    return this.rest.sent;
  }

  waitFor(predicate: (request: RecordedRequest) => boolean, timeoutMs = 5000): Promise<RecordedRequest> {
    return this.rest.waitFor(predicate, timeoutMs);
  }

  failNext(failure: RestFailure): void {
    this.rest.failNext(failure);
  }

  /** Current state of the messages in a channel, oldest first (by default only the bot's). */
  messagesIn(
    channelId: string,
    options: { includeUsers?: boolean; includeDeleted?: boolean } = {},
  ): APIMessage[] {
    return [...this.state.messages.values()]
      .filter(
        (m) =>
          m.message.channel_id === channelId &&
          (options.includeDeleted || !m.deleted) &&
          (options.includeUsers || m.message.author.id === this.botUserId),
      )
      .map((m) => this.state.snapshot(m));
  }

  /** The bot's answers to an interaction, in order: callback, @original edits, followups, deletes. */
  interactionResponses(interactionId: string): InteractionResponse[] {
    const record = this.state.interactions.get(interactionId);
    if (!record) return [];
    const webhookPrefix = `/webhooks/${this.applicationId}/${record.token}`;
    const out: InteractionResponse[] = [];
    for (const request of this.rest.sent) {
      const body = (request.body ?? {}) as Record<string, unknown>;
      if (request.path === `/interactions/${record.id}/${record.token}/callback`) {
        const data = (body.data ?? {}) as Record<string, unknown>;
        out.push({
          kind: "callback",
          type: Number(body.type),
          data,
          ephemeral: (Number(data.flags) & 64) !== 0,
          status: request.status,
          request,
        });
      } else if (request.path === webhookPrefix && request.method === "POST") {
        out.push({
          kind: "followup",
          data: body,
          ephemeral: (Number(body.flags) & 64) !== 0,
          status: request.status,
          request,
        });
      } else if (request.path.startsWith(`${webhookPrefix}/messages/`)) {
        const messageId = request.params.messageId;
        const kind = request.method === "PATCH" ? "edit" : request.method === "DELETE" ? "delete" : "fetch";
        const target =
          messageId === "@original"
            ? record.originalMessageId
            : messageId
              ? messageId
              : record.originalMessageId;
        const ephemeral = target ? (this.state.messages.get(target)?.ephemeral ?? false) : false;
        out.push({ kind, messageId, data: body, ephemeral, status: request.status, request });
      }
    }
    return out;
  }

  typingIn(channelId: string): RecordedRequest[] {
    return this.rest.sent.filter((r) => r.method === "POST" && r.path === `/channels/${channelId}/typing`);
  }

  /** The commands currently registered in a scope ("global" or a guild id); undefined if never set. */
  commandsRegistered(scope = "global"): APIApplicationCommand[] | undefined {
    return this.state.commands.get(scope);
  }

  unknownRequests(): RecordedRequest[] {
    return this.rest.sent.filter((r) => r.route === null);
  }

  /** Forgets recorded REST requests and gateway frames (the world stays). */
  clearRecords(): void {
    this.rest.sent.length = 0;
    this.gateway.frames.length = 0;
  }

  async close(): Promise<void> {
    await this.gateway.close();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export async function startDiscordEmulator(options: DiscordEmulatorOptions = {}): Promise<DiscordEmulator> {
  const emulator = new DiscordEmulator(options);
  await emulator.listen();
  return emulator;
}
