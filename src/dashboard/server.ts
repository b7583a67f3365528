// The operators' web dashboard: a small HTTP server (node:http), server-rendered pages, no script.
// It sits beside the composition root like src/observability/: it reads the database for its pages
// and makes every change through the core's own code paths, so a limit set here is checked, stored
// and audited exactly as `/assistant limits set` does it (core/operators.ts), and a retry is the
// deletions job's and `npm run admin -- deletions --retry`'s (core/data-rights/deletions.ts).
//
// Safety: it listens on 127.0.0.1 unless told otherwise; the login is an operator id from OPERATORS
// plus DASHBOARD_TOKEN (compared in constant time, failures limited per client); the session cookie
// is HttpOnly and SameSite=Strict (Secure behind a trusted TLS proxy); every POST carries the
// session's CSRF token; the Content-Security-Policy allows no script at all.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Config } from "../config.ts";
import type { Budgets } from "../core/budgets.ts";
import type { Core } from "../core/create-core.ts";
import type { DataRights } from "../core/data-rights/rights.ts";
import { LIMITS_USAGE } from "../core/messages.ts";
import { createLimitsCommands, LIMIT_COMMAND_KEYS } from "../core/operators.ts";
import type { Clock, Logger } from "../core/ports.ts";
import type { Database } from "../database/open-database.ts";
import { type Auth, createAuth, parseCookies, SESSION_COOKIE, type Session, sessionCookie } from "./auth.ts";
import { esc, page, STYLESHEET } from "./html.ts";
import {
  deletionsPage,
  limitsPage,
  limitValue,
  loginPage,
  overviewPage,
  peoplePage,
  personPage,
  trainingsPage,
} from "./pages.ts";
import { createReadModel } from "./read-model.ts";

export interface DashboardDeps {
  host: string;
  port: number;
  token: string;
  /** Honour X-Forwarded-Proto / X-Forwarded-For from a reverse proxy the operator runs. */
  trustProxy: boolean;
  /** OPERATORS: who may log in (the list the slash commands check). */
  operators: readonly string[];
  db: Database;
  clock: Clock;
  log: Logger;
  budgets: Budgets;
  retryDeletions: DataRights["retryDeletions"];
  settings: { threshold: number; chatModel: string };
}

export interface Dashboard {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** The dashboard of a running app (src/app.ts), from its configuration and core. */
export function startDashboardFor(input: {
  config: Config;
  db: Database;
  clock: Clock;
  log: Logger;
  core: Pick<Core, "budgets" | "dataRights">;
}): Promise<Dashboard> | undefined {
  const { config } = input;
  if (!config.dashboard) return undefined;
  return startDashboard({
    ...config.dashboard,
    operators: config.operators,
    db: input.db,
    clock: input.clock,
    log: input.log.child({ part: "dashboard" }),
    budgets: input.core.budgets,
    retryDeletions: input.core.dataRights.retryDeletions,
    settings: { threshold: config.fineTune.threshold, chatModel: config.llm.chatModel },
  });
}

const MAX_BODY = 16 * 1024;

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
  if (type !== "application/x-www-form-urlencoded") throw new HttpError(415, "expected a form");
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, "form too large");
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

