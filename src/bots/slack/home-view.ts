// The App Home tab as Block Kit: the person's `/assistant status` (the core's figures and text),
// whether training offers are on and whether they opted out, and buttons for the slash commands
// that change something for them alone. Pure: home.ts publishes it.
//
// Button ids: `home:` + the core's button id (`cmd:training:off`, `forget:confirm:<hash>`), or
// `home:forget` / `home:cancel` for the two steps of the forget confirmation, which only change
// what this tab shows. Every button's value is the rendering's nonce: two clicks on the same
// rendering (a double click) carry the same nonce, and the core runs the click once.
import type { types } from "@slack/bolt";
import { type CommandButton, commandButtonId } from "../../core/button-ids.ts";
import type { UserStatus } from "../../core/status.ts";
import { splitMessage } from "../shared/split-message.ts";
import { slackSection } from "./mrkdwn.ts";

export const HOME_PREFIX = "home:";
export const HOME_FORGET = `${HOME_PREFIX}forget`;
export const HOME_CANCEL = `${HOME_PREFIX}cancel`;

export const HOME_LABELS = {
  title: "Your assistant",
  train: "Train my model now",
  offersOff: "Turn training offers off",
  offersOn: "Turn training offers on",
  export: "Export my data",
  optOut: "Opt out",
  optIn: "Opt in",
  forget: "Forget me…",
  forgetConfirm: "Delete everything",
  cancel: "Cancel",
} as const;

export interface HomeViewInput {
  status: UserStatus;
  /** The core's `/assistant status` text for the figures. */
  statusText: string;
  /** What the last click came to (the core's outcome text), shown on top. */
  note?: string;
  /** The forget warning and its confirmation button id, while the person is confirming. */
  forget?: { warning: string; confirmButtonId: string };
  /** A fresh value per rendering (see the top of this file). */
  nonce: string;
}

const section = (markdown: string): types.KnownBlock[] =>
  splitMessage(markdown, slackSection).map((part) => ({
    type: "section",
    text: { type: "mrkdwn", text: part },
  }));

function button(text: string, actionId: string, nonce: string, style?: "primary" | "danger"): types.Button {
  return {
    type: "button",
    action_id: actionId,
    value: nonce,
    text: { type: "plain_text", text },
    ...(style ? { style } : {}),
  };
}

const commandButton = (text: string, b: CommandButton, nonce: string, style?: "primary" | "danger") =>
  button(text, `${HOME_PREFIX}${commandButtonId(b)}`, nonce, style);

export function homeView(input: HomeViewInput): types.HomeView {
  const { status: s, nonce } = input;
  const blocks: types.KnownBlock[] = [
    { type: "header", text: { type: "plain_text", text: HOME_LABELS.title } },
  ];
  if (input.note) blocks.push(...section(input.note), { type: "divider" });

  if (input.forget) {
    blocks.push(...section(input.forget.warning), {
      type: "actions",
      block_id: "forget",
      elements: [
        button(HOME_LABELS.forgetConfirm, `${HOME_PREFIX}${input.forget.confirmButtonId}`, nonce, "danger"),
        button(HOME_LABELS.cancel, HOME_CANCEL, nonce),
      ],
    });
    return { type: "home", blocks };
  }

  blocks.push(...section(input.statusText), {
    type: "context",
    elements: [
      {
        type: "mrkdwn",
        text: `Training offers: *${s.trainingOffersOff ? "off" : "on"}*   ·   Opted out: *${s.optedOut ? "yes" : "no"}*`,
      },
    ],
  });
  blocks.push({
    type: "actions",
    block_id: "actions",
    elements: [
      ...(s.optedOut || s.fineTuneOff ? [] : [commandButton(HOME_LABELS.train, "train", nonce, "primary")]),
      s.trainingOffersOff
        ? commandButton(HOME_LABELS.offersOn, "training:on", nonce)
        : commandButton(HOME_LABELS.offersOff, "training:off", nonce),
      commandButton(HOME_LABELS.export, "export", nonce),
      s.optedOut
        ? commandButton(HOME_LABELS.optIn, "opt-in", nonce)
        : commandButton(HOME_LABELS.optOut, "opt-out", nonce),
      button(HOME_LABELS.forget, HOME_FORGET, nonce, "danger"),
    ],
  });
  return { type: "home", blocks };
}
