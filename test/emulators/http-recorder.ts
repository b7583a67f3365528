// Shared plumbing for the emulators: a node `http` server on 127.0.0.1 that records every request and
// injects faults (`failNext`, `hangNext`) in the provider's own error shape (the LLM providers and
// Cloud Storage run on it), a manual clock that drives long-running jobs, deterministic ids, and the
// HTTP pieces every emulator needs (reading a body, parsing multipart, writing a response; Discord
// and Slack use these with their own servers). Nothing here knows a route.
import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface RecordedRequest {
  method: string;
  /** Raw pathname as sent (still percent-encoded: GCS object names arrive as `a%2Fb`). */
  path: string;
  /** Query parameters (last value wins). */
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Parsed JSON when the request declared JSON, otherwise the raw bytes (undefined when empty). */
  body: unknown;
  rawBody: Buffer;
  /** Wall-clock milliseconds when the request arrived. */
  at: number;
  /** Set when an injected fault answered (or swallowed) this request instead of the emulator. */
  fault?: "fail" | "hang";
}

/** What a route returns; exactly one of json / body / sse is used. */
export interface EmuResponse {
  status?: number;
  headers?: Record<string, string>;
  json?: unknown;
  body?: Buffer | string;
  /** Server-sent events: each string is one `data:` payload. */
  sse?: string[];
  /** How the events go out (streaming tests): paced, and/or cut off like a dropped connection. */
  ssePacing?: SsePacing;
}

export interface SsePacing {
  /** Milliseconds between two events (default 0: all at once). */
  delayMs?: number;
  /** After this many events the connection is destroyed, with no end of stream. */
  cutAfter?: number;
}

/** Thrown by route code to answer early with an error (or any) response. */
export class EmuHttpError extends Error {
  constructor(readonly response: EmuResponse) {
    super(`emulated HTTP ${response.status ?? 500}`);
  }
}

export interface FailOptions {
  /** HTTP status to answer with (429, 500, 503, ...). Default 500. */
  status?: number;
  /** Seconds, sent as `retry-after`. */
  retryAfter?: number;
  /** Milliseconds, sent as `retry-after-ms` (the OpenAI SDK honours it; it makes retry tests fast). */
  retryAfterMs?: number;
  message?: string;
  /** Only requests whose path contains this string (or that the predicate accepts) are affected. */
  match?: string | ((req: RecordedRequest) => boolean);
}

export interface HangOptions {
  match?: string | ((req: RecordedRequest) => boolean);
}

export interface EmulatorServer {
  /** Base URL, e.g. `http://127.0.0.1:54321` (no trailing slash). */
  url: string;
  requests: RecordedRequest[];
  /** The next `n` matching requests get an error in the provider's shape. */
  failNext(n: number, options?: FailOptions): void;
  /** The next `n` matching requests are never answered (until `releaseHung()` or `close()`). */
  hangNext(n: number, options?: HangOptions): void;
  /** Drops the connections of hanging requests: their clients see a socket error. */
  releaseHung(): void;
  close(): Promise<void>;
}

export interface ServerSpec {
  handle(req: RecordedRequest): EmuResponse | Promise<EmuResponse>;
  /** The provider's error body for an injected or unexpected failure. */
  errorResponse(status: number, message?: string): EmuResponse;
}

interface Fault {
  kind: "fail" | "hang";
  remaining: number;
  options: FailOptions;
}

