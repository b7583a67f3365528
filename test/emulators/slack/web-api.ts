// The Web API half of the emulator: `POST /api/<method>` (form-encoded or JSON, as @slack/web-api
// and Slack's docs send them), answered `200 {ok:true,...}` or `200 {ok:false,error}` like Slack.
//
// Auth: the token comes from `Authorization: Bearer <token>` or a `token` field. No token ->
// `not_authed`; an unknown token -> `invalid_auth`; the app token on a bot method (or the bot token
// on apps.connections.open) -> `not_allowed_token_type`. Unknown methods -> `unknown_method`.
// Every request is recorded (method, args, token, response), failures included.
//
// Rules picked where Slack leaves room (see message-rules.ts for text/blocks):
// * channel: C/G/D ids are accepted as-is; a user id (U/W) posts into the bot's DM with that user,
//   like Slack does; anything else is `channel_not_found`.
// * users.info / conversations.open accept any well-formed user id (U/W + [A-Z0-9]); users given
//   in the options (or addUser) carry names and admin flags, others get a plain generated profile.
// * chat.update / chat.delete only touch the bot's own non-ephemeral messages (`cant_update_message`,
//   `cant_delete_message`); a missing message is `message_not_found`. chat.update keeps the old
//   blocks when `blocks` is omitted and removes them on `blocks: []` (Slack's documented behaviour).
// * `emu.failNext(method, error)` makes the next call answer `{ok:false,error}`; the error
//   "ratelimited" answers HTTP 429 with `Retry-After: 1` instead.
// * File uploads, the flow @slack/web-api's `files.uploadV2` uses: files.getUploadURLExternal
//   (`filename` and a positive integer `length` required, else `invalid_arguments`) answers
//   `upload_url` (on the emulator: `<baseUrl>/upload/v1/<secret>`, no token needed, like Slack's
//   pre-signed URLs) and `file_id`; the bytes are POSTed there (index.ts); then
//   files.completeUploadExternal with `files: [{id, title?}]` (JSON) and optionally `channel_id`,
//   `thread_ts`, `initial_comment`, `blocks`. Missing or malformed `files` is `invalid_arguments`;
//   an unknown id, or one whose bytes never arrived, is `file_not_found`; a malformed channel_id is
//   `channel_not_found`; completing a file again overwrites where it was shared. The share message
//   Slack posts is not stored as a message: read `emu.files` / `emu.waitForFile`.
import { ASSISTANT_HANDLERS, messagePostedInThread } from "./assistant-api.ts";
import { checkMessage } from "./message-rules.ts";
import {
  compareTs,
  type RecordedCall,
  randomId,
  type SlackState,
  type SlackUserSeed,
  type StoredFile,
  type StoredMessage,
  type StoredReaction,
} from "./state.ts";

export interface ApiHttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

interface CallContext {
  state: SlackState;
  args: Record<string, unknown>;
  /** Socket Mode: issues a one-time `ws://` URL for apps.connections.open. */
  issueSocketUrl: () => string;
  /** "http://127.0.0.1:PORT": upload URLs are made from it. */
  baseUrl: string;
}

/** What handleApiCall needs from the server around it. */
export interface ApiEnvironment {
  issueSocketUrl: () => string;
  baseUrl: string;
}

type ApiBody = Record<string, unknown>;
type Handler = (ctx: CallContext) => ApiBody;

/** Form fields that @slack/web-api JSON-encodes (objects/arrays); parsed back so tests see structure. */
const JSON_FIELDS = new Set(["blocks", "attachments", "metadata", "view", "unfurls", "files", "chunks"]);

