// `/assistant <subcommand>`: acknowledged at once (Slack allows 3 seconds), answered afterwards
// through the command's response_url, visible only to the person who ran it. Who may do what is
// the core's decision; this file only maps words to core calls. `forget` answers with the core's
// warning and a confirmation button (its click: forget.ts).
import type { App } from "@slack/bolt";
import type { Assistant } from "../../core/assistant.ts";
import type { UserRef } from "../../core/users.ts";
import { splitMessage } from "../shared/split-message.ts";
import { forgetPromptMessage } from "./forget.ts";
import { slackUserRef } from "./identity.ts";
import { errorFields, type ListenerDeps } from "./listener-deps.ts";
import { slackText } from "./mrkdwn.ts";

export const COMMAND = "/assistant";

export type ParsedCommand =
  | {
      kind:
        | "status"
        | "train"
        | "models"
        | "limits-show"
        | "memory"
        | "export"
        | "forget"
        | "opt-out"
        | "opt-in"
        | "help";
    }
  | { kind: "rollback"; target: string }
  | { kind: "limits-set"; args: string };

/** The subcommand in the text after `/assistant`; anything unknown is `help`. */
export function parseCommand(text: string): ParsedCommand {
  const [word = "", ...rest] = text.trim().split(/\s+/);
  const sub = word.toLowerCase();
  const args = rest.join(" ");
  switch (sub) {
    case "status":
    case "train":
    case "models":
    case "memory":
    case "export":
    case "forget":
      return { kind: sub };
    case "opt-out":
    case "optout":
    case "opt_out":
      return { kind: "opt-out" };
    case "opt-in":
    case "optin":
    case "opt_in":
      return { kind: "opt-in" };
    case "rollback":
      return { kind: "rollback", target: args };
    case "limits": {
      const [action = "", ...more] = rest;
      if (action === "" || action.toLowerCase() === "show") return { kind: "limits-show" };
      if (action.toLowerCase() === "set") return { kind: "limits-set", args: more.join(" ") };
      return { kind: "help" };
    }
    default:
      return { kind: "help" };
  }
}

export function helpText(externalId: string): string {
  return [
    "**/assistant** commands:",
    "- `/assistant status`: what I know about you, and how close you are to your own fine-tuned model",
    "- `/assistant train`: propose training your own model now (the approval prompt arrives by DM)",
    "- `/assistant models`: your model versions",
    "- `/assistant rollback [previous|base|<version>]`: answer with an earlier model",
    "- `/assistant limits [show]`, `/assistant limits set <key> <value>`: spending limits (operators only)",
    "- `/assistant memory`: what I hold about you",
    "- `/assistant export`: all of it as a JSON file, by DM",
    "- `/assistant forget`: delete everything I hold about you (asks you to confirm)",
    "- `/assistant opt-out`, `/assistant opt-in`: stop storing and learning from our conversations, or start again",
    "Mention me in a channel or write to me directly to ask something; rate my answers with 👍 👎 or 1️⃣-5️⃣.",
    `Your id (what operators put in OPERATORS): \`${externalId}\``,
  ].join("\n");
}

/** The answer to one command: Markdown (from the core, or the help text), and for `forget` the button. */
export interface CommandAnswer {
  text: string;
  /** `forget`: the id of the confirmation button to show under the text. */
  confirmButtonId?: string;
}

export async function answerCommand(
  assistant: Assistant,
  user: UserRef,
  text: string,
): Promise<CommandAnswer> {
  const command = parseCommand(text);
  switch (command.kind) {
    case "status":
      return { text: (await assistant.status(user)).text };
    case "train":
      return await assistant.train(user);
    case "models":
      return await assistant.models(user);
    case "rollback":
      return await assistant.rollback(user, command.target);
    case "limits-show":
      return await assistant.limitsShow(user);
    case "limits-set":
      return await assistant.limitsSet(user, command.args);
    case "memory":
      return await assistant.memory(user);
    case "export":
      return await assistant.exportData(user);
    case "forget":
      return await assistant.forgetRequest(user);
    case "opt-out":
      return await assistant.optOut(user);
    case "opt-in":
      return await assistant.optIn(user);
    case "help":
      return { text: helpText(user.externalId) };
  }
}

export const COMMAND_FAILURE_TEXT = "Sorry, that command failed on my side. Please try again in a minute.";

export function registerCommands(app: App, deps: ListenerDeps): void {
  app.command(COMMAND, async ({ command, ack, respond }) => {
    await ack();
    const user = slackUserRef(deps.workspace.teamId, command.user_id);
    const sub = parseCommand(command.text).kind;
    await deps.inFlight.run(
      async () => {
        const answer = await answerCommand(deps.assistant, user, command.text);
        if (answer.confirmButtonId !== undefined) {
          await respond({
            response_type: "ephemeral",
            ...forgetPromptMessage(answer.text, answer.confirmButtonId),
          });
          return;
        }
        for (const part of splitMessage(answer.text, slackText))
          await respond({ response_type: "ephemeral", text: part });
      },
      async (error) => {
        deps.log.error("command failed", { command: sub, ...errorFields(error) });
        await respond({ response_type: "ephemeral", text: COMMAND_FAILURE_TEXT });
      },
    );
  });
}
