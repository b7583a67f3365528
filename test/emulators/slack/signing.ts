// Slack request signing (v0): what Slack puts on every HTTP request it sends to an app.
// signature = "v0=" + hex(HMAC-SHA256(signingSecret, `v0:${timestamp}:${rawBody}`)).
import { createHmac } from "node:crypto";

/** Unix seconds, the unit of `x-slack-request-timestamp`. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The `x-slack-signature` value for `body` sent at `timestampSec`. */
export function signSlackRequest(signingSecret: string, body: string, timestampSec: number): string {
  const hmac = createHmac("sha256", signingSecret);
  hmac.update(`v0:${timestampSec}:${body}`);
  return `v0=${hmac.digest("hex")}`;
}

/** Both signing headers for `body`, stamped with `timestampSec` (default: now). */
export function signedHeaders(
  signingSecret: string,
  body: string,
  timestampSec: number = nowSeconds(),
): { "x-slack-signature": string; "x-slack-request-timestamp": string } {
  return {
    "x-slack-signature": signSlackRequest(signingSecret, body, timestampSec),
    "x-slack-request-timestamp": String(timestampSec),
  };
}