/** Parse a Web API request body (and query string) into arguments. */
export function parseApiArgs(
  contentType: string | undefined,
  rawBody: string,
  query: URLSearchParams,
): Record<string, unknown> | { parseError: string } {
  const args: Record<string, unknown> = {};
  for (const [k, v] of query) args[k] = v;
  const type = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (rawBody.length === 0) return args;
  if (type === "application/json") {
    try {
      const parsed: unknown = JSON.parse(rawBody);
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
        return { parseError: "invalid_json" };
      Object.assign(args, parsed);
      return args;
    } catch {
      return { parseError: "invalid_json" };
    }
  }
  if (type === "application/x-www-form-urlencoded" || type === "") {
    for (const [k, v] of new URLSearchParams(rawBody)) {
      if (JSON_FIELDS.has(k) && /^\s*[[{]/.test(v)) {
        try {
          args[k] = JSON.parse(v);
          continue;
        } catch {
          // keep the raw string; the block checks will reject it
        }
      }
      args[k] = v;
    }
    return args;
  }
  return { parseError: "invalid_form_data" };
}

export function tokenFrom(
  authorization: string | undefined,
  args: Record<string, unknown>,
): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? "");
  if (m?.[1]) return m[1].trim();
  return typeof args.token === "string" && args.token !== "" ? args.token : undefined;
}

/** Answer one Web API call and record it. */
export function handleApiCall(
  state: SlackState,
  method: string,
  args: Record<string, unknown>,
  token: string | undefined,
  contentType: string | undefined,
  env: ApiEnvironment,
): ApiHttpResponse {
  const { token: _ignored, ...cleanArgs } = args;
  const respond = (body: ApiBody, status = 200, headers: Record<string, string> = {}): ApiHttpResponse => {
    const call: RecordedCall = {
      method,
      args: cleanArgs,
      token,
      contentType,
      response: body,
      at: Date.now(),
    };
    state.record(call);
    return { status, headers, body };
  };

  const handler = HANDLERS[method];
  if (handler === undefined) return respond({ ok: false, error: "unknown_method" });

  const o = state.options;
  if (token === undefined) return respond({ ok: false, error: "not_authed" });
  const wantsApp = method === "apps.connections.open";
  const isBot = token === o.botToken;
  const isApp = token === o.appToken;
  if (!isBot && !isApp) return respond({ ok: false, error: "invalid_auth" });
  if (wantsApp !== isApp) return respond({ ok: false, error: "not_allowed_token_type" });

  const injected = state.takeFailure(method);
  if (injected === "ratelimited")
    return respond({ ok: false, error: "ratelimited" }, 429, { "retry-after": "1" });
  if (injected !== undefined) return respond({ ok: false, error: injected });

  return respond(handler({ state, args: cleanArgs, ...env }));
}

// ---------------------------------------------------------------------------------------------
// Helpers

const USER_ID = /^[UW][A-Z0-9]+$/;

function str(args: Record<string, unknown>, key: string): string | undefined {
  const v = args[key];
  if (typeof v === "string" && v !== "") return v;
  if (typeof v === "number") return String(v);
  return undefined;
}

function fail(error: string, extra: ApiBody = {}): ApiBody {
  return { ok: false, error, ...extra };
}

type ChannelResult = { ok: true; channel: string } | { ok: false; body: ApiBody };

function resolveChannel(state: SlackState, raw: string | undefined): ChannelResult {
  if (raw === undefined) return { ok: false, body: fail("channel_not_found") };
  if (USER_ID.test(raw)) return { ok: true, channel: state.dmChannelFor(raw) };
  if (/^[CGD][A-Z0-9]+$/.test(raw)) return { ok: true, channel: raw };
  return { ok: false, body: fail("channel_not_found") };
}

function userJson(state: SlackState, id: string): ApiBody {
  const seed: SlackUserSeed = state.getUser(id) ?? { id, name: id.toLowerCase() };
  const realName = seed.realName ?? seed.name;
  return {
    id,
    team_id: state.options.teamId,
    name: seed.name,
    deleted: false,
    real_name: realName,
    tz: seed.tz ?? "Europe/London",
    tz_label: "Greenwich Mean Time",
    tz_offset: seed.tzOffset ?? 0,
    is_admin: seed.isAdmin ?? false,
    is_owner: seed.isOwner ?? false,
    is_primary_owner: false,
    is_restricted: false,
    is_ultra_restricted: false,
    is_bot: seed.isBot ?? false,
    is_app_user: false,
    profile: { real_name: realName, display_name: seed.name, team: state.options.teamId },
  };
}

