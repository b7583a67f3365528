// The ids of the bot's buttons, written and read here only: what a button carries is what a click
// sends back, so the core can route a click without the adapter knowing which button it was.

/** Button ids carry the action and the proposal: `ft:approve:<uuid>`. */
export function approvalButtonId(action: "approve" | "decline", proposalId: string): string {
  return `ft:${action}:${proposalId}`;
}

/** The action and proposal of an approval button id; undefined for any other id. */
export function parseApprovalButtonId(
  id: string,
): { action: "approve" | "decline"; proposalId: string } | undefined {
  const m = /^ft:(approve|decline):([0-9a-f-]{36})$/.exec(id);
  return m ? { action: m[1] as "approve" | "decline", proposalId: m[2]! } : undefined;
}

/** The forget confirmation button: `forget:confirm:<hash of the person>`, so only they can use it. */
export function forgetButtonId(subject: string): string {
  return `forget:confirm:${subject.slice(0, 24)}`;
}

/** Whether `id` is a forget confirmation button's. */
export function isForgetButtonId(id: string): boolean {
  return /^forget:confirm:[0-9a-f]{24}$/.test(id);
}

/** A rating button under an answer: `rate:<1-5>`; the message it is on says which answer. */
export function rateButtonId(rating: number): string {
  return `rate:${rating}`;
}

/** The rating of a rating button id; undefined for any other id. */
export function parseRateButtonId(id: string): number | undefined {
  const m = /^rate:([1-5])$/.exec(id);
  return m ? Number(m[1]) : undefined;
}

/**
 * Buttons that do what a subcommand does (Slack's App Home): `cmd:<name>` or `cmd:<name>:<args>`.
 * Only these subcommands have buttons: the ones that change something for the clicker alone and
 * need no typed words (forget keeps its own confirmation button).
 */
const COMMAND_BUTTONS = ["train", "training:on", "training:off", "export", "opt-out", "opt-in"] as const;
export type CommandButton = (typeof COMMAND_BUTTONS)[number];

export function commandButtonId(button: CommandButton): string {
  return `cmd:${button}`;
}

/** The subcommand (and its words) a command button runs; undefined for any other id. */
export function parseCommandButtonId(id: string): { name: string; args: string } | undefined {
  const m = /^cmd:(.+)$/.exec(id);
  if (!m || !(COMMAND_BUTTONS as readonly string[]).includes(m[1]!)) return undefined;
  const [name = "", args = ""] = m[1]!.split(":");
  return { name, args };
}
