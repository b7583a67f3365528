/**
 * The REST half of the Discord emulator: the v10 routes discord.js uses, answered from
 * DiscordState with `content-type: application/json` and Discord's error shapes, and every
 * request recorded (method, URL-decoded path, query, JSON body or the multipart `payload_json`,
 * uploaded files, status, response) for tests to assert on.
 *
 * Paths arrive as `/api/v10/...` (the client's `rest.api` is `<url>/api`); segments are
 * URL-decoded, so `%40original` is matched and recorded as `@original`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { APIAttachment, APIEmbed } from "discord.js";
import type { AllowedMentions } from "./messages.ts";
import {
  channelMessages,
  createMessage,
  dispatchMessage,
  dispatchMessageDelete,
  editMessage,
  messageInChannel,
} from "./messages.ts";
import {
  CallbackType,
  ChannelKind,
  commandPayload,
  compareSnowflakes,
  DiscordHttpError,
  Errors,
  emojiKey,
  formError,
  guildPayload,
  httpError,
  InteractionKind,
  MAX_MESSAGE_LENGTH,
  MessageFlag,
  MessageKind,
  Permission,
  parseEmoji,
  snowflake,
  userPayload,
} from "./payloads.ts";
import { react, unreact } from "./reactions.ts";
import { botApplication } from "./session.ts";
import type { DiscordState, InteractionRecord, StoredMessage } from "./state.ts";

export interface RecordedFile {
  /** The multipart field, e.g. `files[0]`. */
  field: string;
  filename: string;
  contentType: string;
  size: number;
  data: Buffer;
}

export interface RecordedRequest {
  /** Position in `emu.sent` (0-based). */
  index: number;
  method: string;
  /** URL-decoded path without the `/api/v10` prefix, e.g. `/webhooks/1/tok/messages/@original`. */
  path: string;
  /** The matched route pattern, e.g. `POST /channels/:channelId/messages`; null when unknown. */
  route: string | null;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** Parsed JSON body; for multipart requests the parsed `payload_json`; null when empty. */
  body: unknown;
  files: RecordedFile[];
  status: number;
  response: unknown;
  at: number;
}

/** A scripted failure for the next matching request(s) (see `emu.failNext`). */
export interface RestFailure {
  method?: string;
  /** Exact decoded path or a pattern tested against it. */
  path?: string | RegExp;
  status: number;
  /** Default: `{ message, code }` built from `code`/`message`. */
  body?: unknown;
  code?: number;
  message?: string;
  headers?: Record<string, string>;
  /** How many requests fail (default 1). */
  times?: number;
}

interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  files: RecordedFile[];
}

interface Reply {
  status: number;
  body?: unknown;
  /** Runs after the response is written (gateway dispatches the request causes). */
  after?: () => void;
}

interface Route {
  method: string;
  pattern: string;
  segments: string[];
  auth: boolean;
  handler: (ctx: RouteContext) => Reply | Promise<Reply>;
}

export interface DiscordRestOptions {
  token: string;
  interactionTimeoutMs: number;
  gatewayUrl: () => string;
}

type MessageBody = {
  content?: unknown;
  embeds?: unknown;
  components?: unknown;
  flags?: unknown;
  attachments?: unknown;
  allowed_mentions?: unknown;
  message_reference?: unknown;
  sticker_ids?: unknown;
  poll?: unknown;
  tts?: unknown;
  nonce?: unknown;
};

export class DiscordRest {
  readonly sent: RecordedRequest[] = [];
  private readonly routes: Route[] = [];
  private readonly failures: RestFailure[] = [];
  private readonly waiters: Array<{
    predicate: (r: RecordedRequest) => boolean;
    resolve: (r: RecordedRequest) => void;
  }> = [];

  constructor(
    private readonly state: DiscordState,
    private readonly options: DiscordRestOptions,
  ) {
    this.defineRoutes();
  }

  failNext(failure: RestFailure): void {
    this.failures.push({ ...failure, times: failure.times ?? 1 });
  }

