/**
 * The REST half of the Discord emulator: the v10 routes discord.js uses, answered from
 * DiscordState with `content-type: application/json` and Discord's error shapes, and every
 * request recorded (method, URL-decoded path, query, JSON body or the multipart `payload_json`,
 * uploaded files, status, response) for tests to assert on.
 *
 * Paths arrive as `/api/v10/...` (the client's `rest.api` is `<url>/api`); segments are
 * URL-decoded, so `%40original` is matched and recorded as `@original`. This file records,
 * injects faults and dispatches to the routes, which live by concern in routes/ (application and
 * commands, guilds, messages, reactions, interactions); router.ts matches them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseMultipart, readBody, sendResponse } from "../http-recorder.ts";
import { DiscordHttpError, Errors } from "./errors.ts";
import { decodePath, type RecordedFile, type Reply, type Route, Router } from "./router.ts";
import { applicationRoutes } from "./routes/application.ts";
import { guildRoutes } from "./routes/guilds.ts";
import { interactionRoutes } from "./routes/interactions.ts";
import { messageRoutes } from "./routes/messages.ts";
import { reactionRoutes } from "./routes/reactions.ts";
import type { DiscordState } from "./state.ts";

export type { RecordedFile } from "./router.ts";

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

export interface DiscordRestOptions {
  token: string;
  interactionTimeoutMs: number;
  gatewayUrl: () => string;
}

export class DiscordRest {
  readonly sent: RecordedRequest[] = [];
  /** Every GET of an attachment's bytes (`/attachments/...`, Discord's CDN), with its status. */
  readonly attachmentDownloads: Array<{ path: string; status: number; at: number }> = [];
  private readonly router = new Router();
  private readonly failures: RestFailure[] = [];
  private readonly waiters: Array<{
    predicate: (r: RecordedRequest) => boolean;
    resolve: (r: RecordedRequest) => void;
  }> = [];

  constructor(
    private readonly state: DiscordState,
    private readonly options: DiscordRestOptions,
  ) {
    const { add } = this.router;
    applicationRoutes(add, state, options.gatewayUrl);
    guildRoutes(add, state);
    messageRoutes(add, state);
    reactionRoutes(add, state);
    interactionRoutes(add, state, options);
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
      const path = decodeURIComponent(url.pathname);
      this.attachmentDownloads.push({ path, status: file ? 200 : 404, at: Date.now() });
      if (!file) return void sendJson(res, 404, { message: "404: Not Found", code: 0 });
      res.writeHead(200, { "content-type": file.contentType, "content-length": file.data.length });
      res.end(file.data);
      return;
    }

    const path = decodePath(url.pathname.replace(/^\/api(\/v\d+)?/, ""));
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]),
    );
    const { body, files } = parseBody(raw, headers["content-type"] ?? "");
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

    const match = this.router.match(method, path);
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
}

/** JSON, or multipart with `payload_json` and files (what discord.js sends with attachments). */
function parseBody(raw: Buffer, contentType: string): { body: unknown; files: RecordedFile[] } {
  if (raw.length === 0) return { body: null, files: [] };
  if (contentType.startsWith("multipart/form-data")) {
    const files: RecordedFile[] = [];
    let body: unknown = null;
    const fields: Record<string, string> = {};
    for (const part of parseMultipart(raw, contentType)) {
      const field = part.name ?? "";
      if (part.filename === undefined) {
        const value = part.data.toString("utf8");
        if (field === "payload_json") body = JSON.parse(value);
        else fields[field] = value;
      } else {
        files.push({
          field,
          filename: part.filename,
          contentType: part.contentType || "application/octet-stream",
          size: part.data.length,
          data: Buffer.from(part.data),
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

/** Discord answers with exactly `application/json` (no charset). */
function sendJson(res: ServerResponse, status: number, body: unknown): void {
  sendResponse(res, { status, json: body, headers: { "content-type": "application/json" } });
}