export async function startEmulatorServer(spec: ServerSpec): Promise<EmulatorServer> {
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const hung = new Set<ServerResponse>();
  const sockets = new Set<Socket>();

  const takeFault = (req: RecordedRequest): Fault | undefined => {
    const fault = faults.find((f) => f.remaining > 0 && matches(f.options.match, req));
    if (fault) fault.remaining -= 1;
    return fault;
  };

  const server = createServer((incoming, res) => {
    readBody(incoming).then(
      async (raw) => {
        const req = toRecorded(incoming, raw);
        requests.push(req);
        const fault = takeFault(req);
        if (fault?.kind === "hang") {
          req.fault = "hang";
          hung.add(res);
          res.on("close", () => hung.delete(res));
          return;
        }
        let response: EmuResponse;
        if (fault) {
          req.fault = "fail";
          response = spec.errorResponse(fault.options.status ?? 500, fault.options.message);
          response.headers = { ...response.headers, ...retryHeaders(fault.options) };
        } else {
          try {
            response = await spec.handle(req);
          } catch (error) {
            if (error instanceof EmuHttpError) response = error.response;
            else {
              // A bug in an emulator must fail the test loudly, not look like a provider outage.
              console.error("emulator route crashed:", error);
              response = spec.errorResponse(500, `emulator crashed: ${(error as Error).message}`);
            }
          }
        }
        sendResponse(res, response);
      },
      () => res.destroy(),
    );
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const releaseHung = () => {
    for (const res of hung) res.socket?.destroy();
    hung.clear();
  };

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext(n, options = {}) {
      faults.push({ kind: "fail", remaining: n, options });
    },
    hangNext(n, options = {}) {
      faults.push({ kind: "hang", remaining: n, options });
    },
    releaseHung,
    close() {
      releaseHung();
      // Keep-alive sockets of the SDKs' fetch would otherwise hold `server.close()` open.
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function matches(match: FailOptions["match"], req: RecordedRequest): boolean {
  if (match === undefined) return true;
  return typeof match === "string" ? req.path.includes(match) : match(req);
}

function retryHeaders(options: FailOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  if (options.retryAfter !== undefined) headers["retry-after"] = String(options.retryAfter);
  if (options.retryAfterMs !== undefined) headers["retry-after-ms"] = String(options.retryAfterMs);
  return headers;
}

/** The whole request body. */
export function readBody(incoming: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => resolve(Buffer.concat(chunks)));
    incoming.on("error", reject);
  });
}

function toRecorded(incoming: IncomingMessage, raw: Buffer): RecordedRequest {
  const url = new URL(incoming.url ?? "/", "http://emulator.invalid");
  const contentType = String(incoming.headers["content-type"] ?? "");
  let body: unknown = raw.length ? raw : undefined;
  if (raw.length && contentType.includes("json")) {
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      // Keep the bytes: the route answers "invalid JSON" the way its provider does.
    }
  }
  return {
    method: incoming.method ?? "GET",
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: incoming.headers,
    body,
    rawBody: raw,
    at: Date.now(),
  };
}

async function writePaced(res: ServerResponse, events: string[], delayMs: number, cutAfter?: number) {
  for (const [index, data] of events.entries()) {
    if (cutAfter !== undefined && index >= cutAfter) {
      // A dropped connection mid-answer: the client sees the stream end without its last events.
      // The events written so far reach it first (destroying at once would discard them unsent).
      await new Promise((resolve) => setTimeout(resolve, 50));
      res.socket?.destroy();
      return;
    }
    if (index > 0 && delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (res.destroyed) return;
    await new Promise<void>((resolve) => res.write(`data: ${data}\n\n`, () => resolve()));
  }
  res.end();
}

/** Writes a route's response: JSON (application/json unless `headers` name a type), bytes or SSE. */
export function sendResponse(res: ServerResponse, response: EmuResponse): void {
  const headers: Record<string, string> = { ...response.headers };
  res.statusCode = response.status ?? 200;
  if (response.sse) {
    res.writeHead(res.statusCode, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      ...headers,
    });
    const { delayMs = 0, cutAfter } = response.ssePacing ?? {};
    if (delayMs === 0 && cutAfter === undefined) {
      for (const data of response.sse) res.write(`data: ${data}\n\n`);
      res.end();
      return;
    }
    void writePaced(res, response.sse, delayMs, cutAfter);
    return;
  }
  let payload: Buffer | string = "";
  if (response.json !== undefined) {
    payload = JSON.stringify(response.json);
    headers["content-type"] ??= "application/json; charset=utf-8";
  } else if (response.body !== undefined) {
    payload = response.body;
  }
  res.writeHead(res.statusCode, { ...headers, "content-length": String(Buffer.byteLength(payload)) });
  res.end(payload);
}

