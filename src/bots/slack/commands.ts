// `/assistant <subcommand>`: acknowledged at once (Slack allows 3 seconds), answered afterwards
// through the command's response_url, visible only to the person who ran it. The typed text is read
// with the shared command table (src/bots/shared/commands.ts) and answered by the core; this file
// only renders the answer. `forget` answers with the core's warning and a confirmation button (its
// click: forget.ts).
import type { App } from "@slack/bolt";
import { failureNotices } from "../../core/messages.ts";
import { parseCommandText } from "../shared/commands.ts";
import { splitMessage } from "../shared/split-message.ts";
import { forgetPromptMessage } from "./forget.ts";
import { slackUserRef } from "./identity.ts";
import { errorFields, type ListenerDeps } from "./listener-deps.ts";
import { fromSlackText, slackText } from "./mrkdwn.ts";

export const COMMAND = "/assistant";

export function registerCommands(app: App, deps: ListenerDeps): void {
  app.command(COMMAND, async ({ command, ack, respond }) => {
    await ack();
    const user = slackUserRef(deps.workspace.teamId, command.user_id);
    // A DM has no server settings (its channel id starts with D); any other channel is the workspace's.
    const dm = command.channel_id.startsWith("D");
    const input = {
      // Slack escapes &, < and > in the text; a prompt is stored as the person typed it.
      ...parseCommandText(fromSlackText(command.text, undefined)),
      place: { ...(dm ? {} : { serverId: deps.workspace.teamId }), channelId: command.channel_id },
    };
    await deps.inFlight.run(
      async () => {
        const answer = await deps.assistant.command(user, input);
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
        deps.log.error("command failed", { command: input.name, ...errorFields(error) });
        await respond({ response_type: "ephemeral", text: failureNotices.command });
      },
    );
  });
}
