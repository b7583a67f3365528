/**
 * The gateway half of the Discord emulator: a WebSocket server (attached to the emulator's HTTP
 * server through `upgrade`) that speaks gateway v10 with JSON text frames and no compression
 * (what discord.js asks for when the optional zlib-sync package is missing).
 *
 * Protocol: HELLO (op 10) on connect; IDENTIFY (op 2) checks the token (close 4004 when wrong)
 * and the intents (close 4014 for intents the options disallow), then READY and whatever the
 * emulator adds right after it (GUILD_CREATE for every guild, else discord.js waits 15 s per
 * guild); HEARTBEAT (op 1) gets HEARTBEAT_ACK (op 11); RESUME (op 6) replays the dispatches after
 * the client's sequence number, then RESUMED; an unknown session gets INVALID_SESSION (op 9,
 * false). Each session keeps a log of its dispatches with their sequence numbers, so events
 * dispatched while the client is away (after a RECONNECT, op 7) reach it on RESUME exactly as
 * they would from Discord.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { GatewayIdentifyData, GatewayReadyDispatchData } from "discord.js";
import { type RawData, WebSocket, WebSocketServer } from "ws";
import { CloseCode, Op } from "./constants.ts";

export interface DispatchPayload {
  op: 0;
  t: string;
  s: number;
  d: unknown;
}

/** One frame the gateway received or sent, for tests and debugging. */
export interface GatewayFrame {
  direction: "in" | "out";
  sessionId: string | null;
  op: number;
  t: string | null;
  s: number | null;
  d: unknown;
  at: number;
}

export interface GatewaySession {
  id: string;
  intents: number;
  identify: GatewayIdentifyData;
  /** The last sequence number handed out. */
  seq: number;
  /** Every dispatch of the session (capped), for RESUME. */
  log: DispatchPayload[];
  connection: GatewayConnection | null;
  /** Set between a RECONNECT (op 7) and the client's RESUME: dispatches are only logged. */
  detached: boolean;
  /** Already-seen dispatches to deliver again on the next RESUME (a duplicate replay). */
  replayOnResume: number;
  resumes: number;
}

export interface GatewayConnection {
  socket: WebSocket;
  path: string;
  query: Record<string, string>;
  session: GatewaySession | null;
  openedAt: number;
}

/** What a dispatch is for: which intents let a session see it, and its shape per session. */
export interface DispatchOptions {
  /** The session receives the event when it identified with any of these intent bits (0 = always). */
  intents?: number;
  /** Per-session payload (e.g. without message content when the session lacks that intent). */
  shape?: (session: GatewaySession) => unknown;
  /** Only these sessions (default: all). */
  sessions?: (session: GatewaySession) => boolean;
}

export interface DiscordGatewayOptions {
  token: string;
  heartbeatIntervalMs: number;
  /** Intent bits whose IDENTIFY is refused with close code 4014. */
  disallowedIntents: number;
  /** `ws://127.0.0.1:PORT` (set once the server listens). */
  wsBase: () => string;
  buildReady: (session: GatewaySession, resumeGatewayUrl: string) => GatewayReadyDispatchData;
  /** Dispatches sent right after READY (GUILD_CREATE for each guild). */
  afterReady: (session: GatewaySession) => Array<{ t: string; d: unknown }>;
  /** Answers REQUEST_GUILD_MEMBERS (op 8) with GUILD_MEMBERS_CHUNK payloads. */
  requestGuildMembers: (d: Record<string, unknown>) => Array<{ t: string; d: unknown }>;
}

const GATEWAY_PATH = "/gateway";
const RESUME_PATH = "/gateway-resume";
const LOG_LIMIT = 1000;

export class DiscordGateway {
  readonly sessions = new Map<string, GatewaySession>();
  readonly frames: GatewayFrame[] = [];
  readonly connections = new Set<GatewayConnection>();
  /** Every connection the gateway accepted: path (`/gateway` or `/gateway-resume`) and query. */
  readonly connectionLog: Array<{ path: string; query: Record<string, string>; at: number }> = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly connectWaiters: Array<(kind: "ready" | "resumed", session: GatewaySession) => void> = [];

  constructor(private readonly options: DiscordGatewayOptions) {}

  get url(): string {
    return `${this.options.wsBase()}${GATEWAY_PATH}`;
  }

  get resumeUrl(): string {
    return `${this.options.wsBase()}${RESUME_PATH}`;
  }

