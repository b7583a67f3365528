/**
 * Slack emulator: a local stand-in for Slack that speaks Slack's real protocols, so the real
 * @slack/bolt App (and @slack/web-api / @slack/socket-mode under it) can be tested offline.
 *
 *   const emu = await startSlackEmulator({ teamId: "T1", botUserId: "UBOT", botId: "BBOT",
 *     botToken: "xoxb-test", appToken: "xapp-test", signingSecret: "s3cret" });
 *
 * Start it BEFORE `new App(...)`: Bolt calls auth.test from the constructor.
 *
 * HTTP mode (Bolt's default HTTPReceiver):
 *   const app = new App({ token, signingSecret, logLevel: LogLevel.ERROR,
 *     clientOptions: { slackApiUrl: emu.apiUrl, retryConfig: { retries: 0 } } });
 *   const server = await app.start(0);               // resolves with the node http.Server
 *   const port = (server.address() as AddressInfo).port;
 *   emu.setTarget({ kind: "http", url: `http://127.0.0.1:${port}/slack/events` });
 *
 * Socket Mode (Bolt's SocketModeReceiver; App copies clientOptions into it, so it finds the
 * emulator's apps.connections.open):
 *   const app = new App({ token, appToken, socketMode: true, logLevel: LogLevel.ERROR,
 *     clientOptions: { slackApiUrl: emu.apiUrl, retryConfig: { retries: 0 } } });
 *   await app.start();                               // resolves after the "hello"
 *   emu.setTarget({ kind: "socket" });
 *
 * Stop the app before the emulator (`await app.stop(); await emu.stop()`): a Socket Mode client
 * that loses its socket reconnects after 5 s and would then fail against a stopped emulator.
 *
 * Bolt facts worth knowing when testing against this (bolt 5.1, socket-mode 3.1):
 * - HTTP: Bolt acks Events API requests before running listeners, so `sendEvent` resolves before
 *   the listener is done; wait with `waitForCall`, or build the App with
 *   `processBeforeResponse: true` to get the HTTP answer only after the listeners finished.
 *   Socket Mode acks as soon as `ack()` runs, whatever `processBeforeResponse` says.
 * - `context.retryNum` is undefined on a first HTTP delivery but 0 over Socket Mode (Slack sends
 *   `retry_attempt: 0`); treat `(retryNum ?? 0) > 0` as "this is a retry".
 * - Bolt rejects signatures older than 5 minutes (401) but accepts future timestamps (the bot's
 *   receiver refuses those too: src/bots/slack/app.ts); a missing signature header is 401 too; a
 *   form body with `; charset=...` in its content-type is 400.
 * - The Socket Mode reconnect delay equals the client's `clientPingTimeout` (5 s), which App does
 *   not expose: for fast reconnect tests pass `receiver: new SocketModeReceiver({ appToken,
 *   clientPingTimeout: 1000, installerOptions: { clientOptions } })`.
 * - The WebSocket server is the `ws` package, present only as a transitive dependency.
 *
 * Surface:
 * - Assistant surface and App Home (assistant-api.ts, assistant-payloads.ts):
 *   assistant.threads.setStatus / setSuggestedPrompts / setTitle and views.publish are recorded like
 *   any call and their state kept (`assistantThread(channel, ts)`, `homeView(user)`);
 *   `assistantEvents.*` build assistant_thread_started / _context_changed and app_home_opened;
 *   `sendHomeAction` clicks a button of a published Home tab view.
 * - `apiUrl` ("http://127.0.0.1:PORT/api/"), `baseUrl`, `options` (resolved identity).
 * - Web API (see web-api.ts for rules): auth.test, apps.connections.open, chat.postMessage,
 *   chat.postEphemeral, chat.update, chat.delete, chat.startStream/appendStream/stopStream (a
 *   streamed message keeps its pieces in `stream`), conversations.open/info/history/replies,
 *   users.info, reactions.add/remove/get, files.getUploadURLExternal,
 *   files.completeUploadExternal, api.test. Everything else: `unknown_method`.
 *   Text and block limits: message-rules.ts.
 * - File uploads (what `client.files.uploadV2` does): files.getUploadURLExternal hands out an
 *   `upload_url` on this server (`/upload/v1/<secret>`); a POST there stores the bytes (the file
 *   part of a multipart/form-data body, as @slack/web-api sends it, or the raw body) and answers
 *   `200 OK - <bytes>`; files.completeUploadExternal shares it. `files` lists every upload started
 *   (`completed`, `channel`, `filename`, `title`, `initialComment`, `content` as a Buffer);
 *   `waitForFile(predicate)` waits for a completed one.
 * - Records: `calls` (every Web API call), `callsTo(method)`, `responseUrlPosts`, `acks` (Socket
 *   Mode acks), `messages(channel?)` (what the bot posted, current state, edits kept), `files`,
 *   `waitForCall`, `waitForResponseUrlPost`, `waitForAck`, `waitForFile`.
 * - Inbound to the app, over the transport chosen by `setTarget`: `sendEvent`, `sendSlashCommand`,
 *   `sendBlockAction`, `sendUrlVerification` (HTTP only), `sendRaw` (HTTP only, unsigned: for forged
 *   signatures and stale timestamps). `events.*` build common event bodies.
 *   HTTP requests carry `x-slack-signature` / `x-slack-request-timestamp`, content-type exactly
 *   `application/json` (events) or `application/x-www-form-urlencoded` (commands, `payload=` for
 *   interactions), and `x-slack-retry-num` / `x-slack-retry-reason` when given.
 * - Helpers: `sign(body, ts)`, `signedHeaders(body, ts?)`, `failNext(method, error)`,
 *   `addUser(user)`, `disconnectSocket(reason)`, `waitForSocketConnections(n)`, `clear()`, `stop()`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readBody } from "../http-recorder.ts";
import {
  type AssistantThreadRecord,
  assistantRecords,
  homeViewJson,
  type PublishedHomeView,
} from "./assistant-api.ts";
import { assistantEventBuilders, homeBlockActionsPayload } from "./assistant-payloads.ts";
import {
  type BlockActionInput,
  blockActionsPayload,
  type EventEnvelopeOptions,
  eventBuilders,
  eventCallback,
  type SlackEvent,
  type SlashCommandInput,
  slashCommandFields,
  urlVerification,
} from "./payloads.ts";
import { nowSeconds, signedHeaders, signSlackRequest } from "./signing.ts";
import { type EnvelopeType, SocketModeServer } from "./socket-mode.ts";
import {
  type RecordedAck,
  type RecordedCall,
  type ResolvedOptions,
  type ResponseUrlPost,
  randomId,
  resolveOptions,
  type SlackEmulatorOptions,
  SlackState,
  type SlackUserSeed,
  type StoredFile,
  type StoredMessage,
  triggerId,
  waitFor,
} from "./state.ts";
import { type FileDownload, type SharedFileSpec, UserFiles } from "./user-files.ts";
import { handleApiCall, messageJson, parseApiArgs, tokenFrom } from "./web-api.ts";

export type { AssistantThreadRecord, PublishedHomeView } from "./assistant-api.ts";
export type { AssistantThreadInput } from "./assistant-payloads.ts";
export type { BlockActionInput, EventEnvelopeOptions, SlackEvent, SlashCommandInput } from "./payloads.ts";
export { signedHeaders, signSlackRequest } from "./signing.ts";
export type {
  RecordedAck,
  RecordedCall,
  ResponseUrlPost,
  SlackEmulatorOptions,
  SlackUserSeed,
  StoredFile,
  StoredMessage,
} from "./state.ts";

export type DeliveryTarget = { kind: "http"; url: string } | { kind: "socket" };

/** What came back from the app for one inbound delivery. */
export interface DeliveryResult {
  transport: "http" | "socket";
  /** The app's HTTP status; 200 when a Socket Mode envelope was acked. */
  status: number;
  /** Raw HTTP response body; for Socket Mode, the ack payload as JSON text ("" when none). */
  body: string;
  /** `body` parsed as JSON when it is JSON (Socket Mode: the ack payload), else undefined. */
  json: unknown;
  /** Socket Mode only. */
  envelopeId?: string;
}