/** A message as Slack's Web API returns it. */
export function messageJson(state: SlackState, m: StoredMessage): ApiBody {
  const o = state.options;
  const out: ApiBody = { type: "message", ts: m.ts, text: m.text, user: m.user, team: o.teamId };
  if (m.bot_id !== undefined) {
    out.bot_id = m.bot_id;
    out.app_id = o.appId;
    out.bot_profile = { id: m.bot_id, app_id: o.appId, name: o.botName, team_id: o.teamId, deleted: false };
  }
  if (m.blocks !== undefined) out.blocks = m.blocks;
  if (m.thread_ts !== undefined) out.thread_ts = m.thread_ts;
  if (m.editedTs !== undefined) out.edited = { user: m.user, ts: m.editedTs };
  if (m.reactions.length > 0) out.reactions = m.reactions.map((r) => ({ ...r, users: [...r.users] }));
  if (m.thread_ts === undefined || m.thread_ts === m.ts) {
    const replies = state.allMessages().filter((r) => r.thread_ts === m.ts && r.ts !== m.ts && isVisible(r));
    if (replies.length > 0) {
      out.thread_ts = m.ts;
      out.reply_count = replies.length;
      out.latest_reply = replies[replies.length - 1]?.ts;
    }
  }
  return out;
}

function isVisible(m: StoredMessage): boolean {
  return !m.deleted && m.ephemeralTo === undefined;
}

const MESSAGE_KEYS = new Set([
  "channel",
  "text",
  "blocks",
  "thread_ts",
  "ts",
  "user",
  "token",
  "markdown_text",
  "chunks",
]);

function extraArgs(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).filter(([k]) => !MESSAGE_KEYS.has(k)));
}

function botMessage(
  state: SlackState,
  channel: string,
  args: Record<string, unknown>,
  text: string,
  source: StoredMessage["source"],
): StoredMessage {
  const m: StoredMessage = {
    channel,
    ts: state.clock.next(),
    text,
    user: state.options.botUserId,
    bot_id: state.options.botId,
    source,
    edits: [],
    deleted: false,
    reactions: [],
    extra: extraArgs(args),
  };
  if (Array.isArray(args.blocks)) m.blocks = args.blocks;
  const threadTs = str(args, "thread_ts");
  if (threadTs !== undefined) m.thread_ts = threadTs;
  return m;
}

function messageError(check: { error: string; messages?: string[] }): ApiBody {
  return check.messages
    ? fail(check.error, { response_metadata: { messages: check.messages } })
    : fail(check.error);
}

// ---------------------------------------------------------------------------------------------
// Methods