  /** Takes over an HTTP upgrade when it is for the gateway; returns false otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.replace(/\/+$/, "");
    if (path !== GATEWAY_PATH && path !== RESUME_PATH) return false;
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const connection: GatewayConnection = {
        socket: ws,
        path,
        query: Object.fromEntries(url.searchParams),
        session: null,
        openedAt: Date.now(),
      };
      this.connections.add(connection);
      this.connectionLog.push({ path, query: connection.query, at: connection.openedAt });
      ws.on("message", (data, isBinary) => this.onMessage(connection, data, isBinary));
      ws.on("close", (code) => this.onClose(connection, code));
      ws.on("error", () => {});
      this.send(connection, { op: Op.Hello, d: { heartbeat_interval: this.options.heartbeatIntervalMs } });
    });
    return true;
  }

  /**
   * Sends a dispatch to every session allowed to see it. Sessions that are between a RECONNECT and
   * their RESUME only log it; it is delivered on RESUME. Returns the number of sessions reached.
   */
  dispatch(t: string, d: unknown, options: DispatchOptions = {}): number {
    let count = 0;
    for (const session of this.sessions.values()) {
      if (options.sessions && !options.sessions(session)) continue;
      if (options.intents && (session.intents & options.intents) === 0) continue;
      this.dispatchTo(session, t, options.shape ? options.shape(session) : d);
      count++;
    }
    return count;
  }

  /**
   * Asks every connected client to reconnect. With `resume` (default) it sends RECONNECT (op 7);
   * discord.js closes with 4200, reconnects to `resume_gateway_url` about 500 ms later and sends
   * RESUME; dispatches made in between are replayed then. `replayLast` re-delivers that many
   * dispatches the client had already seen (a duplicate delivery). Without `resume` it sends
   * INVALID_SESSION (op 9, false) and the client identifies afresh. Resolves once every affected
   * client has resumed (or received READY again).
   */
  reconnect(options: { resume?: boolean; replayLast?: number; timeoutMs?: number } = {}): Promise<void> {
    const resume = options.resume ?? true;
    const targets = [...this.sessions.values()].filter((s) => s.connection && !s.detached);
    const done = this.waitForConnects(targets.length, options.timeoutMs ?? 10_000);
    for (const session of targets) {
      const connection = session.connection!;
      if (resume) {
        session.detached = true;
        session.replayOnResume = options.replayLast ?? 0;
        this.send(connection, { op: Op.Reconnect, d: null });
      } else {
        this.sessions.delete(session.id);
        session.connection = null;
        connection.session = null;
        this.send(connection, { op: Op.InvalidSession, d: false });
      }
    }
    return done;
  }

  /**
   * Delivers each live session's last dispatch (optionally the last matching `filter`) again, with
   * its original sequence number, as a duplicate delivery would. Returns what was replayed.
   */
  replayLastDispatch(filter?: (payload: DispatchPayload) => boolean): DispatchPayload[] {
    const replayed: DispatchPayload[] = [];
    for (const session of this.sessions.values()) {
      if (!session.connection || session.detached) continue;
      const payload = [...session.log].reverse().find((p) => (filter ? filter(p) : true));
      if (!payload) continue;
      this.send(session.connection, payload, session.id);
      replayed.push(payload);
    }
    return replayed;
  }

