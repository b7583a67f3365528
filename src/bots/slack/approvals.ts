// Approval prompts: the Block Kit message the notifier DMs (a section with the core's text and an
// Approve/Decline actions block), and the button clicks on it. A click is acknowledged at once,
// handed to the core, and answered to the clicker only; when the core settles the proposal, the
// prompt is rewritten with the outcome and loses its buttons.
import type { App, BlockAction, ButtonAction, types } from "@slack/bolt";
import { approvalButtonId } from "../../core/button-ids.ts";
import { failureNotices } from "../../core/messages.ts";
import type { ApprovalPrompt } from "../../core/ports.ts";
import { splitMessage, truncate } from "../shared/split-message.ts";
import { slackUserRef } from "./identity.ts";
import { errorFields, type ListenerDeps } from "./listener-deps.ts";
import { slackSection, slackText, toSlackMrkdwn } from "./mrkdwn.ts";

/** Slack caps button text at 75 characters. */
const BUTTON_CHARS = 75;
/** Matches every approval button, whatever the proposal (the core parses the id). */
export const APPROVAL_ACTION = /^ft:(approve|decline):/;

function sections(markdown: string): types.SectionBlock[] {
  return splitMessage(markdown, slackSection).map((text) => ({
    type: "section",
    text: { type: "mrkdwn", text },
  }));
}

function buttonText(label: string): string {
  return truncate(label, BUTTON_CHARS);
}

/** The prompt as a message: `text` is the notification fallback, the blocks are what people see. */
export function approvalPromptMessage(prompt: ApprovalPrompt): { text: string; blocks: types.KnownBlock[] } {
  return {
    text: toSlackMrkdwn(prompt.text),
    blocks: [
      ...sections(prompt.text),
      {
        type: "actions",
        block_id: "approval",
        elements: [
          {
            type: "button",
            style: "primary",
            action_id: approvalButtonId("approve", prompt.proposalId),
            value: prompt.proposalId,
            text: { type: "plain_text", text: buttonText(prompt.approveLabel) },
          },
          {
            type: "button",
            style: "danger",
            action_id: approvalButtonId("decline", prompt.proposalId),
            value: prompt.proposalId,
            text: { type: "plain_text", text: buttonText(prompt.declineLabel) },
          },
        ],
      },
    ],
  };
}

/** A settled prompt: the new text and no buttons. */
export function closedPromptMessage(text: string): { text: string; blocks: types.KnownBlock[] } {
  return { text: toSlackMrkdwn(text), blocks: sections(text) };
}

export function registerApprovalActions(app: App, deps: ListenerDeps): void {
  app.action<BlockAction<ButtonAction>>(APPROVAL_ACTION, async ({ ack, body, action, respond, client }) => {
    await ack();
    const log = deps.log.child({ action: action.action_id.split(":")[1] });
    await deps.inFlight.run(
      async () => {
        const outcome = await deps.assistant.buttonClick({
          user: slackUserRef(deps.workspace.teamId, body.user.id),
          buttonId: action.action_id,
          eventKey: body.trigger_id || action.action_ts,
        });
        if (outcome.promptText !== undefined && body.channel && body.message) {
          await client.chat.update({
            channel: body.channel.id,
            ts: body.message.ts,
            ...closedPromptMessage(outcome.promptText),
          });
        }
        for (const part of splitMessage(outcome.text, slackText))
          await respond({ response_type: "ephemeral", replace_original: false, text: part });
      },
      async (error) => {
        log.error("handling an approval click failed", errorFields(error));
        await respond({ response_type: "ephemeral", replace_original: false, text: failureNotices.click });
      },
    );
  });
}
