// The emulated workspace: its identity, users, conversations, messages, and everything recorded.
// Pure data plus small lookups; the HTTP, WebSocket and Web API layers read and write it.

import { randomBytes, randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";

export interface SlackUserSeed {
  id: string;
  name: string;
  realName?: string;
  isAdmin?: boolean;
  isOwner?: boolean;
  isBot?: boolean;
  tz?: string;
  tzOffset?: number;
}

export interface SlackEmulatorOptions {
  teamId?: string;
  teamDomain?: string;
  teamName?: string;
  appId?: string;
  botUserId?: string;
  botId?: string;
  botName?: string;
  /** Bot token (`xoxb-`): every Web API method but apps.connections.open. */
  botToken?: string;
  /** App-level token (`xapp-`): only apps.connections.open. */
  appToken?: string;
  signingSecret?: string;
  /** Users known to users.info besides the bot user. */
  users?: SlackUserSeed[];
  /**
   * Text over 40,000 characters: Slack truncates it (documented behaviour, the default "truncate");
   * "reject" answers `msg_too_long` instead, for tests that must prove the bot splits long text.
   */
  longText?: "truncate" | "reject";
  /** How long a Socket Mode delivery waits for the app's ack (Slack: 3 s, then retries). */
  ackTimeoutMs?: number;
  /**
   * Most messages one conversations.replies page holds, whatever `limit` asks (default 1000; Slack
   * cut it to 15 for apps distributed outside the Marketplace in 2025).
   */
  repliesPageMax?: number;
}

export type ResolvedOptions = Required<Omit<SlackEmulatorOptions, "users">> & { users: SlackUserSeed[] };

export function resolveOptions(o: SlackEmulatorOptions): ResolvedOptions {
  return {
    teamId: o.teamId ?? "T0EMULATOR",
    teamDomain: o.teamDomain ?? "emulator",
    teamName: o.teamName ?? "Emulator Workspace",
    appId: o.appId ?? "A0EMULATOR",
    botUserId: o.botUserId ?? "U0BOT",
    botId: o.botId ?? "B0BOT",
    botName: o.botName ?? "assistant",
    botToken: o.botToken ?? "xoxb-emulator",
    appToken: o.appToken ?? "xapp-emulator",
    signingSecret: o.signingSecret ?? "emulator-signing-secret",
    users: o.users ?? [],
    longText: o.longText ?? "truncate",
    ackTimeoutMs: o.ackTimeoutMs ?? 3000,
    repliesPageMax: o.repliesPageMax ?? 1000,
  };
}

/** One Web API request as the emulator saw it. */
export interface RecordedCall {
  /** Method name, e.g. "chat.postMessage". */
  method: string;
  /** Arguments from the form or JSON body (and query string); JSON-valued form fields are parsed. */
  args: Record<string, unknown>;
  /** Token from `Authorization: Bearer` or the `token` field; undefined when none was sent. */
  token: string | undefined;
  contentType: string | undefined;
  /** What the emulator answered (always recorded, including `{ok:false,error}`). */
  response: Record<string, unknown>;
  at: number;
}

export interface ResponseUrlPost {
  /** The id in the sink's URL. */
  id: string;
  /** What created the URL. */
  kind: "command" | "action";
  url: string;
  /** Parsed JSON body (or `{ raw }` when it was not JSON). */
  body: Record<string, unknown>;
  /** Channel/user (and message for actions) the URL belongs to. */
  channelId: string;
  userId: string;
  messageTs?: string;
  at: number;
}

export interface StoredReaction {
  name: string;
  users: string[];
  count: number;
}

/** A message in the emulated workspace: posted by the bot through the Web API, or by a user via an event. */
export interface StoredMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  text: string;
  blocks?: unknown[];
  /** Author: the bot user id for bot messages. */
  user: string;
  bot_id?: string;
  /** Which method created it ("chat.postMessage", "chat.postEphemeral", "chat.startStream") or "event" for user messages. */
  source: "chat.postMessage" | "chat.postEphemeral" | "chat.startStream" | "event";
  /**
   * A streamed message (chat.startStream): each piece of Markdown it was given, in order (`text` is
   * their concatenation), and whether it still takes more (until chat.stopStream).
   */
  stream?: { open: boolean; pieces: string[] };
  /** For ephemeral messages: the only user who sees it. */
  ephemeralTo?: string;
  /** Earlier versions, oldest first, when chat.update changed it. */
  edits: { text: string; blocks?: unknown[]; at: number }[];
  /** Slack's `edited.ts`: when chat.update last changed it. */
  editedTs?: string;
  deleted: boolean;
  reactions: StoredReaction[];
  /** Extra fields the caller sent (metadata, unfurl flags ...), kept verbatim. */
  extra: Record<string, unknown>;
}