  /** Resolves after `count` more clients identified (READY) or resumed. */
  waitForConnects(count: number, timeoutMs: number): Promise<void> {
    if (count <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let remaining = count;
      const timer = setTimeout(() => {
        const index = this.connectWaiters.indexOf(waiter);
        if (index >= 0) this.connectWaiters.splice(index, 1);
        reject(new Error(`gateway: ${remaining} client(s) did not reconnect within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = () => {
        remaining--;
        if (remaining > 0) return;
        clearTimeout(timer);
        const index = this.connectWaiters.indexOf(waiter);
        if (index >= 0) this.connectWaiters.splice(index, 1);
        resolve();
      };
      this.connectWaiters.push(waiter);
    });
  }

  /** Closes every connection and the server. */
  async close(): Promise<void> {
    for (const connection of this.connections) connection.socket.terminate();
    this.connections.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  // ------------------------------------------------------------------------------------------

  private onMessage(connection: GatewayConnection, data: RawData, isBinary: boolean): void {
    let payload: { op?: unknown; d?: unknown };
    try {
      if (isBinary) throw new Error("binary frame");
      payload = JSON.parse(rawToString(data)) as { op?: unknown; d?: unknown };
    } catch {
      this.closeWith(connection, CloseCode.DecodeError, "Error while decoding payload.");
      return;
    }
    const op = typeof payload.op === "number" ? payload.op : -1;
    this.frames.push({
      direction: "in",
      sessionId: connection.session?.id ?? null,
      op,
      t: null,
      s: null,
      d: payload.d,
      at: Date.now(),
    });
    switch (op) {
      case Op.Heartbeat:
        this.send(connection, { op: Op.HeartbeatAck });
        return;
      case Op.Identify:
        this.identify(connection, (payload.d ?? {}) as GatewayIdentifyData);
        return;
      case Op.Resume:
        this.resume(connection, (payload.d ?? {}) as { token?: string; session_id?: string; seq?: number });
        return;
      case Op.PresenceUpdate:
      case Op.VoiceStateUpdate:
        if (!connection.session) this.closeWith(connection, CloseCode.NotAuthenticated, "Not authenticated.");
        return;
      case Op.RequestGuildMembers: {
        const session = connection.session;
        if (!session) {
          this.closeWith(connection, CloseCode.NotAuthenticated, "Not authenticated.");
          return;
        }
        for (const { t, d } of this.options.requestGuildMembers(
          (payload.d ?? {}) as Record<string, unknown>,
        )) {
          this.dispatchTo(session, t, d);
        }
        return;
      }
      default:
        this.closeWith(connection, CloseCode.UnknownOpcode, "Unknown opcode.");
    }
  }

  private identify(connection: GatewayConnection, d: GatewayIdentifyData): void {
    if (connection.session) {
      this.closeWith(connection, CloseCode.AlreadyAuthenticated, "Already authenticated.");
      return;
    }
    if (d.token !== this.options.token) {
      this.closeWith(connection, CloseCode.AuthenticationFailed, "Authentication failed.");
      return;
    }
    const intents = typeof d.intents === "number" ? d.intents : 0;
    if (intents & this.options.disallowedIntents) {
      this.closeWith(connection, CloseCode.DisallowedIntents, "Disallowed intent(s).");
      return;
    }
    const session: GatewaySession = {
      id: randomBytes(16).toString("hex"),
      intents,
      identify: d,
      seq: 0,
      log: [],
      connection,
      detached: false,
      replayOnResume: 0,
      resumes: 0,
    };
    this.sessions.set(session.id, session);
    connection.session = session;
    this.dispatchTo(session, "READY", this.options.buildReady(session, this.resumeUrl));
    for (const { t, d: data } of this.options.afterReady(session)) this.dispatchTo(session, t, data);
    this.notifyConnect("ready", session);
  }

  private resume(
    connection: GatewayConnection,
    d: { token?: string; session_id?: string; seq?: number },
  ): void {
    const session = d.session_id ? this.sessions.get(d.session_id) : undefined;
    if (!session || d.token !== this.options.token) {
      this.send(connection, { op: Op.InvalidSession, d: false });
      return;
    }
    if (session.connection && session.connection !== connection) {
      const old = session.connection;
      old.session = null;
      old.socket.close(4000, "Session resumed elsewhere");
    }
    session.connection = connection;
    session.detached = false;
    session.resumes++;
    connection.session = session;
    const seq = typeof d.seq === "number" ? d.seq : 0;
    const seen = session.log.filter((p) => p.s <= seq);
    const duplicates = session.replayOnResume > 0 ? seen.slice(-session.replayOnResume) : [];
    session.replayOnResume = 0;
    const missed = session.log.filter((p) => p.s > seq);
    for (const payload of [...duplicates, ...missed]) this.send(connection, payload, session.id);
    this.dispatchTo(session, "RESUMED", null);
    this.notifyConnect("resumed", session);
  }

  private onClose(connection: GatewayConnection, code: number): void {
    this.connections.delete(connection);
    const session = connection.session;
    if (!session || session.connection !== connection) return;
    session.connection = null;
    // A normal close (1000/1001) ends the session; anything else keeps it resumable.
    if (code === 1000 || code === 1001) this.sessions.delete(session.id);
  }

  private dispatchTo(session: GatewaySession, t: string, d: unknown): void {
    session.seq++;
    const payload: DispatchPayload = { op: Op.Dispatch, t, s: session.seq, d };
    session.log.push(payload);
    if (session.log.length > LOG_LIMIT) session.log.splice(0, session.log.length - LOG_LIMIT);
    if (session.connection && !session.detached) this.send(session.connection, payload, session.id);
  }

  private send(
    connection: GatewayConnection,
    payload: { op: number; d?: unknown; t?: string; s?: number },
    sessionId?: string,
  ): void {
    if (connection.socket.readyState !== WebSocket.OPEN) return;
    this.frames.push({
      direction: "out",
      sessionId: sessionId ?? connection.session?.id ?? null,
      op: payload.op,
      t: payload.t ?? null,
      s: payload.s ?? null,
      d: payload.d ?? null,
      at: Date.now(),
    });
    connection.socket.send(JSON.stringify({ t: null, s: null, d: null, ...payload }));
  }

  private closeWith(connection: GatewayConnection, code: number, reason: string): void {
    this.frames.push({
      direction: "out",
      sessionId: connection.session?.id ?? null,
      op: -1,
      t: `CLOSE ${code}`,
      s: null,
      d: reason,
      at: Date.now(),
    });
    connection.socket.close(code, reason);
  }

  private notifyConnect(kind: "ready" | "resumed", session: GatewaySession): void {
    for (const waiter of [...this.connectWaiters]) waiter(kind, session);
  }
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}
