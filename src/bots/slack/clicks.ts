// Clicks on the bot's buttons (approval prompts, the forget confirmation): acknowledged at once,
// handed to the core's router (`buttonClick`), answered to the clicker only. When the core settles
// what the button was for (`promptText`), the message that carried the buttons is rewritten with
// it and loses them. How it is rewritten depends on the message: a posted DM is edited with
// chat.update; an ephemeral answer cannot be, so it is replaced through the click's response_url.
import type { App, BlockAction } from "@slack/bolt";
import { failureNotices } from "../../core/messages.ts";
import { splitMessage } from "../shared/split-message.ts";
import { closedPromptMessage } from "./approvals.ts";
import { slackUserRef } from "./identity.ts";
import { errorFields, type ListenerDeps } from "./listener-deps.ts";
import { slackText } from "./mrkdwn.ts";

export interface ClickRoute {
  /** Which action ids (the core parses the rest). */
  actions: RegExp;
  /** For the log line when handling fails. */
  name: string;
  /** "posted": the buttons are on a message the bot posted; "ephemeral": on an ephemeral answer. */
  carrier: "posted" | "ephemeral";
  /**
   * Where the core's button id is: the action id (buttons), or the pressed button's value
   * (feedback buttons share one action id).
   */
  idIn?: "action_id" | "value";
}

export function registerClicks(app: App, deps: ListenerDeps, route: ClickRoute): void {
  app.action<BlockAction>(route.actions, async ({ ack, body, action, respond, client }) => {
    await ack();
    const value = "value" in action && typeof action.value === "string" ? action.value : "";
    await deps.inFlight.run(
      async () => {
        const outcome = await deps.assistant.buttonClick({
          user: slackUserRef(deps.workspace.teamId, body.user.id),
          buttonId: route.idIn === "value" ? value : action.action_id,
          eventKey: body.trigger_id || action.action_ts,
          ...(body.message?.ts ? { messageId: body.message.ts } : {}),
        });
        if (outcome.promptText !== undefined) {
          const closed = closedPromptMessage(outcome.promptText);
          if (route.carrier === "ephemeral")
            await respond({ response_type: "ephemeral", replace_original: true, ...closed });
          else if (body.channel && body.message)
            await client.chat.update({ channel: body.channel.id, ts: body.message.ts, ...closed });
        }
        // A replaced ephemeral warning already says it when the two are the same.
        if (route.carrier === "ephemeral" && outcome.text === outcome.promptText) return;
        for (const part of splitMessage(outcome.text, slackText))
          await respond({ response_type: "ephemeral", replace_original: false, text: part });
      },
      async (error) => {
        deps.log.error(`handling ${route.name} click failed`, errorFields(error));
        await respond({ response_type: "ephemeral", replace_original: false, text: failureNotices.click });
      },
    );
  });
}