export async function startDashboard(deps: DashboardDeps): Promise<Dashboard> {
  if (!deps.token) throw new Error("the dashboard needs DASHBOARD_TOKEN");
  const auth: Auth = createAuth({ token: deps.token, operators: deps.operators, clock: deps.clock });
  const read = createReadModel(deps);
  const limits = createLimitsCommands({ budgets: deps.budgets, operators: deps.operators });

  const clientOf = (req: IncomingMessage) => {
    const forwarded = req.headers["x-forwarded-for"];
    if (deps.trustProxy && typeof forwarded === "string" && forwarded.trim()) {
      // The address our proxy appended last is the one it saw; earlier ones are the client's word.
      return forwarded.split(",").at(-1)!.trim();
    }
    return req.socket.remoteAddress ?? "unknown";
  };
  const secure = (req: IncomingMessage) =>
    deps.trustProxy &&
    String(req.headers["x-forwarded-proto"] ?? "")
      .split(",")[0]!
      .trim() === "https";

  function send(res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}) {
    res.writeHead(status, { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8", ...headers });
    res.end(html);
  }
  function redirect(res: ServerResponse, to: string, headers: Record<string, string> = {}) {
    res.writeHead(303, { ...SECURITY_HEADERS, location: to, ...headers });
    res.end();
  }
  function render(res: ServerResponse, s: Session, path: string, title: string, body: string, status = 200) {
    const flash = s.flash;
    s.flash = undefined;
    send(res, status, page({ title, path, body, session: { operator: s.operator, csrf: s.csrf, flash } }));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://dashboard.invalid");
    const path = url.pathname;
    const method = req.method ?? "GET";

    if (method === "GET" && path === "/dashboard.css") {
      res.writeHead(200, { ...SECURITY_HEADERS, "content-type": "text/css; charset=utf-8" });
      res.end(STYLESHEET);
      return;
    }
    if (path === "/login") {
      if (method === "GET") return send(res, 200, page({ title: "Log in", path, body: loginPage({}) }));
      if (method !== "POST") throw new HttpError(405, "method not allowed");
      const form = await readForm(req);
      const operator = (form.get("operator") ?? "").trim();
      const result = auth.login({ operator, token: form.get("token") ?? "", client: clientOf(req) });
      if (result.ok) {
        deps.log.info("dashboard login");
        return redirect(res, "/", { "set-cookie": sessionCookie(result.session.id, secure(req)) });
      }
      if (result.reason === "too_many") {
        deps.log.warn("dashboard logins refused after repeated failures", {
          retryAfterSeconds: result.retryAfterSeconds,
        });
        const minutes = Math.ceil(result.retryAfterSeconds / 60);
        return send(
          res,
          429,
          page({
            title: "Log in",
            path,
            body: loginPage({
              error: `Too many failed logins from here. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
              operator,
            }),
          }),
          { "retry-after": String(result.retryAfterSeconds) },
        );
      }
      deps.log.warn("dashboard login failed");
      return send(
        res,
        401,
        page({
          title: "Log in",
          path,
          body: loginPage({ error: "That operator id and token do not match.", operator }),
        }),
      );
    }

    const cookieId = parseCookies(req.headers.cookie)[SESSION_COOKIE];
    const s = auth.session(cookieId);
    if (!s) {
      // Nothing below runs without a live session; a change is refused outright.
      if (method === "GET") return redirect(res, "/login");
      throw new HttpError(403, "Log in first: your session is missing or has ended.");
    }

    if (method === "POST") {
      const form = await readForm(req);
      if (!auth.csrfOk(s, form.get("csrf") ?? undefined))
        throw new HttpError(
          403,
          "This form is out of date (its CSRF token does not match): reload the page.",
        );
      if (path === "/logout") {
        auth.logout(s.id);
        return redirect(res, "/login", { "set-cookie": sessionCookie(undefined, secure(req)) });
      }
      if (path === "/limits") {
        s.flash = await changeLimits(s.operator, form);
        return redirect(res, "/limits");
      }
      if (path === "/deletions/retry") {
        const subject = form.get("subject");
        if (subject !== null && !/^[0-9a-f]{64}$/.test(subject)) throw new HttpError(400, "unknown subject");
        const r = await deps.retryDeletions(subject ? { subjectHash: subject } : {});
        s.flash = {
          ok: r.remaining === 0,
          // A person's retry counts only theirs (retryDeletions' scope); say so.
          text: `${subject ? "This person's deletions: " : ""}${r.deleted} deleted; ${r.remaining} still to retry; ${r.unsupported} for an operator to delete by hand.`,
        };
        return redirect(res, "/deletions");
      }
      throw new HttpError(404, "not found");
    }
    if (method !== "GET") throw new HttpError(405, "method not allowed");

    if (path === "/") return render(res, s, path, "Overview", overviewPage(await read.overview()));
    if (path === "/people") return render(res, s, path, "People", peoplePage(await read.people()));
    const personMatch = /^\/people\/([^/]+)$/.exec(path);
    if (personMatch) {
      const p = await read.person(decodeURIComponent(personMatch[1]!));
      if (!p) throw new HttpError(404, "No such person.");
      return render(res, s, path, `Person ${p.person}`, personPage(p));
    }
    if (path === "/trainings")
      return render(res, s, path, "Trainings", trainingsPage(await read.trainings(), deps.clock.now()));
    if (path === "/limits") {
      const [view, changes] = await Promise.all([read.limits(), read.limitChanges()]);
      return render(res, s, path, "Limits", limitsPage({ ...view, changes, csrf: s.csrf }));
    }
    if (path === "/deletions")
      return render(res, s, path, "Deletions owed", deletionsPage(await read.deletions(), s.csrf));
    throw new HttpError(404, "Not found.");
  }

  /** The form's changed fields as the words of `limits set`, run as that command is. */
  async function changeLimits(operator: string, form: URLSearchParams): Promise<Session["flash"]> {
    const current = await deps.budgets.getLimits();
    const pairs: string[] = [];
    for (const [word, key] of Object.entries(LIMIT_COMMAND_KEYS)) {
      const given = form.get(word);
      if (given === null) continue;
      const value = given.trim();
      if (value === "") return { ok: false, text: `Give a value for ${word} (a number, or "off").` };
      // One word per field: a value must not smuggle in another key.
      if (/[\s=]/.test(value)) return { ok: false, text: `${word}: "${value}" is not a single value.` };
      const now = limitValue(key, current[key]);
      const same =
        value.toLowerCase() === now ||
        (now !== "off" &&
          Number.isFinite(Number(value.replace("$", ""))) &&
          Number(value.replace("$", "")) === Number(now));
      if (!same) pairs.push(`${word} ${value}`);
    }
    if (!pairs.length) return { ok: true, text: "Nothing changed." };
    const result = await limits.set(operator, pairs.join(" "));
    if (result.ok)
      deps.log.info("limits changed from the dashboard", { keys: pairs.map((p) => p.split(" ")[0]) });
    // The command's usage lines are about typing the command; the page's form says the same.
    return { ok: result.ok, text: result.text.replace(`\n${LIMITS_USAGE}`, "") };
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) deps.log.error("dashboard request failed", { error: e });
      const message = e instanceof HttpError ? e.message : "Something went wrong; the log says what.";
      if (res.headersSent) return void res.end();
      send(
        res,
        status,
        page({
          title: status === 404 ? "Not found" : "Refused",
          path: "",
          body: `<p>${esc(message)}</p><p><a href="/">Back</a></p>`,
        }),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(deps.port, deps.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = deps.host.includes(":") ? `[${deps.host}]` : deps.host;
  deps.log.info("dashboard listening", { host: deps.host, port });
  return {
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
