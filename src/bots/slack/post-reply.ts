// Posting one answer: Markdown converted to mrkdwn, split into parts that each render, posted in
// order into the same conversation (and thread).
import type { webApi } from "@slack/bolt";
import type { Logger } from "../../core/ports.ts";
import { postParts } from "../shared/post-parts.ts";
import { splitMessage } from "../shared/split-message.ts";
import { errorFields } from "./listener-deps.ts";
import { slackSection, slackText } from "./mrkdwn.ts";
import { rateableMessage } from "./rating-buttons.ts";

export interface PostTarget {
  channel: string;
  /** Reply in this thread; undefined posts at the top level of the conversation. */
  threadTs?: string;
}

/** Posts one part of an answer (no link previews: the answer is the content). Returns its ts. */
export async function postPart(
  client: webApi.WebClient,
  target: PostTarget,
  part: string,
  rateable = false,
): Promise<string | undefined> {
  const res = await client.chat.postMessage({
    channel: target.channel,
    text: part,
    // With blocks, `text` is the notification fallback and the section shows the same words.
    ...(rateable ? { blocks: rateableMessage(part) } : {}),
    ...(target.threadTs !== undefined ? { thread_ts: target.threadTs } : {}),
    unfurl_links: false,
    unfurl_media: false,
  });
  return res.ts;
}

/**
 * Posts `text` and returns the ts of every part that was posted. Stops at the first failed part
 * (logged) so a half-posted answer still records the parts people can rate. `rateable`: the
 * rating buttons go under the last part (parts are then cut to fit one section block each).
 */
export async function postReply(
  client: webApi.WebClient,
  log: Logger,
  target: PostTarget,
  text: string,
  rateable = false,
): Promise<string[]> {
  const parts = splitMessage(text, rateable ? slackSection : slackText);
  const last = parts.length - 1;
  const posted = await postParts(
    parts,
    (part, index) => postPart(client, target, part, rateable && index === last),
    (e, { index, of }) =>
      log.error("posting a reply part failed", { part: index + 1, parts: of, ...errorFields(e) }),
  );
  if (parts.length === 0) log.warn("nothing to post: the reply was empty", { channel: target.channel });
  return posted;
}
