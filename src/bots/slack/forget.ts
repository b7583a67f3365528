// `/assistant forget`: the warning is the command's ephemeral answer, with one red button whose id
// the core chose (it names the person, so only they can confirm). A click is acknowledged at once and
// handed to the core; when the core says what happened (`promptText`), the warning is replaced with
// it through the click's response_url (an ephemeral message cannot be edited with chat.update), and
// the clicker is told anything else the core said.
import type { App, BlockAction, ButtonAction, types } from "@slack/bolt";
import { failureNotices } from "../../core/messages.ts";
import { splitMessage } from "../shared/split-message.ts";
import { closedPromptMessage } from "./approvals.ts";
import { slackUserRef } from "./identity.ts";
import { errorFields, type ListenerDeps } from "./listener-deps.ts";
import { slackText } from "./mrkdwn.ts";

/** Matches every forget button (the core checks the rest). */
export const FORGET_ACTION = /^forget:confirm:/;
export const FORGET_BUTTON_LABEL = "Delete everything";

/** The warning with its confirmation button: `text` is the fallback, the blocks are what people see. */
export function forgetPromptMessage(
  warning: string,
  confirmButtonId: string,
): { text: string; blocks: types.KnownBlock[] } {
  const { text, blocks } = closedPromptMessage(warning);
  return {
    text,
    blocks: [
      ...blocks,
      {
        type: "actions",
        block_id: "forget",
        elements: [
          {
            type: "button",
            style: "danger",
            action_id: confirmButtonId,
            value: "forget",
            text: { type: "plain_text", text: FORGET_BUTTON_LABEL },
          },
        ],
      },
    ],
  };
}

export function registerForgetAction(app: App, deps: ListenerDeps): void {
  app.action<BlockAction<ButtonAction>>(FORGET_ACTION, async ({ ack, body, action, respond }) => {
    await ack();
    await deps.inFlight.run(
      async () => {
        const outcome = await deps.assistant.buttonClick({
          user: slackUserRef(deps.workspace.teamId, body.user.id),
          buttonId: action.action_id,
          eventKey: body.trigger_id || action.action_ts,
        });
        if (outcome.promptText !== undefined)
          await respond({
            response_type: "ephemeral",
            replace_original: true,
            ...closedPromptMessage(outcome.promptText),
          });
        // The replaced warning already says it when the two are the same.
        if (outcome.text === outcome.promptText) return;
        for (const part of splitMessage(outcome.text, slackText))
          await respond({ response_type: "ephemeral", replace_original: false, text: part });
      },
      async (error) => {
        deps.log.error("handling a forget click failed", errorFields(error));
        await respond({ response_type: "ephemeral", replace_original: false, text: failureNotices.click });
      },
    );
  });
}
