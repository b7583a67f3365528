// The dashboard's login: an operator names their id (one of OPERATORS, the list the slash commands
// check) and gives the configured token; that buys a server-side session, named by a random id in
// an HttpOnly, SameSite=Strict cookie. Every change (a POST) must also carry the session's CSRF
// token. Sessions live in this process's memory: a restart logs everyone out, which is the safe way
// round for a tool that is opened now and then.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { isOperator } from "../core/operators.ts";
import type { Clock } from "../core/ports.ts";

/** A session lasts this long from login, however busy; then the operator logs in again. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
/** And ends earlier when unused for this long. */
export const SESSION_IDLE_MS = 60 * 60 * 1000;
/** Failed logins allowed per client within the window; then 429 until the window has passed. */
export const LOGIN_FAILURES_ALLOWED = 5;
export const LOGIN_WINDOW_MS = 15 * 60 * 1000;

export const SESSION_COOKIE = "dashboard_session";

export interface Session {
  id: string;
  /** The operator's id as in OPERATORS (`discord:<id>` or `slack:<team>:<id>`): audit rows name it. */
  operator: string;
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
  /** One message for the next page (after a change: what it came to). */
  flash?: { ok: boolean; text: string };
}

/** Equal strings, compared in constant time (hashing first makes the lengths equal too). */
export function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(h(a), h(b));
}

export type LoginResult =
  | { ok: true; session: Session }
  | { ok: false; reason: "wrong" }
  | { ok: false; reason: "too_many"; retryAfterSeconds: number };

export function createAuth(deps: { token: string; operators: readonly string[]; clock: Clock }) {
  const sessions = new Map<string, Session>();
  const failures = new Map<string, number[]>();
  const now = () => deps.clock.now().getTime();

  function recentFailures(client: string): number[] {
    const since = now() - LOGIN_WINDOW_MS;
    const kept = (failures.get(client) ?? []).filter((t) => t > since);
    if (kept.length) failures.set(client, kept);
    else failures.delete(client);
    return kept;
  }

  function login(input: { operator: string; token: string; client: string }): LoginResult {
    const recent = recentFailures(input.client);
    if (recent.length >= LOGIN_FAILURES_ALLOWED) {
      const retryAfterSeconds = Math.ceil((recent[0]! + LOGIN_WINDOW_MS - now()) / 1000);
      return { ok: false, reason: "too_many", retryAfterSeconds };
    }
    // Both checks run every time, so a wrong id and a wrong token take the same path.
    const tokenOk = sameSecret(input.token, deps.token);
    const operatorOk = isOperator(deps.operators, input.operator);
    if (!tokenOk || !operatorOk) {
      failures.set(input.client, [...recent, now()]);
      return { ok: false, reason: "wrong" };
    }
    failures.delete(input.client);
    const t = now();
    // Sessions nobody came back to are dropped here, so the map holds only live ones.
    for (const [id, s] of sessions) if (expired(s, t)) sessions.delete(id);
    const session: Session = {
      id: randomBytes(32).toString("base64url"),
      operator: input.operator.trim(),
      csrf: randomBytes(32).toString("base64url"),
      createdAt: t,
      lastSeenAt: t,
    };
    sessions.set(session.id, session);
    return { ok: true, session };
  }

  const expired = (s: Session, t: number) =>
    t - s.createdAt >= SESSION_TTL_MS || t - s.lastSeenAt >= SESSION_IDLE_MS;

  /** The live session a cookie names, or undefined (unknown, logged out, expired, operator removed). */
  function session(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const s = sessions.get(id);
    if (!s) return undefined;
    const t = now();
    if (expired(s, t) || !isOperator(deps.operators, s.operator)) {
      sessions.delete(id);
      return undefined;
    }
    s.lastSeenAt = t;
    return s;
  }

  return {
    login,
    session,
    logout(id: string) {
      sessions.delete(id);
    },
    /** Whether a change carries the session's CSRF token. */
    csrfOk(s: Session, given: string | undefined): boolean {
      return given !== undefined && sameSecret(given, s.csrf);
    },
  };
}

export type Auth = ReturnType<typeof createAuth>;

/** The cookies of a request's Cookie header. */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    const name = part.slice(0, i).trim();
    if (name && !(name in out)) out[name] = part.slice(i + 1).trim();
  }
  return out;
}

/** The Set-Cookie value for a session (or, with `undefined`, one that clears it). */
export function sessionCookie(id: string | undefined, secure: boolean): string {
  const parts = [
    `${SESSION_COOKIE}=${id ?? ""}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Strict",
    id ? `Max-Age=${SESSION_TTL_MS / 1000}` : "Max-Age=0",
  ];
  if (secure) parts.push("Secure");
  return parts.join("; ");
}
