// `/assistant <subcommand>`: acknowledged at once (Slack allows 3 seconds), answered afterwards
// through the command's response_url, visible only to the person who ran it. Who may do what is
// the core's decision; this file only maps words to core calls.
import type { App } from "@slack/bolt";
import type { Assistant } from "../../core/assistant.ts";
import type { UserRef } from "../../core/users.ts";
import { slackUserRef } from "./identity.ts";
import { errorFields, type ListenerDeps } from "./listener-deps.ts";
import { toSlackMrkdwn } from "./mrkdwn.ts";
import { splitMessage } from "./split-message.ts";

export const COMMAND = "/assistant";

export type ParsedCommand =
  | { kind: "status" | "train" | "models" | "limits-show" | "help" }
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
      return { kind: sub };
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
    "Mention me in a channel or write to me directly to ask something; rate my answers with 👍 👎 or 1️⃣-5️⃣.",
    `Your id (what operators put in OPERATORS): \`${externalId}\``,
  ].join("\n");
}

/** The answer to one command, as Markdown (from the core, or the help text). */
export async function answerCommand(assistant: Assistant, user: UserRef, text: string): Promise<string> {
  const command = parseCommand(text);
  switch (command.kind) {
    case "status":
      return (await assistant.status(user)).text;
    case "train":
      return (await assistant.train(user)).text;
    case "models":
      return (await assistant.models(user)).text;
    case "rollback":
      return (await assistant.rollback(user, command.target)).text;
    case "limits-show":
      return (await assistant.limitsShow(user)).text;
    case "limits-set":
      return (await assistant.limitsSet(user, command.args)).text;
    case "help":
      return helpText(user.externalId);
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
        const text = await answerCommand(deps.assistant, user, command.text);
        for (const part of splitMessage(toSlackMrkdwn(text)))
          await respond({ response_type: "ephemeral", text: part });
      },
      async (error) => {
        deps.log.error("command failed", { command: sub, ...errorFields(error) });
        await respond({ response_type: "ephemeral", text: COMMAND_FAILURE_TEXT });
      },
    );
  });
}
