// Socket Mode, server side. apps.connections.open hands out a one-time
// `ws://127.0.0.1:PORT/link/?ticket=...&app_id=...`; the app connects there, gets
// `{"type":"hello",...}`, then receives envelopes
// `{envelope_id, type: "events_api"|"slash_commands"|"interactive", payload, accepts_response_payload,
// retry_attempt, retry_reason}` and answers each with `{envelope_id, payload?}` (the ack).
// Like Slack, each envelope goes to one connection (the newest open one). A delivery resolves with
// the ack, or rejects after `ackTimeoutMs`. `disconnect(reason)` sends Slack's
// `{"type":"disconnect","reason":...}`, after which @slack/socket-mode reconnects through a fresh
// apps.connections.open. The `ws` package answers the client's pings, as Slack does.
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { envelopeId, type RecordedAck, type SlackState } from "./state.ts";

export type EnvelopeType = "events_api" | "slash_commands" | "interactive";

export interface EnvelopeOptions {
  acceptsResponsePayload?: boolean;
  retryAttempt?: number;
  retryReason?: string;
  timeoutMs?: number;
}

const DEBUG_HOST = "applink-emulator-1";

export class SocketModeServer {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly tickets = new Set<string>();
  private readonly open: WebSocket[] = [];
  private readonly pending = new Map<
    string,
    { resolve: (a: RecordedAck) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  /** Connections accepted since start (reconnects included). */
  connectionsOpened = 0;
  /** Every frame the app sent that was not valid JSON with an envelope_id. */
  readonly strayFrames: string[] = [];

  constructor(
    private readonly state: SlackState,
    private readonly wsBase: () => string,
  ) {}

  /** A fresh one-time connection URL, as apps.connections.open returns. */
  issueUrl(): string {
    const ticket = randomUUID();
    this.tickets.add(ticket);
    return `${this.wsBase()}/link/?ticket=${ticket}&app_id=${this.state.options.appId}`;
  }

  get openConnections(): number {
    return this.open.length;
  }

  /** Take over an HTTP upgrade for `/link/`; returns false for other paths. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== "/link/" && url.pathname !== "/link") return false;
    const ticket = url.searchParams.get("ticket") ?? "";
    if (!this.tickets.delete(ticket)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return true;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
    return true;
  }

  private onConnection(ws: WebSocket): void {
    this.open.push(ws);
    this.connectionsOpened += 1;
    ws.on("message", (data, isBinary) => {
      const text = isBinary ? "" : data.toString();
      let msg: { envelope_id?: unknown; payload?: unknown } | undefined;
      try {
        msg = JSON.parse(text) as typeof msg;
      } catch {
        msg = undefined;
      }
      if (!msg || typeof msg.envelope_id !== "string") {
        this.strayFrames.push(text);
        return;
      }
      const ack: RecordedAck = { envelopeId: msg.envelope_id, payload: msg.payload, at: Date.now() };
      this.state.recordAck(ack);
      const waiter = this.pending.get(ack.envelopeId);
      if (waiter) {
        clearTimeout(waiter.timer);
        this.pending.delete(ack.envelopeId);
        waiter.resolve(ack);
      }
    });
    ws.on("close", () => {
      const i = this.open.indexOf(ws);
      if (i >= 0) this.open.splice(i, 1);
      this.state.events.emit("socketClose", this.open.length);
    });
    ws.on("error", () => {
      // a reset from the client side; "close" follows
    });
    ws.send(
      JSON.stringify({
        type: "hello",
        num_connections: this.open.length,
        debug_info: { host: DEBUG_HOST, build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.state.options.appId },
      }),
    );
    this.state.events.emit("socketOpen", this.connectionsOpened);
  }

  /** Send one envelope to the newest connection; resolves with the app's ack. */
  deliver(
    type: EnvelopeType,
    payload: unknown,
    opts: EnvelopeOptions = {},
  ): Promise<RecordedAck & { envelopeId: string }> {
    const ws = this.open[this.open.length - 1];
    if (ws === undefined) {
      return Promise.reject(
        new Error("Slack emulator: no Socket Mode connection is open (did app.start() run?)"),
      );
    }
    const id = envelopeId();
    const envelope: Record<string, unknown> = {
      envelope_id: id,
      type,
      payload,
      accepts_response_payload: opts.acceptsResponsePayload ?? false,
    };
    if (type === "events_api") {
      envelope.retry_attempt = opts.retryAttempt ?? 0;
      envelope.retry_reason = opts.retryReason ?? "";
    }
    const timeoutMs = opts.timeoutMs ?? this.state.options.ackTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`Slack emulator: envelope ${id} (${type}) was not acked within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify(envelope));
    });
  }

  /** Ask every open connection to go away, like Slack before recycling a host. */
  disconnect(reason: "refresh_requested" | "warning" | "link_disabled" = "refresh_requested"): void {
    for (const ws of this.open) {
      ws.send(JSON.stringify({ type: "disconnect", reason, debug_info: { host: DEBUG_HOST } }));
    }
  }

  async close(): Promise<void> {
    for (const [id, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(`Slack emulator stopped before envelope ${id} was acked`));
    }
    this.pending.clear();
    for (const ws of [...this.open]) ws.terminate();
    this.open.length = 0;
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