export interface SendEventOptions extends EventEnvelopeOptions {
  /** HTTP: `x-slack-retry-num`; Socket Mode: `retry_attempt` (default 0 there). */
  retryNum?: number;
  /** HTTP: `x-slack-retry-reason`; Socket Mode: `retry_reason` (default "" there). */
  retryReason?: string;
  /** Over HTTP: sign with this timestamp (Unix seconds) instead of now. */
  timestampSec?: number;
}

export interface SlackEmulator {
  readonly options: ResolvedOptions;
  /** "http://127.0.0.1:PORT" */
  readonly baseUrl: string;
  /** "http://127.0.0.1:PORT/api/": Bolt's `clientOptions.slackApiUrl`. */
  readonly apiUrl: string;
  readonly calls: readonly RecordedCall[];
  readonly responseUrlPosts: readonly ResponseUrlPost[];
  readonly acks: readonly RecordedAck[];
  /** Every file upload started (files.getUploadURLExternal), oldest first, as far as it got. */
  readonly files: readonly StoredFile[];
  /**
   * A file a person shares (user-files.ts): the file object to put in an event's `files`; its
   * url_private answers the bytes to the bot token only. `fileDownloads` records every GET of one.
   */
  shareFile(spec: SharedFileSpec): Record<string, unknown>;
  readonly fileDownloads: readonly FileDownload[];
  /** Open Socket Mode connections right now. */
  readonly socketConnections: number;
  /** Socket Mode connections accepted since start (reconnects included). */
  readonly socketConnectionsOpened: number;
  events: ReturnType<typeof eventBuilders>;
  /** assistant_thread_started / _context_changed and app_home_opened bodies (assistant-payloads.ts). */
  assistantEvents: ReturnType<typeof assistantEventBuilders>;
  /** An assistant thread's current status, title and suggested prompts, as the bot last set them. */
  assistantThread(channel: string, threadTs: string): AssistantThreadRecord | undefined;
  /** The Home tab view last published for a user, as Slack returns it (with its `id` and `hash`). */
  homeView(userId: string): PublishedHomeView | undefined;
  /** The same, as the JSON Slack puts in events and block_actions. */
  homeViewJson(view: PublishedHomeView): Record<string, unknown>;
  /**
   * A click on a button of a Home tab view: `view` (default: the one published now) is the rendering
   * clicked, so a double click is two calls with the same view. The button's value is the one the
   * view carries; a button the view does not have is an error.
   */
  sendHomeAction(
    a: { userId: string; actionId: string; view?: PublishedHomeView },
    opts?: { timestampSec?: number },
  ): Promise<DeliveryResult>;

