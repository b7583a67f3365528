// The suggested prompts of an assistant thread, and the two that are questions about the person
// rather than for the model: "What do you know about me?" is answered with what `/assistant memory`
// shows, "How close am I to my own model?" with the progress figures of `/assistant status`. Both
// are read through the core's `command` (the same figures the slash command shows), not guessed by
// the model, which does not know its own counters. Anything else typed goes to the model as usual.
import type { webApi } from "@slack/bolt";
import { failureNotices, ownModelProgress } from "../../core/messages.ts";
import { RecentIds } from "../shared/recent-ids.ts";
import { slackUserRef } from "./identity.ts";
import { errorFields, type ListenerDeps } from "./listener-deps.ts";
import type { IncomingMessage } from "./messages.ts";
import { postReply } from "./post-reply.ts";

export const KNOW_ABOUT_ME = "What do you know about me?";
export const HOW_CLOSE = "How close am I to my own model?";

/** What a new thread offers (Slack shows up to four; clicking one sends its `message`). */
export const SUGGESTED_PROMPTS = [
  { title: KNOW_ABOUT_ME, message: KNOW_ABOUT_ME },
  { title: HOW_CLOSE, message: HOW_CLOSE },
] as const;

export type PromptQuestion = "memory" | "progress";

const normalise = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z ]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
const QUESTIONS = new Map<string, PromptQuestion>([
  [normalise(KNOW_ABOUT_ME), "memory"],
  [normalise(HOW_CLOSE), "progress"],
]);

/** Which of the two questions `text` is (case and punctuation aside); undefined for anything else. */
export function matchPromptQuestion(text: string): PromptQuestion | undefined {
  return QUESTIONS.get(normalise(text));
}

/** Answers one of the two questions in its thread with the person's own figures. */
export function createPromptAnswers(deps: ListenerDeps) {
  // Messages already answered this way. These answers store nothing, so the core has nothing to
  // de-duplicate them by; this catches Slack resending one under a new event id.
  const answered = new RecentIds();
  return async (client: webApi.WebClient, m: IncomingMessage, question: PromptQuestion): Promise<void> => {
    if (!answered.firstTime(`${m.channel}:${m.ts}`)) return;
    const log = deps.log.child({ channel: m.channel, ts: m.ts });
    const target = { channel: m.channel, threadTs: m.replyThreadTs };
    const user = slackUserRef(deps.workspace.teamId, m.userId);
    await deps.inFlight.run(
      async () => {
        const reply = await deps.assistant.command(user, {
          name: question === "memory" ? "memory" : "status",
          args: "",
        });
        const text = question === "progress" && reply.status ? ownModelProgress(reply.status) : reply.text;
        await postReply(client, log, target, text);
      },
      async (error) => {
        log.error("answering a suggested prompt failed", errorFields(error));
        await postReply(client, log, target, failureNotices.reply);
      },
    );
  };
}