/**
 * A file upload (files.getUploadURLExternal, then a POST of the bytes to its upload_url, then
 * files.completeUploadExternal), as far as it got.
 */
export interface StoredFile {
  /** Slack's file id ("F..."), from files.getUploadURLExternal. */
  id: string;
  /** As declared to files.getUploadURLExternal. */
  filename: string;
  /** Byte length declared to files.getUploadURLExternal. */
  length: number;
  altText?: string;
  snippetType?: string;
  /** The upload_url handed out (one per file). */
  uploadUrl: string;
  /** The bytes POSTed to the upload_url (the multipart file part, or the raw body); undefined until then. */
  content?: Buffer;
  /** Content-type of the upload POST ("multipart/form-data; boundary=..." from @slack/web-api). */
  uploadContentType?: string;
  /** The file name inside the multipart upload, when there was one. */
  uploadPartName?: string;
  /** Set by files.completeUploadExternal. */
  completed: boolean;
  title?: string;
  /** `channel_id` of files.completeUploadExternal: where it was shared (undefined: private to the app). */
  channel?: string;
  threadTs?: string;
  initialComment?: string;
  /** `blocks` of files.completeUploadExternal, when given. */
  blocks?: unknown[];
  createdAt: number;
  uploadedAt?: number;
  completedAt?: number;
}

export interface RecordedAck {
  envelopeId: string;
  payload: unknown;
  at: number;
}

/** Monotonic Slack-style timestamps: "<seconds>.<6-digit microseconds>", never repeating. */
export class TsClock {
  private lastMicros = 0;
  next(): string {
    const micros = Math.max(Date.now() * 1000, this.lastMicros + 1);
    this.lastMicros = micros;
    const sec = Math.floor(micros / 1_000_000);
    return `${sec}.${String(micros % 1_000_000).padStart(6, "0")}`;
  }
}

export function randomId(prefix: string, length = 10): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const bytes = randomBytes(length);
  let out = prefix;
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

export function triggerId(): string {
  return `${Date.now()}.${Math.floor(Math.random() * 1e12)}.${randomBytes(16).toString("hex")}`;
}

export function envelopeId(): string {
  return randomUUID();
}

export class SlackState {
  readonly calls: RecordedCall[] = [];
  readonly responseUrlPosts: ResponseUrlPost[] = [];
  readonly acks: RecordedAck[] = [];
  readonly clock = new TsClock();
  /**
   * Emits "call" (RecordedCall), "responseUrlPost" (ResponseUrlPost), "ack" (RecordedAck),
   * "file" (StoredFile, when files.completeUploadExternal completed it).
   */
  readonly events = new EventEmitter();
  private readonly users = new Map<string, SlackUserSeed>();
  private readonly dmByUser = new Map<string, string>();
  private readonly messagesByKey = new Map<string, StoredMessage>();
  private readonly failures = new Map<string, string[]>();
  /** File uploads in the order they were started, keyed by file id. */
  readonly filesById = new Map<string, StoredFile>();

  constructor(readonly options: ResolvedOptions) {
    this.events.setMaxListeners(0);
    this.addUser({ id: options.botUserId, name: options.botName, isBot: true });
    for (const u of options.users) this.addUser(u);
  }

  addUser(user: SlackUserSeed): void {
    this.users.set(user.id, user);
  }