const HANDLERS: Record<string, Handler> = {
  // assistant.threads.* and views.publish: assistant-api.ts
  ...ASSISTANT_HANDLERS,
  "api.test": ({ args }) => ({ ok: true, args }),

  "auth.test": ({ state }) => {
    const o = state.options;
    return {
      ok: true,
      url: `https://${o.teamDomain}.slack.com/`,
      team: o.teamName,
      user: o.botName,
      team_id: o.teamId,
      user_id: o.botUserId,
      bot_id: o.botId,
      is_enterprise_install: false,
    };
  },

  "apps.connections.open": ({ issueSocketUrl }) => ({ ok: true, url: issueSocketUrl() }),

  "chat.postMessage": ({ state, args }) => {
    const ch = resolveChannel(state, str(args, "channel"));
    if (!ch.ok) return ch.body;
    const check = checkMessage(args, state.options.longText, true);
    if (!check.ok) return messageError(check);
    const m = botMessage(state, ch.channel, args, check.text, "chat.postMessage");
    state.putMessage(m);
    messagePostedInThread(state, m.channel, str(args, "thread_ts"));
    return { ok: true, channel: m.channel, ts: m.ts, message: messageJson(state, m) };
  },

  "chat.postEphemeral": ({ state, args }) => {
    const ch = resolveChannel(state, str(args, "channel"));
    if (!ch.ok) return ch.body;
    const user = str(args, "user");
    if (user === undefined) return fail("invalid_arguments");
    if (!USER_ID.test(user)) return fail("user_not_found");
    const check = checkMessage(args, state.options.longText, true);
    if (!check.ok) return messageError(check);
    const m = botMessage(state, ch.channel, args, check.text, "chat.postEphemeral");
    m.ephemeralTo = user;
    state.putMessage(m);
    return { ok: true, message_ts: m.ts };
  },

  "chat.update": ({ state, args }) => {
    const ch = resolveChannel(state, str(args, "channel"));
    if (!ch.ok) return ch.body;
    const ts = str(args, "ts");
    const m = ts === undefined ? undefined : state.getMessage(ch.channel, ts);
    if (m === undefined || m.deleted || m.ephemeralTo !== undefined) return fail("message_not_found");
    if (m.user !== state.options.botUserId) return fail("cant_update_message");
    const merged = { ...args, text: args.text ?? m.text, blocks: args.blocks ?? m.blocks };
    const check = checkMessage(merged, state.options.longText, true);
    if (!check.ok) return messageError(check);
    m.edits.push({ text: m.text, ...(m.blocks ? { blocks: m.blocks } : {}), at: Date.now() });
    m.text = check.text;
    m.editedTs = state.clock.next();
    if (Array.isArray(args.blocks)) {
      if (args.blocks.length === 0) delete m.blocks;
      else m.blocks = args.blocks;
    }
    Object.assign(m.extra, extraArgs(args));
    return { ok: true, channel: m.channel, ts: m.ts, text: m.text, message: messageJson(state, m) };
  },

  // Text streaming (docs.slack.dev/reference/methods/chat.startStream, chat.appendStream,
  // chat.stopStream): a bot message that grows by pieces of standard Markdown, given as
  // `markdown_text` or as `chunks` of type markdown_text, 12,000 characters at most per call.
  // Outside a DM Slack requires the recipient (recipient_team_id, recipient_user_id). After
  // chat.stopStream the message is a normal one (chat.update and chat.delete work on it); appending
  // to it, or stopping it again, is `message_not_in_streaming_state`.
  "chat.startStream": ({ state, args }) => {
    const ch = resolveChannel(state, str(args, "channel"));
    if (!ch.ok) return ch.body;
    if (!ch.channel.startsWith("D")) {
      if (str(args, "recipient_team_id") === undefined) return fail("missing_recipient_team_id");
      if (str(args, "recipient_user_id") === undefined) return fail("missing_recipient_user_id");
    }
    const piece = streamPiece(args);
    if (!piece.ok) return piece.body;
    const m = botMessage(state, ch.channel, args, piece.text, "chat.startStream");
    m.stream = { open: true, pieces: piece.text ? [piece.text] : [] };
    state.putMessage(m);
    return { ok: true, channel: m.channel, ts: m.ts };
  },

  "chat.appendStream": ({ state, args }) => {
    const found = openStream(state, args);
    if (!found.ok) return found.body;
    const piece = streamPiece(args);
    if (!piece.ok) return piece.body;
    if (!piece.text)
      return fail("invalid_arguments", {
        response_metadata: { messages: ["[ERROR] markdown_text or chunks is required"] },
      });
    found.m.stream.pieces.push(piece.text);
    found.m.text += piece.text;
    return { ok: true, channel: found.m.channel, ts: found.m.ts };
  },

  "chat.stopStream": ({ state, args }) => {
    const found = openStream(state, args);
    if (!found.ok) return found.body;
    const piece = streamPiece(args);
    if (!piece.ok) return piece.body;
    if (args.blocks !== undefined && !Array.isArray(args.blocks)) return fail("invalid_blocks");
    const { m } = found;
    if (piece.text) {
      m.stream.pieces.push(piece.text);
      m.text += piece.text;
    }
    // The blocks go under the streamed text.
    if (Array.isArray(args.blocks) && args.blocks.length > 0)
      m.blocks = [...(m.blocks ?? []), ...args.blocks];
    m.stream.open = false;
    return { ok: true, channel: m.channel, ts: m.ts, message: messageJson(state, m) };
  },

  "chat.delete": ({ state, args }) => {
    const ch = resolveChannel(state, str(args, "channel"));
    if (!ch.ok) return ch.body;
    const ts = str(args, "ts");
    const m = ts === undefined ? undefined : state.getMessage(ch.channel, ts);
    if (m === undefined || m.deleted || m.ephemeralTo !== undefined) return fail("message_not_found");
    if (m.user !== state.options.botUserId) return fail("cant_delete_message");
    m.deleted = true;
    return { ok: true, channel: m.channel, ts: m.ts };
  },

  "conversations.open": ({ state, args }) => {
    const channelArg = str(args, "channel");
    if (channelArg !== undefined) {
      const user = state.dmUser(channelArg);
      if (user === undefined) return fail("channel_not_found");
      return { ok: true, no_op: true, already_open: true, channel: { id: channelArg } };
    }
    const rawUsers = args.users;
    const users = (Array.isArray(rawUsers) ? rawUsers.map(String) : String(rawUsers ?? "").split(","))
      .map((u) => u.trim())
      .filter((u) => u !== "");
    if (users.length === 0) return fail("users_list_not_supplied");
    if (users.some((u) => !USER_ID.test(u))) return fail("user_not_found");
    if (users.length > 8) return fail("too_many_users");
    if (users.length > 1) {
      const id = `G${users.map((u) => u.slice(1, 4)).join("")}`.slice(0, 11);
      return { ok: true, channel: { id, is_mpim: true } };
    }
    const user = users[0]!;
    const alreadyOpen = state.hasDm(user);
    const id = state.dmChannelFor(user);
    const channel: ApiBody = { id };
    if (args.return_im === true || args.return_im === "true") Object.assign(channel, { is_im: true, user });
    return alreadyOpen ? { ok: true, no_op: true, already_open: true, channel } : { ok: true, channel };
  },

  "conversations.info": ({ state, args }) => {
    const id = str(args, "channel");
    if (id === undefined || !/^[CGD][A-Z0-9]+$/.test(id)) return fail("channel_not_found");
    const user = state.dmUser(id);
    const isIm = id.startsWith("D");
    const channel: ApiBody = {
      id,
      is_channel: id.startsWith("C"),
      is_group: false,
      is_im: isIm,
      is_mpim: id.startsWith("G"),
      is_private: !id.startsWith("C"),
      is_member: true,
      is_archived: false,
    };
    if (isIm && user !== undefined) channel.user = user;
    if (!isIm) channel.name = id.toLowerCase();
    return { ok: true, channel };
  },

  "conversations.history": ({ state, args }) => {
    const ch = resolveChannel(state, str(args, "channel"));
    if (!ch.ok) return ch.body;
    const limit = Number(str(args, "limit") ?? 100);
    const top = state
      .allMessages()
      .filter(
        (m) =>
          m.channel === ch.channel && isVisible(m) && (m.thread_ts === undefined || m.thread_ts === m.ts),
      )
      .reverse();
    return {
      ok: true,
      messages: top.slice(0, limit).map((m) => messageJson(state, m)),
      has_more: top.length > limit,
    };
  },

  "conversations.replies": ({ state, args }) => {
    const ch = resolveChannel(state, str(args, "channel"));
    if (!ch.ok) return ch.body;
    const ts = str(args, "ts");
    if (ts === undefined) return fail("thread_not_found");
    const thread = state
      .allMessages()
      .filter((m) => m.channel === ch.channel && isVisible(m) && (m.ts === ts || m.thread_ts === ts))
      .sort((a, b) => compareTs(a.ts, b.ts));
    if (thread.length === 0) return fail("thread_not_found");
    // Slack's paging: oldest first, `latest`/`oldest` bound the range (exclusive unless
    // `inclusive`), `limit` per page (default 1000), `response_metadata.next_cursor` for the rest.
    const inclusive = args.inclusive === true || args.inclusive === "true" || args.inclusive === "1";
    const latest = str(args, "latest");
    const oldest = str(args, "oldest");
    const inRange = thread.filter(
      (m) =>
        (latest === undefined || (inclusive ? compareTs(m.ts, latest) <= 0 : compareTs(m.ts, latest) < 0)) &&
        (oldest === undefined || (inclusive ? compareTs(m.ts, oldest) >= 0 : compareTs(m.ts, oldest) > 0)),
    );
    const cursor = str(args, "cursor");
    let start = 0;
    if (cursor !== undefined) {
      const m = /^next_ts:(\d+\.\d+)$/.exec(Buffer.from(cursor, "base64").toString("utf8"));
      if (!m?.[1]) return fail("invalid_cursor");
      const from = m[1];
      start = inRange.findIndex((x) => compareTs(x.ts, from) >= 0);
      if (start < 0) start = inRange.length;
    }
    const asked = Math.max(1, Number(str(args, "limit") ?? 1000) || 1000);
    const limit = Math.min(asked, state.options.repliesPageMax);
    const page = inRange.slice(start, start + limit);
    const next = inRange[start + limit];
    return {
      ok: true,
      messages: page.map((m) => messageJson(state, m)),
      has_more: next !== undefined,
      ...(next !== undefined
        ? { response_metadata: { next_cursor: Buffer.from(`next_ts:${next.ts}`).toString("base64") } }
        : {}),
    };
  },

  "users.info": ({ state, args }) => {
    const id = str(args, "user");
    if (id === undefined || !USER_ID.test(id)) return fail("user_not_found");
    return { ok: true, user: userJson(state, id) };
  },

  "files.getUploadURLExternal": ({ state, args, baseUrl }) => {
    const filename = str(args, "filename");
    const lengthArg = str(args, "length");
    const length = lengthArg === undefined ? Number.NaN : Number(lengthArg);
    if (filename === undefined || !Number.isInteger(length) || length <= 0)
      return fail("invalid_arguments", {
        response_metadata: { messages: ["[ERROR] filename and a positive integer length are required"] },
      });
    const id = randomId("F", 10);
    const file: StoredFile = {
      id,
      filename,
      length,
      uploadUrl: `${baseUrl}/upload/v1/${randomId("", 32).toLowerCase()}`,
      completed: false,
      createdAt: Date.now(),
    };
    const altText = str(args, "alt_text");
    if (altText !== undefined) file.altText = altText;
    const snippetType = str(args, "snippet_type");
    if (snippetType !== undefined) file.snippetType = snippetType;
    state.filesById.set(id, file);
    return { ok: true, upload_url: file.uploadUrl, file_id: id };
  },

  "files.completeUploadExternal": ({ state, args }) => {
    const entries = args.files;
    if (!Array.isArray(entries) || entries.length === 0)
      return fail("invalid_arguments", {
        response_metadata: { messages: ["[ERROR] files must be a JSON array of {id, title}"] },
      });
    const targets: { file: StoredFile; title: string | undefined }[] = [];
    for (const entry of entries) {
      const id = entry && typeof entry === "object" ? (entry as Record<string, unknown>).id : undefined;
      if (typeof id !== "string") return fail("invalid_arguments");
      const file = state.filesById.get(id);
      if (file?.content === undefined) return fail("file_not_found");
      const title = (entry as Record<string, unknown>).title;
      targets.push({ file, title: typeof title === "string" && title !== "" ? title : undefined });
    }
    const channelArg = str(args, "channel_id");
    let channel: string | undefined;
    if (channelArg !== undefined) {
      if (!/^[CGD][A-Z0-9]+$/.test(channelArg)) return fail("channel_not_found");
      channel = channelArg;
    }
    const threadTs = str(args, "thread_ts");
    const initialComment = str(args, "initial_comment");
    const now = Date.now();
    for (const { file, title } of targets) {
      file.completed = true;
      file.completedAt = now;
      file.title = title ?? file.filename;
      if (channel !== undefined) file.channel = channel;
      else delete file.channel;
      if (threadTs !== undefined) file.threadTs = threadTs;
      else delete file.threadTs;
      if (initialComment !== undefined) file.initialComment = initialComment;
      else delete file.initialComment;
      if (Array.isArray(args.blocks)) file.blocks = args.blocks;
      else delete file.blocks;
    }
    for (const { file } of targets) state.fileCompleted(file);
    return { ok: true, files: targets.map(({ file }) => fileJson(state, file)) };
  },

  "reactions.add": ({ state, args }) => reactionChange(state, args, "add"),
  "reactions.remove": ({ state, args }) => reactionChange(state, args, "remove"),

  "reactions.get": ({ state, args }) => {
    const ch = resolveChannel(state, str(args, "channel"));
    if (!ch.ok) return ch.body;
    const m = state.getMessage(ch.channel, str(args, "timestamp") ?? "");
    if (m === undefined || !isVisible(m)) return fail("message_not_found");
    return { ok: true, type: "message", channel: ch.channel, message: messageJson(state, m) };
  },
};