// ---------------------------------------------------------------------------------------------
// Manual clock: long-running jobs (fine-tunes, tuning jobs) move only when a test says so, which
// keeps their transitions deterministic and lets a product's injected clock share the same time.

interface Timer {
  at: number;
  seq: number;
  run: () => void;
}

export class ManualClock {
  private current: number;
  private timers: Timer[] = [];
  private seq = 0;

  constructor(startMs = Math.floor(Date.now() / 1000) * 1000) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  /** Runs `run` once the clock reaches now + delayMs. */
  setTimeout(run: () => void, delayMs: number): void {
    this.timers.push({ at: this.current + Math.max(0, delayMs), seq: this.seq++, run });
  }

  /** Moves time forward, firing every timer that falls due, in order (timers may add timers). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (let timer = this.nextDue(target); timer; timer = this.nextDue(target)) {
      this.current = timer.at;
      timer.run();
    }
    this.current = target;
  }

  /** Jumps to the next pending timer and fires it (and any due at the same instant). False if none. */
  next(): boolean {
    const first = this.peek();
    if (!first) return false;
    this.advance(first.at - this.current);
    return true;
  }

  /** Fires timers until none are left (bounded, so a self-rescheduling timer cannot hang a test). */
  runAll(maxSteps = 1000): void {
    for (let i = 0; i < maxSteps && this.next(); i++) {}
  }

  get pending(): number {
    return this.timers.length;
  }

  private peek(): Timer | undefined {
    return this.timers.reduce<Timer | undefined>(
      (best, t) => (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq) ? t : best),
      undefined,
    );
  }

  private nextDue(target: number): Timer | undefined {
    const timer = this.peek();
    if (!timer || timer.at > target) return undefined;
    this.timers.splice(this.timers.indexOf(timer), 1);
    return timer;
  }
}

// ---------------------------------------------------------------------------------------------

/** Deterministic ids: the same emulator sequence yields the same ids on every run. */
export function idGenerator(seed: string): (prefix: string, length?: number) => string {
  let counter = 0;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return (prefix, length = 24) => {
    const digest = createHash("sha256").update(`${seed}:${counter++}`).digest();
    let id = "";
    for (let i = 0; i < length; i++) id += alphabet[digest[i % digest.length]! % alphabet.length];
    return `${prefix}${id}`;
  };
}

export interface MultipartPart {
  headers: Record<string, string>;
  /** `name` of a form-data part. */
  name?: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

/**
 * Parses multipart/form-data (OpenAI file uploads) and multipart/related (GCS multipart uploads),
 * keeping each part's bytes exact so tests can compare what the product uploaded.
 */
export function parseMultipart(body: Buffer, contentType: string): MultipartPart[] {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const token = boundary?.[1] ?? boundary?.[2];
  if (!token) throw new Error("multipart body without a boundary");
  const delimiter = Buffer.from(`--${token}`);
  const parts: MultipartPart[] = [];
  let pos = body.indexOf(delimiter);
  while (pos >= 0) {
    pos += delimiter.length;
    if (body.subarray(pos, pos + 2).toString() === "--") break;
    const headerEnd = body.indexOf("\r\n\r\n", pos);
    if (headerEnd < 0) break;
    const headers: Record<string, string> = {};
    for (const line of body.subarray(pos, headerEnd).toString("utf8").split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const next = body.indexOf(Buffer.from(`\r\n--${token}`), headerEnd + 4);
    if (next < 0) break;
    const disposition = headers["content-disposition"] ?? "";
    parts.push({
      headers,
      name: /\bname="([^"]*)"/i.exec(disposition)?.[1],
      filename: /\bfilename="([^"]*)"/i.exec(disposition)?.[1],
      contentType: headers["content-type"],
      data: body.subarray(headerEnd + 4, next),
    });
    pos = next + 2;
  }
  return parts;
}
