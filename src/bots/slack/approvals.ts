// Approval prompts: the Block Kit message the notifier DMs (a section with the core's text and an
// Approve/Decline actions block), and the closed prompt it becomes (clicks.ts handles the clicks).
import type { types } from "@slack/bolt";
import { approvalButtonId } from "../../core/button-ids.ts";
import type { ApprovalPrompt } from "../../core/ports.ts";
import { splitMessage, truncate } from "../shared/split-message.ts";
import { slackSection, toSlackMrkdwn } from "./mrkdwn.ts";

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