  /** Resolves with the first recorded request (already recorded or future) the predicate accepts. */
  waitFor(predicate: (request: RecordedRequest) => boolean, timeoutMs = 5000): Promise<RecordedRequest> {
    const found = this.sent.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = {
        predicate,
        resolve: (r: RecordedRequest) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        const seen = this.sent.map((r) => `${r.method} ${r.path} → ${r.status}`).join("\n  ");
        reject(
          new Error(`discord emulator: no matching request within ${timeoutMs} ms; recorded:\n  ${seen}`),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = (req.method ?? "GET").toUpperCase();
    const raw = await readBody(req);

    if (method === "GET" && url.pathname.startsWith("/attachments/")) {
      const file = this.state.files.get(decodeURIComponent(url.pathname));
      if (!file) return void sendJson(res, 404, { message: "404: Not Found", code: 0 });
      res.writeHead(200, { "content-type": file.contentType, "content-length": file.data.length });
      res.end(file.data);
      return;
    }

    const path = decodePath(url.pathname.replace(/^\/api(\/v\d+)?/, ""));
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
    );
    const { body, files } = await parseBody(raw, headers["content-type"] ?? "");
    const record: RecordedRequest = {
      index: this.sent.length,
      method,
      path,
      route: null,
      params: {},
      query: Object.fromEntries(url.searchParams),
      headers,
      body,
      files,
      status: 0,
      response: null,
      at: Date.now(),
    };

    const match = this.match(method, path);
    if (match.route) {
      record.route = `${match.route.method} ${match.route.pattern}`;
      record.params = match.params;
    }
    let reply: Reply;
    const failure = this.takeFailure(method, path);
    if (failure) {
      reply = {
        status: failure.status,
        body: failure.body ?? {
          message: failure.message ?? `${failure.status}: Scripted failure`,
          code: failure.code ?? 0,
        },
      };
      if (failure.headers) for (const [k, v] of Object.entries(failure.headers)) res.setHeader(k, v);
    } else if (!match.route) {
      reply = match.pathMatched
        ? { status: 405, body: { message: "405: Method Not Allowed", code: 0 } }
        : { status: 404, body: { message: "404: Not Found", code: 0 } };
    } else {
      reply = await this.run(match.route, match.params, url.searchParams, record, headers.authorization);
    }

    record.status = reply.status;
    record.response = reply.body ?? null;
    this.sent.push(record);
    for (const waiter of [...this.waiters]) {
      if (waiter.predicate(record)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(record);
      }
    }
    if (reply.after) res.once("finish", () => setImmediate(reply.after!));
    if (reply.status === 204 || reply.body === undefined) {
      res.writeHead(reply.status);
      res.end();
    } else {
      sendJson(res, reply.status, reply.body);
    }
  }

  // ------------------------------------------------------------------------------ routing

  private match(
    method: string,
    path: string,
  ): { route: Route | null; params: Record<string, string>; pathMatched: boolean } {
    const segments = path.split("/").filter(Boolean);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments);
      if (!params) continue;
      pathMatched = true;
      if (route.method === method) return { route, params, pathMatched };
    }
    return { route: null, params: {}, pathMatched };
  }

  private async run(
    route: Route,
    params: Record<string, string>,
    query: URLSearchParams,
    record: RecordedRequest,
    authorization: string | undefined,
  ): Promise<Reply> {
    try {
      if (route.auth && authorization !== `Bot ${this.options.token}`) throw Errors.unauthorized();
      const body = (record.body ?? {}) as Record<string, unknown>;
      return await route.handler({ params, query, body, files: record.files });
    } catch (error) {
      if (error instanceof DiscordHttpError) return { status: error.status, body: error.body };
      return { status: 500, body: { message: `500: ${(error as Error).message}`, code: 0 } };
    }
  }

  private add(method: string, pattern: string, handler: Route["handler"], auth = true): void {
    this.routes.push({ method, pattern, segments: pattern.split("/").filter(Boolean), auth, handler });
  }

  private takeFailure(method: string, path: string): RestFailure | undefined {
    const index = this.failures.findIndex(
      (f) =>
        (!f.method || f.method.toUpperCase() === method) &&
        (!f.path || (typeof f.path === "string" ? f.path === path : f.path.test(path))),
    );
    if (index < 0) return undefined;
    const failure = this.failures[index]!;
    failure.times = (failure.times ?? 1) - 1;
    if (failure.times <= 0) this.failures.splice(index, 1);
    return failure;
  }

  private defineRoutes(): void {
    const s = this.state;
    const ok = (body: unknown): Reply => ({ status: 200, body });
    const noContent = (after?: () => void): Reply => ({ status: 204, after });

    // ---- gateway, users, applications
    this.add("GET", "/gateway", () => ok({ url: this.options.gatewayUrl() }), false);
    this.add("GET", "/gateway/bot", () =>
      ok({
        url: this.options.gatewayUrl(),
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
      }),
    );
    this.add("GET", "/users/@me", () => ok(s.userPayload(s.botUser.id)));
    this.add("GET", "/users/:userId", ({ params }) => {
      const user = s.users.get(params.userId!);
      if (!user) throw Errors.unknownUser();
      return ok(userPayload(user));
    });
    this.add("POST", "/users/@me/channels", ({ body }) => {
      const user = s.users.get(String(body.recipient_id));
      if (!user) throw Errors.unknownUser();
      return ok(s.channelPayload(s.dmChannelFor(user.id)));
    });
    this.add("GET", "/applications/@me", () => ok(botApplication(s)));
    this.add("GET", "/oauth2/applications/@me", () => ok(botApplication(s)));

    // ---- application commands (global and guild)
    const scopeOf = (params: Record<string, string>) => {
      if (params.applicationId !== s.config.applicationId) throw Errors.unknownApplication();
      if (params.guildId && !s.guilds.has(params.guildId)) throw Errors.unknownGuild();
      return params.guildId ?? "global";
    };
    for (const prefix of ["/applications/:applicationId", "/applications/:applicationId/guilds/:guildId"]) {
      this.add("GET", `${prefix}/commands`, ({ params }) => ok(s.commands.get(scopeOf(params)) ?? []));
      this.add("PUT", `${prefix}/commands`, ({ params, body }) => {
        const scope = scopeOf(params);
        const list = Array.isArray(body) ? (body as Record<string, unknown>[]) : [];
        validateCommands(list);
        const existing = s.commands.get(scope) ?? [];
        const commands = list.map((command) =>
          commandPayload(command, {
            id: existing.find((c) => c.name === command.name)?.id ?? snowflake(),
            applicationId: s.config.applicationId,
            ...(params.guildId ? { guildId: params.guildId } : {}),
          }),
        );
        s.commands.set(scope, commands);
        return ok(commands);
      });
      this.add("POST", `${prefix}/commands`, ({ params, body }) => {
        const scope = scopeOf(params);
        validateCommands([body]);
        const existing = s.commands.get(scope) ?? [];
        const previous = existing.find((c) => c.name === body.name);
        const command = commandPayload(body, {
          id: previous?.id ?? snowflake(),
          applicationId: s.config.applicationId,
          ...(params.guildId ? { guildId: params.guildId } : {}),
        });
        s.commands.set(scope, [...existing.filter((c) => c !== previous), command]);
        return { status: previous ? 200 : 201, body: command };
      });
      this.add("DELETE", `${prefix}/commands/:commandId`, ({ params }) => {
        const scope = scopeOf(params);
        const existing = s.commands.get(scope) ?? [];
        if (!existing.some((c) => c.id === params.commandId)) throw Errors.unknownCommand();
        s.commands.set(
          scope,
          existing.filter((c) => c.id !== params.commandId),
        );
        return noContent();
      });
    }

    // ---- guilds
    const guildOf = (id: string) => {
      const guild = s.guilds.get(id);
      if (!guild) throw Errors.unknownGuild();
      return guild;
    };
    this.add("GET", "/guilds/:guildId", ({ params, query }) => {
      const guild = guildOf(params.guildId!);
      return ok({
        ...guildPayload(guild),
        ...(query.get("with_counts") === "true"
          ? { approximate_member_count: guild.members.size, approximate_presence_count: 0 }
          : {}),
      });
    });
    this.add("GET", "/guilds/:guildId/channels", ({ params }) =>
      ok(s.guildChannels(guildOf(params.guildId!).id).map((c) => s.channelPayload(c))),
    );
    this.add("GET", "/guilds/:guildId/roles", ({ params }) =>
      ok(s.guildCreatePayload(guildOf(params.guildId!)).roles),
    );
    this.add("GET", "/guilds/:guildId/members", ({ params, query }) => {
      const guild = guildOf(params.guildId!);
      const limit = Math.min(Number(query.get("limit") ?? 1), 1000);
      const after = query.get("after") ?? "0";
      const members = [...guild.members.values()]
        .filter((m) => compareSnowflakes(m.userId, after) > 0)
        .sort((a, b) => compareSnowflakes(a.userId, b.userId))
        .slice(0, limit);
      const payload = s.guildCreatePayload(guild).members;
      return ok(members.map((m) => payload.find((p) => p.user.id === m.userId)));
    });
    this.add("GET", "/guilds/:guildId/members/:userId", ({ params }) => {
      const guild = guildOf(params.guildId!);
      const member = s.guildCreatePayload(guild).members.find((m) => m.user.id === params.userId);
      if (!member) throw Errors.unknownMember();
      return ok(member);
    });

    // ---- channels and messages
    const channelOf = (id: string) => {
      const channel = s.channels.get(id);
      if (!channel) throw Errors.unknownChannel();
      return channel;
    };
    const messageOf = (channelId: string, messageId: string) => {
      channelOf(channelId);
      const stored = messageInChannel(s, channelId, messageId);
      if (!stored) throw Errors.unknownMessage();
      return stored;
    };
    const requireBotCanSend = (channelId: string) => {
      const channel = channelOf(channelId);
      if (channel.type === ChannelKind.DM) {
        if (channel.recipientId && s.users.get(channel.recipientId)?.dmsClosed) throw Errors.cannotDmUser();
        return channel;
      }
      if (channel.type === ChannelKind.GuildCategory) {
        throw httpError(400, 50008, "Cannot send messages in a non-text channel");
      }
      const perms = s.permissionsOf(channel.guildId!, s.botUser.id);
      if (!(perms & Permission.ViewChannel)) throw httpError(403, 50001, "Missing Access");
      if (!(perms & Permission.SendMessages)) throw httpError(403, 50013, "Missing Permissions");
      return channel;
    };

    this.add("GET", "/channels/:channelId", ({ params }) =>
      ok(s.channelPayload(channelOf(params.channelId!))),
    );
    this.add("POST", "/channels/:channelId/typing", ({ params }) => {
      requireBotCanSend(params.channelId!);
      return noContent();
    });
    this.add("GET", "/channels/:channelId/messages", ({ params, query }) => {
      channelOf(params.channelId!);
      const limit = Math.max(1, Math.min(Number(query.get("limit") ?? 50), 100));
      let list = channelMessages(s, params.channelId!).filter((m) => !m.ephemeral);
      const before = query.get("before");
      const after = query.get("after");
      if (before) list = list.filter((m) => compareSnowflakes(m.message.id, before) < 0);
      if (after) list = list.filter((m) => compareSnowflakes(m.message.id, after) > 0);
      const page = after ? list.slice(0, limit) : list.slice(-limit);
      return ok(page.reverse().map((m) => s.snapshot(m)));
    });
    this.add("GET", "/channels/:channelId/messages/:messageId", ({ params }) =>
      ok(s.snapshot(messageOf(params.channelId!, params.messageId!))),
    );
    this.add("POST", "/channels/:channelId/messages", ({ params, body, files }) => {
      const channel = requireBotCanSend(params.channelId!);
      const message = body as MessageBody;
      validateMessage(message, { files, requireContent: true });
      let replyTo: StoredMessage | undefined;
      const reference = message.message_reference as
        | { message_id?: string; channel_id?: string; fail_if_not_exists?: boolean }
        | undefined;
      if (reference?.message_id) {
        replyTo = messageInChannel(s, reference.channel_id ?? channel.id, reference.message_id);
        if (!replyTo && reference.fail_if_not_exists !== false) {
          throw formError("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message");
        }
      }
      const stored = createMessage(s, {
        channel,
        authorId: s.botUser.id,
        content: typeof message.content === "string" ? message.content : "",
        embeds: normaliseEmbeds(message.embeds),
        components: Array.isArray(message.components) ? message.components : [],
        attachments: this.storeAttachments(channel.id, message.attachments, files),
        flags:
          (Number(message.flags) || 0) & (MessageFlag.SuppressEmbeds | MessageFlag.SuppressNotifications),
        tts: Boolean(message.tts),
        nonce:
          typeof message.nonce === "string" || typeof message.nonce === "number" ? message.nonce : undefined,
        replyTo,
        allowedMentions: message.allowed_mentions as AllowedMentions | undefined,
        dispatch: false,
      });
      return {
        status: 200,
        body: s.snapshot(stored),
        after: () => dispatchMessage(s, "MESSAGE_CREATE", stored),
      };
    });
    this.add("PATCH", "/channels/:channelId/messages/:messageId", ({ params, body, files }) => {
      const stored = messageOf(params.channelId!, params.messageId!);
      if (stored.message.author.id !== s.botUser.id) throw Errors.cannotEditOthers();
      const patch = body as MessageBody;
      validateMessage(patch, { files, requireContent: false });
      editMessage(s, stored, this.messagePatch(stored, patch, files), { dispatch: false });
      return {
        status: 200,
        body: s.snapshot(stored),
        after: () => dispatchMessage(s, "MESSAGE_UPDATE", stored),
      };
    });
    this.add("DELETE", "/channels/:channelId/messages/:messageId", ({ params }) => {
      const stored = messageOf(params.channelId!, params.messageId!);
      stored.deleted = true;
      return noContent(() => dispatchMessageDelete(s, stored));
    });

    // ---- reactions by the bot
    const reactionsBase = "/channels/:channelId/messages/:messageId/reactions";
    const botReact = (params: Record<string, string>, add: boolean, userId = s.botUser.id): Reply => {
      const stored = messageOf(params.channelId!, params.messageId!);
      const options = {
        messageId: stored.message.id,
        channelId: stored.message.channel_id,
        userId,
        emoji: params.emoji!,
      };
      const event = add ? react(s, options, { dispatch: false }) : unreact(s, options, { dispatch: false });
      return noContent(event.dispatch);
    };
    this.add("PUT", `${reactionsBase}/:emoji/@me`, ({ params }) => botReact(params, true));
    this.add("DELETE", `${reactionsBase}/:emoji/@me`, ({ params }) => botReact(params, false));
    this.add("DELETE", `${reactionsBase}/:emoji/:userId`, ({ params }) =>
      botReact(params, false, params.userId),
    );
    this.add("GET", `${reactionsBase}/:emoji`, ({ params, query }) => {
      const stored = messageOf(params.channelId!, params.messageId!);
      const state = stored.reactions.get(emojiKey(parseEmoji(params.emoji!)));
      const limit = Math.min(Number(query.get("limit") ?? 25), 100);
      const after = query.get("after") ?? "0";
      const ids = (state?.userIds ?? []).filter((id) => compareSnowflakes(id, after) > 0).slice(0, limit);
      return ok(ids.map((id) => s.userPayload(id)));
    });
    this.add("DELETE", reactionsBase, ({ params }) => {
      const stored = messageOf(params.channelId!, params.messageId!);
      stored.reactions.clear();
      return noContent();
    });

    // ---- interactions (no bot auth: the interaction token is the credential)
    this.add(
      "POST",
      "/interactions/:interactionId/:token/callback",
      ({ params, body, files, query }) => this.interactionCallback(params, body, files, query),
      false,
    );
    const webhookInteraction = (params: Record<string, string>): InteractionRecord => {
      const record = s.interactionsByToken.get(params.token!);
      if (!record || params.applicationId !== s.config.applicationId) throw Errors.unknownWebhook();
      return record;
    };
    const webhookMessage = (record: InteractionRecord, messageId: string): StoredMessage => {
      const id = messageId === "@original" ? record.originalMessageId : messageId;
      const stored = id ? s.messages.get(id) : undefined;
      if (!stored || stored.deleted) throw Errors.unknownMessage();
      if (stored.interactionId !== record.id && stored.message.id !== record.sourceMessageId) {
        throw Errors.unknownMessage();
      }
      return stored;
    };
    const webhookMessagePath = "/webhooks/:applicationId/:token/messages/:messageId";
    this.add(
      "GET",
      webhookMessagePath,
      ({ params }) => ok(s.snapshot(webhookMessage(webhookInteraction(params), params.messageId!))),
      false,
    );
    this.add(
      "PATCH",
      webhookMessagePath,
      ({ params, body, files }) => {
        const stored = webhookMessage(webhookInteraction(params), params.messageId!);
        const patch = body as MessageBody;
        validateMessage(patch, { files, requireContent: false });
        editMessage(s, stored, this.messagePatch(stored, patch, files), {
          clearLoading: true,
          dispatch: false,
        });
        return {
          status: 200,
          body: s.snapshot(stored),
          after: () => dispatchMessage(s, "MESSAGE_UPDATE", stored),
        };
      },
      false,
    );
    this.add(
      "DELETE",
      webhookMessagePath,
      ({ params }) => {
        const stored = webhookMessage(webhookInteraction(params), params.messageId!);
        stored.deleted = true;
        return noContent(() => dispatchMessageDelete(s, stored));
      },
      false,
    );
    this.add(
      "POST",
      "/webhooks/:applicationId/:token",
      ({ params, body, files, query }) => {
        const record = webhookInteraction(params);
        if (record.acknowledgedWith === null) throw Errors.unknownWebhook();
        const message = body as MessageBody;
        validateMessage(message, { files, requireContent: true });
        const original = record.originalMessageId ? s.messages.get(record.originalMessageId) : undefined;
        let stored: StoredMessage;
        let event: "MESSAGE_CREATE" | "MESSAGE_UPDATE";
        if (original && !original.deleted && ((original.message.flags ?? 0) & MessageFlag.Loading) !== 0) {
          // The first followup after a deferred reply replaces the "thinking…" message.
          editMessage(s, original, this.messagePatch(original, message, files), {
            clearLoading: true,
            dispatch: false,
          });
          stored = original;
          event = "MESSAGE_UPDATE";
        } else {
          const channel = channelOf(record.channelId);
          stored = createMessage(s, {
            channel,
            authorId: s.botUser.id,
            content: typeof message.content === "string" ? message.content : "",
            embeds: normaliseEmbeds(message.embeds),
            components: Array.isArray(message.components) ? message.components : [],
            attachments: this.storeAttachments(channel.id, message.attachments, files),
            flags: (Number(message.flags) || 0) & (MessageFlag.Ephemeral | MessageFlag.SuppressEmbeds),
            allowedMentions: message.allowed_mentions as AllowedMentions | undefined,
            webhookId: s.config.applicationId,
            interaction: record,
            type: MessageKind.Default,
            dispatch: false,
          });
          event = "MESSAGE_CREATE";
        }
        const after = () => dispatchMessage(s, event, stored);
        if (query.get("wait") !== "true") return { status: 204, after };
        return { status: 200, body: s.snapshot(stored), after };
      },
      false,
    );
  }

  // ------------------------------------------------------------------------- interactions

  private interactionCallback(
    params: Record<string, string>,
    body: Record<string, unknown>,
    files: RecordedFile[],
    query: URLSearchParams,
  ): Reply {
    const s = this.state;
    const record = s.interactions.get(params.interactionId!);
    if (!record || record.token !== params.token) throw Errors.unknownInteraction();
    if (record.acknowledgedWith !== null) throw Errors.alreadyAcknowledged();
    if (Date.now() - record.createdAt > this.options.interactionTimeoutMs) throw Errors.unknownInteraction();
    const type = Number(body.type);
    const data = (body.data ?? {}) as MessageBody;
    const flags = Number(data.flags) || 0;
    const isComponent = record.type === InteractionKind.MessageComponent;
    const channel = s.channels.get(record.channelId);
    if (!channel) throw Errors.unknownChannel();
    let after: (() => void) | undefined;
    let resource: Record<string, unknown> = { type };

    switch (type) {
      case CallbackType.ChannelMessageWithSource:
      case CallbackType.DeferredChannelMessageWithSource: {
        const deferred = type === CallbackType.DeferredChannelMessageWithSource;
        if (!deferred) validateMessage(data, { files, requireContent: true, field: "data" });
        const stored = createMessage(s, {
          channel,
          authorId: s.botUser.id,
          content: !deferred && typeof data.content === "string" ? data.content : "",
          embeds: deferred ? [] : normaliseEmbeds(data.embeds),
          components: !deferred && Array.isArray(data.components) ? data.components : [],
          attachments: deferred ? [] : this.storeAttachments(channel.id, data.attachments, files),
          flags:
            (flags & (MessageFlag.Ephemeral | MessageFlag.SuppressEmbeds)) |
            (deferred ? MessageFlag.Loading : 0),
          allowedMentions: data.allowed_mentions as AllowedMentions | undefined,
          webhookId: s.config.applicationId,
          interaction: record,
          type:
            record.type === InteractionKind.ApplicationCommand
              ? MessageKind.ChatInputCommand
              : MessageKind.Reply,
          dispatch: false,
        });
        record.originalMessageId = stored.message.id;
        record.ephemeral = stored.ephemeral;
        after = () => dispatchMessage(s, "MESSAGE_CREATE", stored);
        resource = { type, message: s.snapshot(stored) };
        break;
      }
      case CallbackType.DeferredMessageUpdate:
      case CallbackType.UpdateMessage: {
        if (!isComponent)
          throw formError("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type");
        const source = s.messages.get(record.sourceMessageId!);
        if (!source || source.deleted) throw Errors.unknownMessage();
        record.originalMessageId = source.message.id;
        record.ephemeral = source.ephemeral;
        if (type === CallbackType.UpdateMessage) {
          validateMessage(data, { files, requireContent: false, field: "data" });
          editMessage(s, source, this.messagePatch(source, data, files), { dispatch: false });
          after = () => dispatchMessage(s, "MESSAGE_UPDATE", source);
        }
        resource = { type, message: s.snapshot(source) };
        break;
      }
      case CallbackType.ApplicationCommandAutocompleteResult:
        throw formError("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type");
      case CallbackType.Modal:
        resource = { type };
        break;
      default:
        throw formError("type", "BASE_TYPE_CHOICES", `Value must be one of {4, 5, 6, 7, 9}.`);
    }
    record.acknowledgedWith = type;

    if (query.get("with_response") !== "true") return { status: 204, after };
    const original = record.originalMessageId ? s.messages.get(record.originalMessageId) : undefined;
    return {
      status: 200,
      after,
      body: {
        interaction: {
          id: record.id,
          type: record.type,
          ...(original
            ? {
                response_message_id: original.message.id,
                response_message_loading: ((original.message.flags ?? 0) & MessageFlag.Loading) !== 0,
                response_message_ephemeral: original.ephemeral,
              }
            : {}),
        },
        resource,
      },
    };
  }

  // ------------------------------------------------------------------------------ helpers

  /** Builds an edit from a PATCH body: attachments listed by id are kept, uploaded files added. */
  private messagePatch(stored: StoredMessage, body: MessageBody, files: RecordedFile[]) {
    const patch: {
      content?: string;
      embeds?: APIEmbed[];
      components?: unknown[];
      flags?: number;
      attachments?: APIAttachment[];
    } = {};
    if (typeof body.content === "string") patch.content = body.content;
    else if (body.content === null) patch.content = "";
    if (body.embeds !== undefined) patch.embeds = normaliseEmbeds(body.embeds);
    if (body.components !== undefined)
      patch.components = Array.isArray(body.components) ? body.components : [];
    if (body.flags !== undefined && body.flags !== null) patch.flags = Number(body.flags);
    if (body.attachments !== undefined || files.length > 0) {
      const listed = Array.isArray(body.attachments)
        ? (body.attachments as Array<{ id?: unknown }>)
        : undefined;
      const kept = listed
        ? stored.message.attachments.filter((a) => listed.some((l) => String(l.id) === a.id))
        : stored.message.attachments;
      patch.attachments = [
        ...kept,
        ...this.storeAttachments(stored.message.channel_id, body.attachments, files),
      ];
    }
    return patch;
  }

  /** Turns uploaded files into attachment objects (bytes served under /attachments/...). */
  private storeAttachments(channelId: string, described: unknown, files: RecordedFile[]): APIAttachment[] {
    const descriptions = Array.isArray(described)
      ? (described as Array<{ id?: unknown; filename?: string; description?: string }>)
      : [];
    return files.map((file, index) => {
      const fieldIndex = /\[(\d+)\]/.exec(file.field)?.[1] ?? String(index);
      const description = descriptions.find((d) => String(d.id) === fieldIndex);
      const filename = description?.filename ?? file.filename;
      const id = snowflake();
      const path = `/attachments/${channelId}/${id}/${filename}`;
      this.state.files.set(path, { data: file.data, contentType: file.contentType });
      const url = `${this.state.config.baseUrl()}${path}`;
      return {
        id,
        filename,
        size: file.size,
        url,
        proxy_url: url,
        content_type: file.contentType,
        ...(description?.description ? { description: description.description } : {}),
      };
    });
  }
}

