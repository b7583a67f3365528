// `/assistant forget`: the warning is the command's ephemeral answer, with one red button whose id
// the core chose (it names the person, so only they can confirm). Its clicks go through clicks.ts
// (the warning is replaced through the click's response_url: it is an ephemeral message).
import type { types } from "@slack/bolt";
import { closedPromptMessage } from "./approvals.ts";

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
