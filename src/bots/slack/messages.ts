// Mentions in channels and direct messages become `assistant.mention`; the answer goes back to the
// same place: in channels always in a thread (the mention's own or a new one under it), in DMs at
// the top level unless the message was in a thread. Only people's new messages count: bots, the
// bot itself, edits, deletions and the other non-message subtypes are ignored, and plain channel
// messages are not ours to answer (only mentions are).
import type { App, webApi } from "@slack/bolt";
import { failureNotices } from "../../core/messages.ts";
import { type SlackFile, slackAttachments } from "./attachments.ts";
import { slackUserRef } from "./identity.ts";
import { errorFields, type ListenerDeps } from "./listener-deps.ts";
import { fromSlackText } from "./mrkdwn.ts";
import { postReply } from "./post-reply.ts";
import { createSlackReplyStream } from "./stream-reply.ts";
import { slackVisibleConversation } from "./thread-context.ts";

/** Said when answering failed in a way the core did not turn into a reply (e.g. the database is down). */
/**
 * Message subtypes that are still a person's new message: a file shared with a caption, a thread
 * reply also sent to the channel. Every other subtype (message_changed, message_deleted,
 * bot_message, channel_join, ...) is not a question.
 */
const NEW_MESSAGE_SUBTYPES = new Set<string | undefined>([undefined, "file_share", "thread_broadcast"]);

/** Posted in the thread when an answer takes long (REPLY_STILL_WORKING_SECONDS); deleted when it comes. */
export const STILL_WORKING = "Still working on it…";

export interface IncomingMessage {
  userId: string;
  channel: string;
  ts: string;
  /** The conversation thread the core keeps context by. */
  threadId: string | undefined;
  /** Where the answer goes; undefined: top level. */
  replyThreadTs: string | undefined;
  /** The thread the message was written in (its parent's ts): the model sees it. Unset: not in one. */
  writtenInThread?: string;
  /** Files shared with the message. */
  files?: readonly SlackFile[];
  text: string;
  /** A direct message (no server settings apply). */
  dm: boolean;
}

/** Answers one person's message through the core and posts the answer (or an apology) back. */
export type AnswerMessage = (client: webApi.WebClient, m: IncomingMessage) => Promise<void>;

/** Returns the answering path itself, which the assistant thread (assistant-thread.ts) shares. */
export function registerMessageListeners(
  app: App,
  deps: ListenerDeps,
  /** `streamReplies`: show answers while they are written (STREAM_REPLIES; stream-reply.ts). */
  options: { streamReplies?: boolean } = {},
): AnswerMessage {
  const { workspace } = deps;

  app.event("app_mention", async ({ event, client }) => {
    if (!NEW_MESSAGE_SUBTYPES.has(event.subtype) || event.bot_id !== undefined) return;
    if (event.user === undefined || event.user === workspace.botUserId) return;
    const thread = event.thread_ts ?? event.ts;
    await answer(client, {
      userId: event.user,
      channel: event.channel,
      ts: event.ts,
      threadId: thread,
      replyThreadTs: thread,
      writtenInThread: event.thread_ts,
      files: event.files,
      text: event.text,
      dm: false,
    });
  });

  app.event("message", async ({ event, client }) => {
    // NEW_MESSAGE_SUBTYPES spelled out, so that TypeScript narrows the event to a person's message.
    if (event.subtype !== undefined && event.subtype !== "file_share" && event.subtype !== "thread_broadcast")
      return;
    // In channels the bot answers mentions only, and those arrive as app_mention.
    if (event.channel_type !== "im") return;
    if ("bot_id" in event && event.bot_id !== undefined) return;
    if (event.user === workspace.botUserId) return;
    await answer(client, {
      userId: event.user,
      channel: event.channel,
      ts: event.ts,
      threadId: event.thread_ts,
      replyThreadTs: event.thread_ts,
      writtenInThread: event.thread_ts,
      files: "files" in event ? event.files : undefined,
      text: event.text ?? "",
      dm: true,
    });
  });

  return answer;

  async function answer(client: webApi.WebClient, m: IncomingMessage): Promise<void> {
    const log = deps.log.child({ channel: m.channel, ts: m.ts });
    const target = { channel: m.channel, threadTs: m.replyThreadTs };
    let posted = false;
    // A long reply gets a short note in its thread, deleted once the answer (or apology) is there.
    let note: Promise<string | undefined> | undefined;
    const onStillWorking = () => {
      // Text already on screen says more than the note would.
      if (stream?.started) return;
      note = postReply(client, log, target, STILL_WORKING).then((ids) => ids[0]);
    };
    const removeNote = async () => {
      const ts = await note;
      note = undefined;
      if (ts === undefined) return;
      await client.chat
        .delete({ channel: m.channel, ts })
        .catch((e: unknown) => log.debug("could not delete the still-working note", errorFields(e)));
    };
    const stream = options.streamReplies
      ? createSlackReplyStream({
          client,
          log,
          target,
          recipient: { teamId: workspace.teamId, userId: m.userId },
          onFirstText: () => void removeNote(),
        })
      : undefined;
    await deps.inFlight.run(
      async () => {
        let result: Awaited<ReturnType<typeof deps.assistant.mention>>;
        try {
          result = await deps.assistant.mention(
            {
              user: slackUserRef(workspace.teamId, m.userId),
              messageId: m.ts,
              channelId: m.channel,
              ...(m.threadId !== undefined ? { threadId: m.threadId } : {}),
              // In a thread the model also sees the thread (fetched only if the core asks).
              ...(m.writtenInThread !== undefined
                ? {
                    visibleConversation: slackVisibleConversation(client, workspace, {
                      channel: m.channel,
                      threadTs: m.writtenInThread,
                      ts: m.ts,
                      userId: m.userId,
                    }),
                  }
                : {}),
              ...(m.files?.length ? { attachments: slackAttachments(m.files, client.token) } : {}),
              text: fromSlackText(m.text, workspace.botUserId),
              // A DM has no server; a channel's server is the workspace (Slack has no roles).
              ...(m.dm ? {} : { serverId: workspace.teamId }),
            },
            { onStillWorking, ...(stream ? { onText: (text: string) => stream.push(text) } : {}) },
          );
        } finally {
          await removeNote();
        }
        if (result.kind === "duplicate") {
          log.debug("already answered; nothing posted");
          return;
        }
        // The workspace's operators keep the bot quiet in this channel: nothing is posted.
        if (result.kind === "ignored") {
          log.debug("not answered here (server settings)", { reason: result.reason });
          return;
        }
        // A real answer can be rated by buttons under it (an apology or a notice cannot).
        const rateable = result.kind === "reply" && !result.failed && result.exchangeId !== undefined;
        // What streamed is replaced by the result: the final answer, or the apology for a cut-off one.
        const ids = stream?.started
          ? await stream.finish(result.text, rateable)
          : await postReply(client, log, target, result.text, rateable);
        posted = ids.length > 0;
        if (result.kind === "reply" && result.exchangeId !== undefined && ids.length > 0)
          await deps.assistant.recordReplyMessages(result.exchangeId, ids);
      },
      async (error) => {
        log.error("answering a message failed", errorFields(error));
        if (posted) return;
        // A half-written answer on screen is replaced by the notice, not left as if it were one.
        if (stream?.started) await stream.finish(failureNotices.reply, false);
        else await postReply(client, log, target, failureNotices.reply);
      },
    );
  }
}
