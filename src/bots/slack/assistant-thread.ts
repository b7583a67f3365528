// Slack's assistant surface (the AI app's split view, Bolt's `Assistant`): a new thread greets the
// person and offers suggested prompts; each message in the thread shows "thinking…" while the core
// answers, the first one names the thread, and the answer goes through the same path as DMs and
// mentions (messages.ts: the core's `mention`, its idempotency, the rating buttons). Two of the
// suggested prompts are questions about the person that the status answers with real figures
// (assistant-prompts.ts). The channel the person is looking at (the thread's context) is not used,
// so nothing of it is stored.
import { Assistant, type AssistantConfig } from "@slack/bolt";
import { RecentIds } from "../shared/recent-ids.ts";
import { truncate } from "../shared/split-message.ts";
import { createPromptAnswers, matchPromptQuestion, SUGGESTED_PROMPTS } from "./assistant-prompts.ts";
import { errorFields, type ListenerDeps } from "./listener-deps.ts";
import type { AnswerMessage } from "./messages.ts";
import { fromSlackText } from "./mrkdwn.ts";
import { postReply } from "./post-reply.ts";

/** What the thread shows while the answer is prepared (cleared when it is posted, or explicitly). */
export const THINKING = "thinking…";
/** Slack shows thread titles in the history list; long first messages are cut to this. */
export const TITLE_CHARS = 60;
export const GREETING =
  "Hi! Ask me anything. I learn from our conversations and your ratings (👍 / 👎 under my answers) and, in time, can train a model of your own.";
export const PROMPTS_TITLE = "Try one of these:";

/** The thread context is never read: nothing to fetch, nothing to save. */
const noContextStore: NonNullable<AssistantConfig["threadContextStore"]> = {
  get: async () => ({}),
  save: async () => {},
};

/** Bolt's Assistant for the app: `app.assistant(createAssistantThread(...))`. */
export function createAssistantThread(deps: ListenerDeps, answer: AnswerMessage): Assistant {
  const { workspace } = deps;
  // Threads already titled by this process (the title comes from the first message). After a
  // restart an old thread's next message names it again: harmless, and no history is read for it.
  const titled = new RecentIds();
  const answerPromptQuestion = createPromptAnswers(deps);

  return new Assistant({
    threadContextStore: noContextStore,

    threadStarted: async ({ event, client, setSuggestedPrompts }) => {
      const { channel_id: channel, thread_ts: threadTs } = event.assistant_thread;
      const log = deps.log.child({ channel });
      try {
        // Not Bolt's `say`: it would copy the thread's context (the channel being viewed) into the
        // message's metadata, and that is not ours to keep.
        await postReply(client, log, { channel, threadTs }, GREETING);
        await setSuggestedPrompts({ title: PROMPTS_TITLE, prompts: [...SUGGESTED_PROMPTS] });
      } catch (e) {
        log.warn("could not greet a new assistant thread", errorFields(e));
      }
    },

    // The context (which channel the person is viewing) is not used: nothing is kept of it.
    threadContextChanged: async () => {},

    userMessage: async ({ message, client, setStatus, setTitle }) => {
      // Bolt sends every DM thread message here (subtype none or file_share): only people's count.
      if (message.subtype !== undefined && message.subtype !== "file_share") return;
      if ("bot_id" in message && message.bot_id !== undefined) return;
      if (message.user === workspace.botUserId || message.thread_ts === undefined) return;
      const log = deps.log.child({ channel: message.channel, ts: message.ts });
      const text = message.text ?? "";
      const quiet = (what: string) => (e: unknown) => log.debug(`could not ${what}`, errorFields(e));

      // Awaited: a status that landed after the reply would show "thinking…" under the answer.
      await setStatus(THINKING).catch(quiet("show the thinking status"));
      // The title is not: it can be set while the core answers.
      let titling: Promise<unknown> = Promise.resolve();
      if (titled.firstTime(`${message.channel}:${message.thread_ts}`)) {
        const title = truncate(
          fromSlackText(text, workspace.botUserId).replace(/\s+/g, " ").trim(),
          TITLE_CHARS,
        );
        if (title !== "") titling = setTitle(title).catch(quiet("set the thread title"));
      }
      try {
        const incoming = {
          userId: message.user,
          channel: message.channel,
          ts: message.ts,
          threadId: message.thread_ts,
          replyThreadTs: message.thread_ts,
          // The model sees the assistant thread so far, as in any thread (read, never stored).
          writtenInThread: message.thread_ts,
          files: "files" in message ? message.files : undefined,
          text,
          // An assistant thread lives in the person's DM with the bot (no server settings apply).
          dm: true,
        };
        const question = matchPromptQuestion(fromSlackText(text, workspace.botUserId));
        if (question) await answerPromptQuestion(client, incoming, question);
        else await answer(client, incoming);
      } finally {
        // A posted reply clears the status in Slack; a duplicate, a refusal or a failure that posted
        // nothing would leave "thinking…" up for two minutes.
        await Promise.all([setStatus("").catch(quiet("clear the status")), titling]);
      }
    },
  });
}