  getUser(id: string): SlackUserSeed | undefined {
    return this.users.get(id);
  }

  hasDm(userId: string): boolean {
    return this.dmByUser.has(userId);
  }

  /** The bot's DM channel with a user, created on first use ("D" + a stable suffix). */
  dmChannelFor(userId: string): string {
    let id = this.dmByUser.get(userId);
    if (id === undefined) {
      id = `D${userId.replace(/^[UW]/, "")}${String(this.dmByUser.size + 1).padStart(2, "0")}`;
      this.dmByUser.set(userId, id);
    }
    return id;
  }

  /** The user a DM channel belongs to, when the channel is one the emulator opened. */
  dmUser(channelId: string): string | undefined {
    for (const [user, dm] of this.dmByUser) if (dm === channelId) return user;
    return undefined;
  }

  record(call: RecordedCall): void {
    this.calls.push(call);
    this.events.emit("call", call);
  }

  recordResponseUrlPost(post: ResponseUrlPost): void {
    this.responseUrlPosts.push(post);
    this.events.emit("responseUrlPost", post);
  }

  recordAck(ack: RecordedAck): void {
    this.acks.push(ack);
    this.events.emit("ack", ack);
  }

  putMessage(m: StoredMessage): void {
    this.messagesByKey.set(`${m.channel}/${m.ts}`, m);
  }

  getMessage(channel: string, ts: string): StoredMessage | undefined {
    return this.messagesByKey.get(`${channel}/${ts}`);
  }

  /** Every stored message (deleted ones included), in ts order. */
  allMessages(): StoredMessage[] {
    return [...this.messagesByKey.values()].sort((a, b) => compareTs(a.ts, b.ts));
  }

  /** Every file upload started, oldest first. */
  allFiles(): StoredFile[] {
    return [...this.filesById.values()];
  }

  /** The upload whose upload_url ends in this secret. */
  fileByUploadSecret(secret: string): StoredFile | undefined {
    for (const f of this.filesById.values()) if (f.uploadUrl.endsWith(`/${secret}`)) return f;
    return undefined;
  }

  /** Announces a file files.completeUploadExternal completed (waitForFile listens). */
  fileCompleted(f: StoredFile): void {
    this.events.emit("file", f);
  }

  /** Queue an error for the next call(s) of `method`; consumed first-in first-out. */
  failNext(method: string, error: string): void {
    const queue = this.failures.get(method) ?? [];
    queue.push(error);
    this.failures.set(method, queue);
  }

  takeFailure(method: string): string | undefined {
    return this.failures.get(method)?.shift();
  }

  /** Forget recorded calls, response_url posts, acks, messages and files (identity and users stay). */
  clear(): void {
    this.filesById.clear();
    this.calls.length = 0;
    this.responseUrlPosts.length = 0;
    this.acks.length = 0;
    this.messagesByKey.clear();
    this.failures.clear();
  }
}

export function compareTs(a: string, b: string): number {
  const [as = "0", af = "0"] = a.split(".");
  const [bs = "0", bf = "0"] = b.split(".");
  return Number(as) - Number(bs) || Number(af) - Number(bf);
}

/** Resolve with the first item (already present or arriving later) that matches, or reject on timeout. */
export function waitFor<T>(
  emitter: EventEmitter,
  eventName: string,
  existing: readonly T[],
  match: (item: T) => boolean,
  timeoutMs: number,
  describe: string,
): Promise<T> {
  const found = existing.find(match);
  if (found !== undefined) return Promise.resolve(found);
  return new Promise<T>((resolve, reject) => {
    const onItem = (item: T) => {
      if (!match(item)) return;
      clearTimeout(timer);
      emitter.off(eventName, onItem);
      resolve(item);
    };
    const timer = setTimeout(() => {
      emitter.off(eventName, onItem);
      reject(new Error(`Slack emulator: timed out after ${timeoutMs} ms waiting for ${describe}`));
    }, timeoutMs);
    emitter.on(eventName, onItem);
  });
}