  callsTo(method: string): RecordedCall[];
  waitForCall(
    method: string,
    predicate?: (c: RecordedCall) => boolean,
    timeoutMs?: number,
  ): Promise<RecordedCall>;
  waitForResponseUrlPost(
    predicate?: (p: ResponseUrlPost) => boolean,
    timeoutMs?: number,
  ): Promise<ResponseUrlPost>;
  waitForAck(envelopeId: string, timeoutMs?: number): Promise<RecordedAck>;
  /** The first file files.completeUploadExternal completed (already or later) that matches. */
  waitForFile(predicate?: (f: StoredFile) => boolean, timeoutMs?: number): Promise<StoredFile>;
  waitForSocketConnections(count: number, timeoutMs?: number): Promise<void>;
  /** Messages the bot posted (chat.postMessage / chat.postEphemeral), as chat.update/delete left them. */
  messages(channel?: string): StoredMessage[];

  setTarget(target: DeliveryTarget): void;
  sendEvent(event: SlackEvent, opts?: SendEventOptions): Promise<DeliveryResult>;
  sendSlashCommand(
    c: SlashCommandInput,
    opts?: { timestampSec?: number },
  ): Promise<DeliveryResult & { responseUrl: string; triggerId: string }>;
  sendBlockAction(
    a: BlockActionInput,
    opts?: { timestampSec?: number },
  ): Promise<DeliveryResult & { responseUrl: string }>;
  sendUrlVerification(challenge?: string): Promise<DeliveryResult>;
  /** POST exactly this body and these headers to the HTTP target (content-type defaults to application/json). */
  sendRaw(req: { body: string; headers?: Record<string, string> }): Promise<DeliveryResult>;

