// The core as the platform adapters see it: each platform event becomes one of these calls, and
// each answer is text the adapter posts. Adapters decide nothing; everything is decided here.
import type { Conversation, RespondInput, RespondOptions, RespondResult } from "./conversation.ts";
import type { Ratings, ReactionInput, ReactionOutcome } from "./ratings.ts";
import type { UserStatus } from "./status.ts";
import type { UserRef } from "./users.ts";

/** What a command or button answers: text for the person, and whether it is an error. */
export interface CommandReply {
  ok: boolean;
  text: string;
}

export interface ButtonOutcome {
  /** Shown to the person who clicked (ephemeral where the platform allows). */
  text: string;
  /** The new text of the approval prompt, when the click settled it (buttons are then removed). */
  promptText?: string;
}

export interface Assistant {
  /**
   * A mention or a DM. `options.onStillWorking` is called once when the reply takes long (the
   * adapter shows a "still working" note); `interrupted` means the bot is stopping (say so; the
   * message is answered after the restart).
   */
  mention(input: RespondInput, options?: RespondOptions): Promise<RespondResult>;
  /** After posting a reply: the platform ids of its parts (ratings arrive by them). */
  recordReplyMessages(exchangeId: bigint, messageIds: string[]): Promise<void>;
  reaction(input: ReactionInput): Promise<ReactionOutcome>;
  status(user: UserRef): Promise<{ status: UserStatus; text: string }>;
  /** `/assistant train`: the approval prompt arrives by DM; this is the immediate answer. */
  train(user: UserRef): Promise<CommandReply>;
  /** `/assistant models`: the user's model versions. */
  models(user: UserRef): Promise<CommandReply>;
  /** `/assistant rollback [previous|base|<version>]`. */
  rollback(user: UserRef, target: string): Promise<CommandReply>;
  /** `/assistant limits` (operators only; the core checks). */
  limitsShow(caller: UserRef): Promise<CommandReply>;
  /** `/assistant limits set <key> <value>` (operators only; the core checks). */
  limitsSet(caller: UserRef, args: string): Promise<CommandReply>;
  /** `/assistant memory`: what the bot holds about the caller (ephemeral). */
  memory(user: UserRef): Promise<CommandReply>;
  /** `/assistant export`: DMs the caller a JSON file of all their data; this is the immediate answer. */
  exportData(user: UserRef): Promise<CommandReply>;
  /** `/assistant forget`: the warning, and the id of the confirmation button to show with it. */
  forgetRequest(user: UserRef): Promise<{ text: string; confirmButtonId: string }>;
  /** The confirmation button: deletes everything of the caller's, here and at the provider. */
  forgetConfirm(input: { user: UserRef; buttonId: string; eventKey?: string }): Promise<ButtonOutcome>;
  /** `/assistant opt-out` and `/assistant opt-in`. */
  optOut(user: UserRef): Promise<CommandReply>;
  optIn(user: UserRef): Promise<CommandReply>;
  /** Approve/Decline on an approval prompt. `eventKey`: the platform's interaction id. */
  approvalClick(input: {
    user: UserRef;
    proposalId: string;
    action: "approve" | "decline";
    eventKey?: string;
  }): Promise<ButtonOutcome>;
}

/** Button ids carry the action and the proposal: `ft:approve:<uuid>`. */
export function approvalButtonId(action: "approve" | "decline", proposalId: string): string {
  return `ft:${action}:${proposalId}`;
}

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

export function isForgetButtonId(id: string): boolean {
  return /^forget:confirm:[0-9a-f]{24}$/.test(id);
}

export function conversationParts(conversation: Conversation, ratings: Ratings) {
  return {
    mention: conversation.respond,
    recordReplyMessages: conversation.recordReplyMessages,
    reaction: ratings.react,
  };
}
