// The Bolt App and its receiver, one per transport: HTTP (Bolt verifies each request's signature
// with the signing secret and acknowledges events before our listeners run, so a reply that waits
// on the model never makes Slack retry) or Socket Mode (a WebSocket opened with the app token; no
// public URL needed).
import type { IncomingHttpHeaders, RequestListener, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { App, HTTPReceiver, SocketModeReceiver, webApi } from "@slack/bolt";
import type { Config } from "../../config.ts";
import type { Logger } from "../../core/ports.ts";
import { boltLogger } from "./bolt-logger.ts";
import type { SlackWorkspace } from "./listener-deps.ts";

type SlackConfig = NonNullable<Config["slack"]>;

export interface SlackTransport {
  app: App;
  /** Starts receiving events. HTTP: resolves with the port listened on (SLACK_PORT=0 picks one). */
  start(): Promise<{ port?: number }>;
  stop(): Promise<void>;
  connected(): boolean;
}

function isLoopback(apiUrl: string): boolean {
  const host = new URL(apiUrl).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]" || host.endsWith(".localhost");
}

/**
 * Web API client settings. Against Slack (or a remote proxy) the client keeps its default retries
 * (about 30 minutes of backoff: Slack outages are short). A Slack API on this machine is an
 * emulator or a local test double: failing at once is what is wanted there, not minutes of retries.
 */
export function webClientOptions(config: SlackConfig, log: Logger): webApi.WebClientOptions {
  return {
    slackApiUrl: config.apiUrl,
    logger: boltLogger(log),
    ...(isLoopback(config.apiUrl) ? { retryConfig: { retries: 0 } } : {}),
  };
}

/** Who the bot token belongs to. Throws a readable error when Slack refuses the token. */
export async function identifyWorkspace(
  config: SlackConfig,
  clientOptions: webApi.WebClientOptions,
): Promise<SlackWorkspace> {
  const client = new webApi.WebClient(config.botToken, clientOptions);
  let auth: webApi.AuthTestResponse;
  try {
    auth = await client.auth.test();
  } catch (e) {
    const code = (e as { data?: { error?: unknown } }).data?.error;
    throw new Error(
      `Slack did not accept SLACK_BOT_TOKEN (auth.test: ${typeof code === "string" ? code : e instanceof Error ? e.message : "failed"}). Check the Bot User OAuth Token on your Slack app's OAuth & Permissions page.`,
    );
  }
  if (!auth.team_id || !auth.user_id)
    throw new Error("Slack's auth.test did not say which workspace and bot user SLACK_BOT_TOKEN belongs to.");
  return { teamId: auth.team_id, botUserId: auth.user_id, ...(auth.bot_id ? { botId: auth.bot_id } : {}) };
}

/**
 * How far a request's signed timestamp may be from this machine's clock, either way. Slack's rule is
 * five minutes; Bolt 5 enforces it only for the past, so a request stamped ahead (a recorded one
 * replayed later, a signing clock that is off) would pass. Slack's own retries are re-signed.
 */
export const REQUEST_TIME_WINDOW_SECONDS = 5 * 60;

/**
 * True when the request carries a timestamp outside the window. No timestamp, or one that is not a
 * number, is left to Bolt: it refuses those (except Slack's unsigned `ssl_check`).
 */
export function outsideRequestWindow(headers: IncomingHttpHeaders, nowMs: number): boolean {
  const header = headers["x-slack-request-timestamp"];
  if (typeof header !== "string" || !/^\d+$/.test(header.trim())) return false;
  return Math.abs(Math.floor(nowMs / 1000) - Number(header)) > REQUEST_TIME_WINDOW_SECONDS;
}

/**
 * Bolt's HTTP receiver behind a check of the timestamp in both directions. The timestamp is part of
 * what is signed, so once Bolt has verified the signature it is Slack's; refusing outside the window
 * before Bolt reads the body means such a request never reaches a listener. 401 with no body, as
 * Bolt answers its own refusals.
 */
function createTimeBoundReceiver(signingSecret: string, log: Logger, logger: ReturnType<typeof boltLogger>) {
  const receiver = new HTTPReceiver({ signingSecret, processBeforeResponse: false, logger });
  const verifyAndDispatch: RequestListener = receiver.requestListener;
  receiver.requestListener = (req, res) => {
    if (outsideRequestWindow(req.headers, Date.now())) {
      log.warn("refused a Slack request whose signed timestamp is more than five minutes from now", {
        skewSeconds: Number(req.headers["x-slack-request-timestamp"]) - Math.floor(Date.now() / 1000),
      });
      req.resume();
      res.writeHead(401);
      res.end();
      return;
    }
    verifyAndDispatch(req, res);
  };
  return receiver;
}

export function createSlackTransport(
  config: SlackConfig,
  log: Logger,
  workspace: SlackWorkspace,
  clientOptions: webApi.WebClientOptions,
): SlackTransport {
  const logger = boltLogger(log);
  // botId + botUserId given: Bolt skips its own auth.test (we already made one, and awaited it).
  const identity = { token: config.botToken, botUserId: workspace.botUserId, botId: workspace.botId ?? "" };

  if (config.socketMode) {
    if (!config.appToken) throw new Error("Socket Mode needs SLACK_APP_TOKEN.");
    const receiver = new SocketModeReceiver({
      appToken: config.appToken,
      logger,
      installerOptions: { clientOptions },
    });
    let connected = false;
    receiver.client.on("connected", () => {
      connected = true;
    });
    for (const state of ["disconnecting", "disconnected", "reconnecting"])
      receiver.client.on(state, () => {
        connected = false;
      });
    const app = new App({ ...identity, receiver, logger, clientOptions });
    return {
      app,
      async start() {
        await app.start();
        connected = true;
        return {};
      },
      async stop() {
        const closed = new Promise<void>((resolve) => {
          if (!connected) resolve();
          else receiver.client.once("disconnected", () => resolve());
        });
        await app.stop();
        await Promise.race([closed, new Promise((r) => setTimeout(r, 2_000).unref())]);
        connected = false;
      },
      connected: () => connected,
    };
  }

  if (!config.signingSecret) throw new Error("Slack over HTTP needs SLACK_SIGNING_SECRET.");
  const receiver = createTimeBoundReceiver(config.signingSecret, log, logger);
  const app = new App({ ...identity, receiver, logger, clientOptions });
  let listening = false;
  return {
    app,
    async start() {
      const server: Server = await app.start(config.port);
      listening = true;
      server.once("close", () => {
        listening = false;
      });
      return { port: (server.address() as AddressInfo).port };
    },
    async stop() {
      if (listening) await app.stop();
      listening = false;
    },
    connected: () => listening,
  };
}