  sign(body: string, timestampSec: number): string;
  signedHeaders(body: string, timestampSec?: number): Record<string, string>;
  /** The next call of `method` answers `{ok:false,error}` ("ratelimited": HTTP 429, Retry-After 1). */
  failNext(method: string, error: string): void;
  addUser(user: SlackUserSeed): void;
  disconnectSocket(reason?: "refresh_requested" | "warning" | "link_disabled"): void;
  /** Forget calls, response_url posts, acks, messages, files, threads, home views and queued failures. */
  clear(): void;
  stop(): Promise<void>;
}

interface ResponseSink {
  kind: "command" | "action";
  url: string;
  channelId: string;
  userId: string;
  messageTs?: string;
}

export async function startSlackEmulator(options: SlackEmulatorOptions = {}): Promise<SlackEmulator> {
  const o = resolveOptions(options);
  const state = new SlackState(o);
  const sinks = new Map<string, ResponseSink>();
  let baseUrl = "";
  let target: DeliveryTarget | undefined;
  const socket = new SocketModeServer(state, () => baseUrl.replace(/^http/, "ws"));
  const userFiles = new UserFiles(() => baseUrl, o.teamId, o.botToken);

  const server = createServer((req, res) => {
    handleHttp(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(err));
    });
  });

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const bytes = await readBody(req);
    if (userFiles.handle(req, res, url.pathname)) return;
    const upload = /^\/upload\/v1\/([a-z0-9]+)$/.exec(url.pathname);
    if (upload?.[1] && req.method === "POST") {
      await receiveUpload(upload[1], req.headers["content-type"], bytes, res);
      return;
    }
    const raw = bytes.toString("utf8");
    const api = /^\/api\/([A-Za-z0-9._]+)$/.exec(url.pathname);
    if (api?.[1]) {
      const contentType = req.headers["content-type"];
      const parsed = parseApiArgs(contentType, raw, url.searchParams);
      const args = "parseError" in parsed ? {} : parsed;
      const token = tokenFrom(req.headers.authorization, args);
      const out =
        "parseError" in parsed
          ? { status: 200, headers: {}, body: { ok: false, error: String(parsed.parseError) } }
          : handleApiCall(state, api[1], args, token, contentType, {
              issueSocketUrl: () => socket.issueUrl(),
              baseUrl,
            });
      res.writeHead(out.status, { "content-type": "application/json; charset=utf-8", ...out.headers });
      res.end(JSON.stringify(out.body));
      return;
    }
    const sink = /^\/hooks\/(?:commands|actions)\/[^/]+\/([^/]+)\/[^/]+$/.exec(url.pathname);
    if (sink?.[1] && req.method === "POST") {
      const found = sinks.get(sink[1]);
      if (found === undefined) {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("no_service");
        return;
      }
      let body: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(raw);
        body = parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : { raw };
      } catch {
        body = { raw };
      }
      state.recordResponseUrlPost({
        id: sink[1],
        kind: found.kind,
        url: found.url,
        body,
        channelId: found.channelId,
        userId: found.userId,
        ...(found.messageTs !== undefined ? { messageTs: found.messageTs } : {}),
        at: Date.now(),
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true }));
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
  }

  /** The POST of a file's bytes to the upload_url files.getUploadURLExternal handed out. */
  async function receiveUpload(
    secret: string,
    contentType: string | undefined,
    body: Buffer,
    res: ServerResponse,
  ): Promise<void> {
    const file = state.fileByUploadSecret(secret);
    if (file === undefined) {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
      return;
    }
    let content = body;
    let partName: string | undefined;
    if ((contentType ?? "").toLowerCase().startsWith("multipart/form-data")) {
      // @slack/web-api sends one form field (named "body") holding the file.
      const form = await new Response(new Uint8Array(body), {
        headers: { "content-type": contentType ?? "" },
      }).formData();
      const part = [...form.values()].find((v) => typeof v !== "string");
      if (part === undefined || typeof part === "string") {
        res.writeHead(400, { "content-type": "text/plain" });
        res.end("no file in the form");
        return;
      }
      content = Buffer.from(await part.arrayBuffer());
      partName = part.name;
    }
    file.content = content;
    file.uploadedAt = Date.now();
    if (contentType !== undefined) file.uploadContentType = contentType;
    if (partName !== undefined) file.uploadPartName = partName;
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(`OK - ${content.length}`);
  }

  server.on("upgrade", (req, sock, head) => {
    if (!socket.handleUpgrade(req, sock, head)) sock.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function newSink(
    kind: ResponseSink["kind"],
    channelId: string,
    userId: string,
    messageTs?: string,
  ): string {
    const id = String(Date.now()) + String(sinks.size + 1).padStart(4, "0");
    const url = `${baseUrl}/hooks/${kind}s/${o.teamId}/${id}/${randomId("", 24).toLowerCase()}`;
    sinks.set(id, { kind, url, channelId, userId, ...(messageTs !== undefined ? { messageTs } : {}) });
    return url;
  }

  function requireTarget(): DeliveryTarget {
    if (target === undefined)
      throw new Error("Slack emulator: call setTarget({kind:'http',url}|{kind:'socket'}) first");
    return target;
  }

  function requireHttp(): string {
    const t = requireTarget();
    if (t.kind !== "http") throw new Error("Slack emulator: this delivery exists only over HTTP");
    return t.url;
  }

  async function postHttp(
    url: string,
    body: string,
    headers: Record<string, string>,
  ): Promise<DeliveryResult> {
    const res = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(15_000) });
    const text = await res.text();
    return { transport: "http", status: res.status, body: text, json: parseJson(text) };
  }

  async function postSigned(
    contentType: "application/json" | "application/x-www-form-urlencoded",
    body: string,
    extra: Record<string, string> = {},
    timestampSec: number = nowSeconds(),
  ): Promise<DeliveryResult> {
    return postHttp(requireHttp(), body, {
      "content-type": contentType,
      ...signedHeaders(o.signingSecret, body, timestampSec),
      ...extra,
    });
  }

  async function viaSocket(
    type: EnvelopeType,
    payload: unknown,
    opts: { acceptsResponsePayload?: boolean; retryAttempt?: number; retryReason?: string },
  ): Promise<DeliveryResult> {
    const ack = await socket.deliver(type, payload, opts);
    const body = ack.payload === undefined ? "" : JSON.stringify(ack.payload);
    return { transport: "socket", status: 200, body, json: ack.payload, envelopeId: ack.envelopeId };
  }

  /** User messages delivered as events become part of the workspace, for history/replies. */
  function storeUserMessage(event: SlackEvent): void {
    if (event.type !== "message" && event.type !== "app_mention") return;
    const { channel, ts, user, text, thread_ts: threadTs } = event as Record<string, unknown>;
    if (typeof channel !== "string" || typeof ts !== "string" || typeof user !== "string") return;
    if (state.getMessage(channel, ts) !== undefined) return;
    state.putMessage({
      channel,
      ts,
      text: typeof text === "string" ? text : "",
      user,
      source: "event",
      edits: [],
      deleted: false,
      reactions: [],
      extra: {},
      ...(typeof threadTs === "string" ? { thread_ts: threadTs } : {}),
    });
  }

  const emu: SlackEmulator = {
    options: o,
    baseUrl,
    apiUrl: `${baseUrl}/api/`,
    get calls() {
      return state.calls;
    },
    get responseUrlPosts() {
      return state.responseUrlPosts;
    },
    get acks() {
      return state.acks;
    },
    get files() {
      return state.allFiles();
    },
    shareFile: (spec) => userFiles.share(spec),
    get fileDownloads() {
      return userFiles.downloads;
    },
    get socketConnections() {
      return socket.openConnections;
    },
    get socketConnectionsOpened() {
      return socket.connectionsOpened;
    },
    events: eventBuilders(o, state.clock),
    assistantEvents: assistantEventBuilders(o, state.clock),
    assistantThread: (channel, threadTs) => assistantRecords(state).threads.get(`${channel}:${threadTs}`),
    homeView: (userId) => assistantRecords(state).homes.get(userId),
    homeViewJson: (view) => homeViewJson(state, view),

    async sendHomeAction(a, opts = {}) {
      const view = a.view ?? assistantRecords(state).homes.get(a.userId);
      if (view === undefined) throw new Error(`Slack emulator: no home view published for ${a.userId}`);
      const found = findButton(view.view.blocks, a.actionId);
      if (found === undefined) throw new Error(`Slack emulator: the home view has no button ${a.actionId}`);
      const payload = homeBlockActionsPayload(
        o,
        {
          userId: a.userId,
          actionId: a.actionId,
          ...(found.value !== undefined ? { value: found.value } : {}),
          ...(found.blockId !== undefined ? { blockId: found.blockId } : {}),
          ...(found.text !== undefined ? { text: found.text } : {}),
        },
        homeViewJson(state, view),
        state.clock.next(),
      );
      const t = requireTarget();
      return t.kind === "socket"
        ? viaSocket("interactive", payload, { acceptsResponsePayload: false })
        : postSigned(
            "application/x-www-form-urlencoded",
            new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
            {},
            opts.timestampSec,
          );
    },

    callsTo: (method) => state.calls.filter((c) => c.method === method),
    waitForCall: (method, predicate = () => true, timeoutMs = 3000) =>
      waitFor<RecordedCall>(
        state.events,
        "call",
        state.calls,
        (c) => c.method === method && predicate(c),
        timeoutMs,
        `a ${method} call`,
      ),
    waitForResponseUrlPost: (predicate = () => true, timeoutMs = 3000) =>
      waitFor<ResponseUrlPost>(
        state.events,
        "responseUrlPost",
        state.responseUrlPosts,
        predicate,
        timeoutMs,
        "a response_url post",
      ),
    waitForAck: (id, timeoutMs = 3000) =>
      waitFor<RecordedAck>(
        state.events,
        "ack",
        state.acks,
        (a) => a.envelopeId === id,
        timeoutMs,
        `ack of ${id}`,
      ),
    waitForFile: (predicate = () => true, timeoutMs = 3000) =>
      waitFor<StoredFile>(
        state.events,
        "file",
        state.allFiles().filter((f) => f.completed),
        predicate,
        timeoutMs,
        "a completed file upload",
      ),
    waitForSocketConnections: async (count, timeoutMs = 10_000) => {
      await waitFor<number>(
        state.events,
        "socketOpen",
        [socket.connectionsOpened],
        (n) => n >= count,
        timeoutMs,
        `${count} Socket Mode connection(s)`,
      );
    },
    messages: (channel) =>
      state
        .allMessages()
        .filter((m) => m.source !== "event" && (channel === undefined || m.channel === channel)),

    setTarget: (t) => {
      target = t;
    },

    async sendEvent(event, opts = {}) {
      storeUserMessage(event);
      const body = eventCallback(o, event, opts);
      const t = requireTarget();
      if (t.kind === "socket") {
        return viaSocket("events_api", body, {
          ...(opts.retryNum !== undefined ? { retryAttempt: opts.retryNum } : {}),
          ...(opts.retryReason !== undefined ? { retryReason: opts.retryReason } : {}),
        });
      }
      const extra: Record<string, string> = {};
      if (opts.retryNum !== undefined) extra["x-slack-retry-num"] = String(opts.retryNum);
      if (opts.retryReason !== undefined) extra["x-slack-retry-reason"] = opts.retryReason;
      return postSigned("application/json", JSON.stringify(body), extra, opts.timestampSec);
    },

    async sendSlashCommand(c, opts = {}) {
      const responseUrl = newSink("command", c.channelId, c.userId);
      const trigger = triggerId();
      const fields = slashCommandFields(o, c, responseUrl, trigger);
      const t = requireTarget();
      const result =
        t.kind === "socket"
          ? await viaSocket("slash_commands", fields, { acceptsResponsePayload: true })
          : await postSigned(
              "application/x-www-form-urlencoded",
              new URLSearchParams(fields).toString(),
              {},
              opts.timestampSec,
            );
      return { ...result, responseUrl, triggerId: trigger };
    },

    async sendBlockAction(a, opts = {}) {
      const responseUrl = newSink("action", a.channelId, a.userId, a.messageTs);
      const stored = state.getMessage(a.channelId, a.messageTs);
      const message = stored
        ? messageJson(state, stored)
        : { type: "message", ts: a.messageTs, text: "", user: o.botUserId, bot_id: o.botId };
      const payload = blockActionsPayload(o, a, message, responseUrl, state.clock.next());
      const t = requireTarget();
      const result =
        t.kind === "socket"
          ? await viaSocket("interactive", payload, { acceptsResponsePayload: false })
          : await postSigned(
              "application/x-www-form-urlencoded",
              new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
              {},
              opts.timestampSec,
            );
      return { ...result, responseUrl };
    },

    sendUrlVerification: (challenge = randomId("challenge-", 20)) =>
      postSigned("application/json", JSON.stringify(urlVerification(challenge))),

    sendRaw: ({ body, headers = {} }) => {
      const hasType = Object.keys(headers).some((k) => k.toLowerCase() === "content-type");
      return postHttp(
        requireHttp(),
        body,
        hasType ? headers : { "content-type": "application/json", ...headers },
      );
    },

    sign: (body, timestampSec) => signSlackRequest(o.signingSecret, body, timestampSec),
    signedHeaders: (body, timestampSec) => signedHeaders(o.signingSecret, body, timestampSec),
    failNext: (method, error) => state.failNext(method, error),
    addUser: (user) => state.addUser(user),
    disconnectSocket: (reason) => socket.disconnect(reason),
    clear: () => {
      state.clear();
      assistantRecords(state).threads.clear();
      assistantRecords(state).homes.clear();
    },

    async stop() {
      await socket.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return emu;
}

/** A button in a view's blocks, by action id: its value, block id and label. */
function findButton(
  blocks: unknown,
  actionId: string,
): { value?: string; blockId?: string; text?: string } | undefined {
  if (!Array.isArray(blocks)) return undefined;
  for (const b of blocks as Array<Record<string, unknown>>) {
    const elements = Array.isArray(b.elements) ? (b.elements as Array<Record<string, unknown>>) : [];
    const accessory =
      b.accessory && typeof b.accessory === "object" ? [b.accessory as Record<string, unknown>] : [];
    for (const e of [...elements, ...accessory]) {
      if (e.action_id !== actionId) continue;
      const text = (e.text as { text?: unknown } | undefined)?.text;
      return {
        ...(typeof e.value === "string" ? { value: e.value } : {}),
        ...(typeof b.block_id === "string" ? { blockId: b.block_id } : {}),
        ...(typeof text === "string" ? { text } : {}),
      };
    }
  }
  return undefined;
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