/** The Markdown one streaming call adds: `markdown_text`, then any markdown_text chunks. */
function streamPiece(
  args: Record<string, unknown>,
): { ok: true; text: string } | { ok: false; body: ApiBody } {
  let text = typeof args.markdown_text === "string" ? args.markdown_text : "";
  if (args.chunks !== undefined) {
    if (!Array.isArray(args.chunks)) return { ok: false, body: fail("invalid_chunks") };
    for (const chunk of args.chunks) {
      const c = chunk as Record<string, unknown> | null;
      if (!c || typeof c.type !== "string") return { ok: false, body: fail("invalid_chunks") };
      if (c.type === "markdown_text" && typeof c.text === "string") text += c.text;
    }
  }
  if (text.length > 12_000) return { ok: false, body: fail("msg_too_long") };
  return { ok: true, text };
}

/** The still-open streamed message `ts` in `channel`. */
function openStream(
  state: SlackState,
  args: Record<string, unknown>,
):
  | { ok: true; m: StoredMessage & { stream: { open: boolean; pieces: string[] } } }
  | { ok: false; body: ApiBody } {
  const ch = resolveChannel(state, str(args, "channel"));
  if (!ch.ok) return ch;
  const ts = str(args, "ts");
  const m = ts === undefined ? undefined : state.getMessage(ch.channel, ts);
  if (m === undefined || m.deleted) return { ok: false, body: fail("message_not_found") };
  if (m.stream === undefined || !m.stream.open)
    return { ok: false, body: fail("message_not_in_streaming_state") };
  return { ok: true, m: m as StoredMessage & { stream: { open: boolean; pieces: string[] } } };
}

