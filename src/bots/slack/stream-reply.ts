// An answer shown on Slack while the model writes it. In a thread, Slack's own text streaming:
// chat.startStream with the first text, chat.appendStream with what was added since (at most about
// once a second, as the other platforms' edits), chat.stopStream with the rest and the rating
// buttons. The methods are called directly rather than through @slack/web-api's ChatStreamer,
// which flushes by buffer size, not by time, and cannot hand over to edits when streaming fails.
//
// Where streaming is not available (no thread, as at the top level of a DM; an error from
// chat.startStream, e.g. a workspace without the feature), or where the streamed message cannot
// end as the answer (the stream was cut and the apology replaces it, a retry started the text
// again, the text outgrew one message), the answer is posted and edited with chat.update instead
// (../shared/streamed-reply.ts), split like any posted answer.
import type { webApi } from "@slack/bolt";
import type { Logger } from "../../core/ports.ts";
import {
  createPacedWriter,
  createStreamedReply,
  type ReplySurface,
  type StreamedReply,
} from "../shared/streamed-reply.ts";
import { errorFields } from "./listener-deps.ts";
import { slackSection } from "./mrkdwn.ts";
import { type PostTarget, postPart } from "./post-reply.ts";
import { rateableMessage, ratingBlock } from "./rating-buttons.ts";

/**
 * Most Markdown one streamed message carries: `markdown_text` and the markdown block are capped at
 * 12,000 characters. A longer answer ends as posted parts.
 */
export const SLACK_STREAM_CHARS = 12_000;

export interface SlackStreamDeps {
  client: webApi.WebClient;
  log: Logger;
  target: PostTarget;
  /** Whom the answer is for: Slack requires them to stream outside a DM. */
  recipient: { teamId: string; userId: string };
  onFirstText?: () => void;
  intervalMs?: number;
}

export function createSlackReplyStream(deps: SlackStreamDeps): StreamedReply {
  const { client, log, target } = deps;
  const paced = deps.intervalMs !== undefined ? { intervalMs: deps.intervalMs } : {};
  const edits = (shown?: Array<{ id: string; content: string }>) =>
    createStreamedReply({
      format: slackSection,
      surface: editSurface(client, target),
      log,
      ...paced,
      ...(shown ? { shown } : {}),
    });

  let fallback: StreamedReply | undefined = target.threadTs === undefined ? edits() : undefined;
  let ts: string | undefined;
  /** The Markdown the stream holds so far. */
  let sent = "";
  /** False once the stream cannot grow into the answer: the end then edits the message instead. */
  let appending = true;
  let started = false;

  const writer = createPacedWriter({
    ...paced,
    async write(answer) {
      if (fallback) return fallback.push(answer);
      const text = streamable(answer);
      if (ts === undefined) {
        const first = text.slice(0, SLACK_STREAM_CHARS);
        try {
          const res = await client.chat.startStream({
            channel: target.channel,
            thread_ts: target.threadTs as string,
            recipient_team_id: deps.recipient.teamId,
            recipient_user_id: deps.recipient.userId,
            markdown_text: first,
          });
          if (!res.ts) throw new Error("chat.startStream returned no ts");
          ts = res.ts;
          sent = first;
        } catch (error) {
          log.info("streaming is not available here; posting and editing the answer", errorFields(error));
          fallback = edits();
          fallback.push(answer);
        }
        return;
      }
      if (!appending || text === sent) return;
      if (!text.startsWith(sent) || text.length > SLACK_STREAM_CHARS) {
        appending = false;
        return;
      }
      try {
        await client.chat.appendStream({
          channel: target.channel,
          ts,
          markdown_text: text.slice(sent.length),
        });
        sent = text;
      } catch (error) {
        appending = false;
        log.warn("appending to the streamed answer failed; it is finished by an edit", errorFields(error));
      }
    },
  });

  return {
    get started() {
      return started;
    },
    push(textSoFar) {
      if (!started) {
        started = true;
        try {
          deps.onFirstText?.();
        } catch (error) {
          log.warn("the first-text hook failed", errorFields(error));
        }
      }
      if (fallback) fallback.push(textSoFar);
      else writer.push(textSoFar);
    },
    async finish(answer, rateable) {
      await writer.stop();
      if (fallback) return fallback.finish(answer, rateable);
      if (ts === undefined) {
        fallback = edits();
        return fallback.finish(answer, rateable);
      }
      const text = streamable(answer);
      if (appending && text.startsWith(sent) && text.length <= SLACK_STREAM_CHARS) {
        const rest = text.slice(sent.length);
        try {
          await client.chat.stopStream({
            channel: target.channel,
            ts,
            ...(rest ? { markdown_text: rest } : {}),
            // Rendered under the streamed text, like the buttons under a posted answer.
            ...(rateable ? { blocks: [ratingBlock()] } : {}),
          });
          return [ts];
        } catch (error) {
          log.warn("stopping the stream failed; the answer is finished by an edit", errorFields(error));
        }
      } else {
        // Closed as it is, then replaced: the partial text must not stay as if it were the answer.
        await client.chat
          .stopStream({ channel: target.channel, ts })
          .catch((error: unknown) => log.warn("stopping the stream failed", errorFields(error)));
      }
      fallback = edits([{ id: ts, content: sent }]);
      return fallback.finish(answer, rateable);
    },
  };
}

/**
 * Slack's control sequences that notify people (`<!channel>`, `<!here>`, `<!everyone>`,
 * `<!subteam^…>`, `<@U…>`, `<#C…>`) with a zero-width space after the `<`: they read the same but
 * ping nobody. Posted answers get the same guarantee from mrkdwn escaping (mrkdwn.ts); streamed
 * ones are standard Markdown, where escaping `<` would show in code. A sequence still being
 * written is left as it is: once complete it no longer matches what was streamed, and the end
 * replaces the streamed text by an edit (which escapes).
 */
export function streamable(markdown: string): string {
  return markdown.replace(/<(?=(?:!(?:channel|here|everyone|subteam\^)|@[UW]|#C)[^<>\n]*>)/g, "<\u200b");
}

/** Parts posted into the thread (or conversation), then edited with chat.update. */
function editSurface(client: webApi.WebClient, target: PostTarget): ReplySurface {
  return {
    async post(content, _index, buttons) {
      const ts = await postPart(client, target, content, buttons);
      if (!ts) throw new Error("chat.postMessage returned no ts");
      return ts;
    },
    async edit(ts, content, _index, buttons) {
      await client.chat.update({
        channel: target.channel,
        ts,
        text: content,
        // With blocks, `text` is only the notification fallback: the section shows the words.
        blocks: buttons ? rateableMessage(content) : [],
      });
    },
    async remove(ts) {
      await client.chat.delete({ channel: target.channel, ts });
    },
  };
}