// ------------------------------------------------------------------------------ validation

const COMMAND_NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

function validateCommands(list: Record<string, unknown>[]): void {
  if (list.length > 100)
    throw formError("_errors", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.");
  const seen = new Set<string>();
  list.forEach((command, index) => {
    const type = typeof command.type === "number" ? command.type : 1;
    const name = String(command.name ?? "");
    if (!COMMAND_NAME.test(name) || (type === 1 && name !== name.toLowerCase())) {
      throw formError(`${index}.name`, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid");
    }
    const key = `${type}:${name}`;
    if (seen.has(key)) {
      throw formError(
        `${index}.name`,
        "APPLICATION_COMMANDS_DUPLICATE_NAME",
        "Application command names must be unique",
      );
    }
    seen.add(key);
    if (type === 1) {
      const description = String(command.description ?? "");
      if (description.length < 1 || description.length > 100) {
        throw formError(
          `${index}.description`,
          "BASE_TYPE_BAD_LENGTH",
          "Must be between 1 and 100 in length.",
        );
      }
      validateCommandOptions(command.options, `${index}.options`);
    }
  });
}

function validateCommandOptions(options: unknown, field: string): void {
  if (options === undefined || options === null) return;
  if (!Array.isArray(options)) throw formError(field, "BASE_TYPE_ARRAY", "Must be an array.");
  if (options.length > 25) throw formError(field, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.");
  options.forEach((option: Record<string, unknown>, index) => {
    const name = String(option.name ?? "");
    if (!COMMAND_NAME.test(name) || name !== name.toLowerCase()) {
      throw formError(
        `${field}.${index}.name`,
        "APPLICATION_COMMAND_INVALID_NAME",
        "Command name is invalid",
      );
    }
    const description = String(option.description ?? "");
    if (description.length < 1 || description.length > 100) {
      throw formError(
        `${field}.${index}.description`,
        "BASE_TYPE_BAD_LENGTH",
        "Must be between 1 and 100 in length.",
      );
    }
    if (option.type === 1 || option.type === 2)
      validateCommandOptions(option.options, `${field}.${index}.options`);
  });
}

const EMBED_LIMITS: Array<[string, number]> = [
  ["title", 256],
  ["description", 4096],
];

/** Discord's message limits: content 2000, 10 embeds, embed field sizes, nothing-to-send. */
function validateMessage(
  body: MessageBody,
  options: { files: RecordedFile[]; requireContent: boolean; field?: string },
): void {
  const prefix = options.field ? `${options.field}.` : "";
  if (typeof body.content === "string" && body.content.length > MAX_MESSAGE_LENGTH) {
    throw formError(
      `${prefix}content`,
      "BASE_TYPE_MAX_LENGTH",
      `Must be ${MAX_MESSAGE_LENGTH} or fewer in length.`,
    );
  }
  const embeds = Array.isArray(body.embeds) ? (body.embeds as Array<Record<string, unknown>>) : [];
  if (embeds.length > 10)
    throw formError(`${prefix}embeds`, "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.");
  let total = 0;
  embeds.forEach((embed, index) => {
    for (const [key, max] of EMBED_LIMITS) {
      const value = embed[key];
      if (typeof value === "string") {
        total += value.length;
        if (value.length > max) {
          throw formError(
            `${prefix}embeds.${index}.${key}`,
            "BASE_TYPE_MAX_LENGTH",
            `Must be ${max} or fewer in length.`,
          );
        }
      }
    }
    const fields = Array.isArray(embed.fields)
      ? (embed.fields as Array<{ name?: string; value?: string }>)
      : [];
    if (fields.length > 25) {
      throw formError(
        `${prefix}embeds.${index}.fields`,
        "BASE_TYPE_MAX_LENGTH",
        "Must be 25 or fewer in length.",
      );
    }
    fields.forEach((f, i) => {
      total += (f.name ?? "").length + (f.value ?? "").length;
      if ((f.name ?? "").length > 256) {
        throw formError(
          `${prefix}embeds.${index}.fields.${i}.name`,
          "BASE_TYPE_MAX_LENGTH",
          "Must be 256 or fewer in length.",
        );
      }
      if ((f.value ?? "").length > 1024) {
        throw formError(
          `${prefix}embeds.${index}.fields.${i}.value`,
          "BASE_TYPE_MAX_LENGTH",
          "Must be 1024 or fewer in length.",
        );
      }
    });
  });
  if (total > 6000)
    throw formError(`${prefix}embeds`, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000");
  if (options.requireContent) {
    const hasContent = typeof body.content === "string" && body.content.length > 0;
    const hasComponents = Array.isArray(body.components) && body.components.length > 0;
    const hasStickers = Array.isArray(body.sticker_ids) && body.sticker_ids.length > 0;
    if (
      !hasContent &&
      embeds.length === 0 &&
      options.files.length === 0 &&
      !hasComponents &&
      !hasStickers &&
      !body.poll
    ) {
      throw Errors.emptyMessage();
    }
  }
}

function normaliseEmbeds(embeds: unknown): APIEmbed[] {
  if (!Array.isArray(embeds)) return [];
  return embeds.map((embed: APIEmbed) => ({ type: "rich", ...embed }) as APIEmbed);
}

// ------------------------------------------------------------------------------ HTTP utils

function matchSegments(pattern: string[], segments: string[]): Record<string, string> | null {
  if (pattern.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = segments[i]!;
    if (p.startsWith(":")) params[p.slice(1)] = s;
    else if (p !== s) return null;
  }
  return params;
}

function decodePath(path: string): string {
  return path
    .split("/")
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .join("/");
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

async function parseBody(
  raw: Buffer,
  contentType: string,
): Promise<{ body: unknown; files: RecordedFile[] }> {
  if (raw.length === 0) return { body: null, files: [] };
  if (contentType.startsWith("multipart/form-data")) {
    const form = await new Response(raw, { headers: { "content-type": contentType } }).formData();
    const files: RecordedFile[] = [];
    let body: unknown = null;
    const fields: Record<string, string> = {};
    for (const [field, value] of form.entries()) {
      if (typeof value === "string") {
        if (field === "payload_json") body = JSON.parse(value);
        else fields[field] = value;
      } else {
        const data = Buffer.from(await value.arrayBuffer());
        files.push({
          field,
          filename: value.name,
          contentType: value.type || "application/octet-stream",
          size: data.length,
          data,
        });
      }
    }
    if (body === null && Object.keys(fields).length > 0) body = fields;
    return { body, files };
  }
  const text = raw.toString("utf8");
  if (contentType.startsWith("application/json")) {
    try {
      return { body: JSON.parse(text), files: [] };
    } catch {
      return { body: text, files: [] };
    }
  }
  return { body: text, files: [] };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