/** A file as Slack's Web API returns it (the fields a bot reads). */
function fileJson(state: SlackState, f: StoredFile): ApiBody {
  const dot = f.filename.lastIndexOf(".");
  return {
    id: f.id,
    created: Math.floor(f.createdAt / 1000),
    name: f.filename,
    title: f.title ?? f.filename,
    filetype: dot > 0 ? f.filename.slice(dot + 1).toLowerCase() : "binary",
    size: f.content?.length ?? 0,
    user: state.options.botUserId,
    channels: f.channel?.startsWith("C") ? [f.channel] : [],
    groups: f.channel?.startsWith("G") ? [f.channel] : [],
    ims: f.channel?.startsWith("D") ? [f.channel] : [],
  };
}

function reactionChange(state: SlackState, args: Record<string, unknown>, op: "add" | "remove"): ApiBody {
  const ch = resolveChannel(state, str(args, "channel"));
  if (!ch.ok) return ch.body;
  const name = str(args, "name")?.replace(/^:|:$/g, "");
  if (name === undefined || name === "") return fail("invalid_name");
  const m = state.getMessage(ch.channel, str(args, "timestamp") ?? "");
  if (m === undefined || !isVisible(m)) return fail("message_not_found");
  const me = state.options.botUserId;
  const existing: StoredReaction | undefined = m.reactions.find((r) => r.name === name);
  if (op === "add") {
    if (existing?.users.includes(me)) return fail("already_reacted");
    if (existing) {
      existing.users.push(me);
      existing.count += 1;
    } else {
      m.reactions.push({ name, users: [me], count: 1 });
    }
    return { ok: true };
  }
  if (!existing?.users.includes(me)) return fail("no_reaction");
  existing.users = existing.users.filter((u) => u !== me);
  existing.count -= 1;
  if (existing.count === 0) m.reactions = m.reactions.filter((r) => r !== existing);
  return { ok: true };
}

export const SUPPORTED_METHODS: readonly string[] = Object.keys(HANDLERS);
