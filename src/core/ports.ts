// Every port of the core, in one place. Inbound: the `Assistant`, what the platform adapters
// (src/bots) call, and the values they pass and get back. Outbound: what the core needs from the
// outside world (logging, time, language models, fine-tuning, the platforms' notifiers), which
// adapters, providers (src/core/providers) and tests implement. The core depends only on these.
import type { Prisma } from "../generated/prisma/client.ts";
import type { ClickOutcome, Outcome } from "./outcomes.ts";
import type { UserStatus } from "./status.ts";
import { storableText } from "./storable-text.ts";

/** The chat platforms the bot serves; each has an adapter in src/bots/<platform>. */
export type Platform = "discord" | "slack";

/** A person, as the adapters name them. */
export interface UserRef {
  /** Opaque identity the adapter builds (`discord:<id>`, `slack:<team>:<id>`); the core never parses it. */
  externalId: string;
  /** The platform the identity belongs to. */
  platform: Platform;
}

// ---------------------------------------------------------------------------------------------
// Inbound: the Assistant, as the platform adapters see it. Each platform event becomes one of
// these calls and each answer is text the adapter renders: adapters translate, the core decides.

/** A file attached to a person's message, as the platform describes it; fetched only if read. */
export interface IncomingAttachment {
  /** The file's name as the person gave it. */
  name: string;
  /** The MIME type the platform reports, if any (parameters such as `; charset=` allowed). */
  contentType?: string;
  /** Its size in bytes, as the platform reports it. */
  size: number;
  /**
   * Fetches the bytes, stopping after `maxBytes + 1` (more than `maxBytes` back means too big).
   * Throws when the platform refuses (a missing scope, an expired link).
   */
  download(maxBytes: number, signal: AbortSignal): Promise<Uint8Array>;
}

/** One message of the conversation a mention was written in (RespondInput.visibleConversation). */
export interface VisibleMessage {
  /** The person asking now, the bot itself, or anyone else (people and other bots). */
  from: "asker" | "assistant" | "other";
  /** The author's display name, when the platform gives it without another request. */
  name?: string;
  /** Tells authors apart (an opaque platform id): nameless others get one neutral label each. */
  authorKey: string;
  /** Plain text, platform markup already turned into text. */
  text: string;
}

/** A mention or a DM to answer. */
export interface RespondInput {
  /** Who wrote it. */
  user: UserRef;
  /** Platform id of the user's message: a replayed event with the same id gets no second reply. */
  messageId: string;
  /** The channel it was written in (Discord: a thread's parent; Slack: the conversation). */
  channelId: string;
  /** The thread it was written in, if any. */
  threadId?: string;
  /**
   * The conversation the message was written in, as everyone in it sees it (a Slack thread, a
   * Discord thread or reply chain), fetched from the platform only when called: at most `limit`
   * messages, oldest first, the message being answered and anything after it left out. Shown to the
   * model for this one reply (src/core/thread-context.ts), never stored. Unset: no such conversation.
   */
  visibleConversation?: (limit: number) => Promise<VisibleMessage[]>;
  /**
   * Files attached to the message. Text files and images are read into it when it is answered
   * (src/core/attachments.ts); the rest get a note in the reply.
   */
  attachments?: IncomingAttachment[];
  /** What the person wrote, platform markup already turned into plain text. */
  text: string;
  /** The server it was written in (Discord guild id, Slack team id); undefined in DMs. */
  serverId?: string;
  /** The author's role ids in that server (Discord), for the server's allowed roles. */
  roleIds?: string[];
}

/** What the platform adapter can do while a reply is under way. */
export interface RespondOptions {
  /** Called once when the reply takes longer than `stillWorkingAfterMs`: show it on the platform. */
  onStillWorking?: () => void;
  /**
   * Called once when the core has decided to answer (the server's settings allow it here) and work
   * on the reply starts: at once (`queued: false`), or after it waited in the reply queue behind
   * others (`queued: true`, a burst). Not called where the bot is kept quiet, nor for a mention
   * answered busy. The adapter shows "typing…" from then on (Discord: for `queued: false` only).
   */
  onAnswering?: (start: { queued: boolean }) => void;
  /**
   * Show the answer while it is written: called with the whole text so far each time more arrives
   * (a retried attempt starts again from its first piece). Only a preview: what the result carries
   * (the answer, or an apology when the stream was cut) is what the platform must end up showing.
   */
  onText?: (textSoFar: string) => void;
}

/** How a mention was answered. */
export type RespondResult =
  /** Post `text` (`failed`: it is an apology, not an answer); then record the parts' ids. */
  | { kind: "reply"; exchangeId?: bigint; text: string; model: string; failed: boolean }
  /** A replayed event: post nothing. */
  | { kind: "duplicate" }
  /** The bot is stopping and cancelled the reply; `text` tells the person (answered after the restart). */
  | { kind: "interrupted"; exchangeId?: bigint; text: string }
  /** Not started: the reply queue is full (REPLY_QUEUE_LIMIT). Post `text`; nothing was stored. */
  | { kind: "busy"; code: "reply.busy"; text: string }
  /**
   * Not answered, on purpose, and nothing stored: the server's operators do not want the bot to
   * answer in this channel, or this member (server-settings.ts). Post nothing.
   */
  | { kind: "ignored"; reason: "channel_not_allowed" | "role_not_allowed" }
  /** Not answered (empty, too long, over the chat budget); `text` says why. */
  | { kind: "rejected"; reason: "empty" | "too_long" | "chat_budget"; text: string };

/** A reaction added to or removed from a message, possibly one of the bot's replies. */
export interface ReactionInput {
  /** The platform it happened on. */
  platform: Platform;
  /** Platform id of the reacted-to message (one of the bot's reply parts). */
  messageId: string;
  /** Opaque identity of the person who reacted. */
  reactorExternalId: string;
  /** The emoji as the platform names it (unicode or a Slack short name). */
  emoji: string;
  /** Whether the reaction was added or removed. */
  action: "add" | "remove";
  /** A delivery id, when the platform gives one: the same id twice is applied once. */
  eventKey?: string;
}

/** What a reaction did; adapters show nothing either way. */
export type ReactionOutcome =
  /** The reply now has this rating (`null`: no rating reaction is left). */
  | { kind: "rated"; exchangeId: bigint; rating: number | null }
  /** Nothing changed, and why. */
  | {
      kind: "ignored";
      reason: "not_a_reply" | "not_owner" | "opted_out" | "unknown_emoji" | "duplicate" | "no_change";
    };

/** Where a command was run: what `/assistant config` changes and `/assistant status` shows. */
export interface CommandPlace {
  /** Discord guild id, Slack team id; undefined in a Discord DM. */
  serverId?: string;
  /** The channel it was run in. */
  channelId?: string;
}

/** A `/assistant` subcommand, as the shared command table (src/bots/shared/commands.ts) read it. */
export interface CommandInput {
  /** The subcommand: `status`, `train`, `limits show`, ...; a name the core does not know gets the help. */
  name: string;
  /** What followed the subcommand, trimmed ("" when nothing did). */
  args: string;
  /** Where it was run (unset: nowhere in particular, as in the admin CLI). */
  place?: CommandPlace;
}

/** The answer to a command: an outcome with its code, and what some commands add to their text. */
export interface CommandReply extends Outcome {
  /** `forget`: the id of the confirmation button to show under the text. */
  confirmButtonId?: string;
  /** `status`: the figures, for platforms that render them richly (Discord's embed). */
  status?: UserStatus;
}

/** A click on one of the bot's buttons. */
export interface ButtonClick {
  /** Who clicked. */
  user: UserRef;
  /** The button's id as the platform sent it back (src/core/button-ids.ts). */
  buttonId: string;
  /** The platform's interaction id: the same click delivered twice is applied once. */
  eventKey?: string;
  /** The platform id of the message the button is on (a rating button rates that answer). */
  messageId?: string;
}

/**
 * The answer to a click: shown to the clicker (ephemeral where the platform allows); when
 * `promptText` is set, the message the button was on now reads that, without buttons.
 */
export type ButtonReply = ClickOutcome;

/** The core as the platform adapters see it: five calls, whatever the command or button. */
export interface Assistant {
  /**
   * A mention or a DM. `options.onStillWorking` is called once when the reply takes long (the
   * adapter shows a "still working" note); `interrupted` means the bot is stopping (say so; the
   * message is answered after the restart).
   */
  mention(input: RespondInput, options?: RespondOptions): Promise<RespondResult>;
  /** After posting a reply: the platform ids of its parts (ratings arrive by them). */
  recordReplyMessages(exchangeId: bigint, messageIds: string[]): Promise<void>;
  /** A reaction: the asker's rating of a reply, or nothing. */
  reaction(input: ReactionInput): Promise<ReactionOutcome>;
  /** Any `/assistant` subcommand; unknown ones, defaults and refusals are decided here. */
  command(user: UserRef, input: CommandInput): Promise<CommandReply>;
  /** Any of the bot's buttons; an id it does not know is answered as stale. */
  buttonClick(input: ButtonClick): Promise<ButtonReply>;
}

/**
 * What the `/assistant` subcommands and the buttons reach, one call each: `command` and
 * `buttonClick` route to these (src/core/commands.ts). Adapters never call them directly; the admin
 * CLI and the tests do.
 */
export interface AssistantServices {
  /** `/assistant status`: the figures and their text; with a place, the server settings that apply there. */
  status(user: UserRef, place?: CommandPlace): Promise<{ status: UserStatus; text: string }>;
  /** `/assistant train`: the approval prompt arrives by DM; this is the immediate answer. */
  train(user: UserRef): Promise<Outcome>;
  /** `/assistant training off|on`: whether the bot offers a training on its own (`train` always works). */
  trainingOffers(user: UserRef, wanted: string): Promise<Outcome>;
  /** `/assistant models`: the user's model versions; `models use vN` picks one (ending a trial). */
  models(user: UserRef, args?: string): Promise<Outcome>;
  /** `/assistant rollback [previous|base|<version>]`; nothing named means the previous version. */
  rollback(user: UserRef, target?: string): Promise<Outcome>;
  /** `/assistant limits` (operators only; the core checks). */
  limitsShow(caller: UserRef): Promise<Outcome>;
  /** `/assistant limits set <key> <value>` (operators only; the core checks). */
  limitsSet(caller: UserRef, args: string): Promise<Outcome>;
  /**
   * `/assistant config show|prompt|model|channels|roles <args>` (operators only; the core checks):
   * the settings of the server (or a channel) `place` is in.
   */
  serverConfig(
    caller: UserRef,
    place: CommandPlace | undefined,
    action: string,
    args: string,
  ): Promise<Outcome>;
  /** `/assistant memory`: what the bot holds about the caller (ephemeral). */
  memory(user: UserRef): Promise<Outcome>;
  /** `/assistant export`: DMs the caller a JSON file of all their data; this is the immediate answer. */
  exportData(user: UserRef): Promise<Outcome>;
  /** `/assistant forget`: the warning, and the id of the confirmation button to show with it. */
  forgetRequest(user: UserRef): Promise<Outcome & { confirmButtonId: string }>;
  /** The confirmation button: deletes everything of the caller's, here and at the provider. */
  forgetConfirm(input: ButtonClick): Promise<ButtonReply>;
  /** `/assistant opt-out`: nothing new of the caller's is stored or learnt from. */
  optOut(user: UserRef): Promise<Outcome>;
  /** `/assistant opt-in`: undoes opt-out (starting fresh). */
  optIn(user: UserRef): Promise<Outcome>;
  /**
   * A rating button under an answer: the asker's rating of it, as a reaction would be (the latest
   * of buttons and reactions counts); the same button clicked again takes the rating back.
   */
  rateClick(input: ButtonClick & { rating: number }): Promise<ButtonReply>;
  /** Approve/Decline on an approval prompt. `eventKey`: the platform's interaction id. */
  approvalClick(input: {
    user: UserRef;
    proposalId: string;
    action: "approve" | "decline";
    eventKey?: string;
  }): Promise<ButtonReply>;
}

/** The core's inbound side as the composition root holds it: the adapters' port and the services. */
export type CoreAssistant = Assistant & AssistantServices;

// ---------------------------------------------------------------------------------------------
// Outbound

/** Structured logging. Fields carry ids and counts, never message text or secrets. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** Time, injectable so tests can move it (expiry, budgets by month, retirement dates). */
export interface Clock {
  /** The current time. */
  now(): Date;
}

/** The chat side of budgets (src/core/budgets.ts); optional so the core runs without limits. */
export interface ChatBudget {
  /** Whether one more chat reply fits the month's limits. */
  checkChat(): Promise<{ ok: true } | { ok: false }>;
  /**
   * What a reply cost, against the user and the exchange, as the ledger row's statement: the one
   * that stores the answer writes it (storeAnswer), so an answer is never kept unbooked.
   */
  chatLedgerRow(input: { userId: string; exchangeId: bigint; amountUsd: number; at: Date }): Prisma.Sql;
}

/**
 * Google credentials for the Vertex AI providers, passed through to google-auth-library untouched
 * (its `GoogleAuthOptions`); unset means Application Default Credentials. Opaque here so that no
 * SDK type reaches the core's dependencies.
 */
export type GoogleCredentials = object;

export const systemClock: Clock = { now: () => new Date() };

// ---------------------------------------------------------------------------------------------
// Language models

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
  /** Images the person attached (user messages only), for models that accept them. */
  images?: ChatImage[];
}

/** An image sent with a chat message: its bytes, base64-encoded. */
export interface ChatImage {
  mimeType: string;
  base64: string;
}

export interface ChatResult {
  text: string;
  /** The model that answered, as the provider reports it. */
  model: string;
  promptTokens: number;
  completionTokens: number;
  /**
   * Set when the model asked for could not answer and another did instead (a person's adapter the
   * server no longer has: the base model answered): the model that answered.
   */
  answeredBy?: string;
}

/**
 * A provider error with what the retry logic needs. `status` is the HTTP status (429, 500, ...) or
 * undefined for network failures and timeouts; `retryAfterMs` comes from the provider's headers.
 * The message and code are the provider's words and end up stored (a failed exchange, an owed
 * deletion), so they are made storable here, once for every provider.
 */
export class ProviderError extends Error {
  readonly code?: string;
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryAfterMs?: number,
    code?: string,
  ) {
    super(storableText(message));
    this.name = "ProviderError";
    if (code !== undefined) this.code = storableText(code);
  }
  get retryable(): boolean {
    return this.status === undefined || this.status === 429 || this.status >= 500;
  }
}

/**
 * A stream that failed after some of the answer had arrived (a dropped connection, a provider error
 * mid-answer). Not retryable: what arrived may already be on screen. `partialText` is what arrived;
 * it is shown, never stored as the answer or trained on.
 */
export class StreamCutError extends ProviderError {
  /** `cause`: the provider's error, or whatever the SDK threw when the connection dropped. */
  constructor(
    cause: unknown,
    readonly partialText: string,
  ) {
    const known = cause instanceof ProviderError ? cause : undefined;
    super(cause instanceof Error ? cause.message : String(cause), known?.status, undefined, known?.code);
    this.name = "StreamCutError";
  }
  override get retryable(): boolean {
    return false;
  }
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  signal?: AbortSignal;
  /**
   * Stream the answer: called with the text so far (the whole of it, not the piece) each time more
   * arrives. The result is the same final `ChatResult`; a failure after text arrived throws
   * `StreamCutError`.
   */
  onText?: (textSoFar: string) => void;
}

/** Chat and embeddings from one provider (OpenAI or compatible, Gemini). */
export interface LlmProvider {
  readonly name: "openai" | "gemini";
  /** One attempt; throws ProviderError. Retries are the caller's business (src/core/retry.ts). */
  chat(request: ChatRequest): Promise<ChatResult>;
  /** One vector per input, each `dimensions` wide. Throws ProviderError. */
  embed(request: {
    model: string;
    dimensions: number;
    inputs: string[];
    signal?: AbortSignal;
  }): Promise<number[][]>;
}

// ---------------------------------------------------------------------------------------------
// Fine-tuning

export type FineTuneStatus = "validating" | "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface FineTuneJobInfo {
  providerJobId: string;
  status: FineTuneStatus;
  /** The tuned model to answer with, once succeeded (OpenAI `ft:...`, Vertex endpoint resource name). */
  fineTunedModel?: string;
  /**
   * Billed tokens (OpenAI `trained_tokens`; Vertex dataset tokens x epochs; Together `token_count`)
   * once known.
   */
  trainedTokens?: number;
  /**
   * What the provider says it charged for the job, in US dollars, when it reports a price itself
   * (Together `total_price`, sent in nano-dollars). Undefined where only tokens are reported: then the
   * caller prices `trainedTokens` with its configured rate.
   */
  billedUsd?: number;
  /**
   * The last validation (eval) loss the provider recorded, when it reports one and a validation file
   * was used (Together `/metrics` `eval/loss`). Lower is better; compare runs of one user, not users.
   */
  validationLoss?: number;
  /** The provider's reason, when failed. */
  error?: string;
  /** Files the provider wrote for the job and keeps until deleted (OpenAI `result_files`). */
  resultFiles?: string[];
  /**
   * The LoRA adapter the job produced, where the provider registers it as a model of its own
   * (Together `adapter_object_id` / `adapter_object_name`): what a dedicated deployment attaches.
   */
  adapter?: { id: string; name: string };
}

/** The provider's own price for a job it has not run yet (see FineTuneProvider.quotePrice). */
export interface FineTunePriceQuote {
  /** US dollars for the whole job. */
  usd: number;
  /** Tokens the provider expects to bill (training passes plus evaluations), when it says. */
  tokens?: number;
  /** False when the provider says the account may not run the job (credit limit reached). */
  allowedToProceed?: boolean;
}

/** Trains models on a provider: OpenAI fine-tuning, Gemini tuning on Vertex AI, LoRA on Together AI. */
export interface FineTuneProvider {
  readonly name: "openai" | "vertex" | "together" | "self-hosted";
  /** Minimum number of training examples the provider accepts. */
  readonly minExamples: number;
  /** Uploads a JSONL file; returns the provider's file id (OpenAI) or gs:// URI (Vertex). */
  uploadFile(request: { filename: string; content: string }): Promise<string>;
  /** Creates the job. `suffix` is already safe (hash of the user id, <= 40 chars). */
  createJob(request: {
    baseModel: string;
    trainingFile: string;
    validationFile?: string;
    epochs: number;
    suffix: string;
    /**
     * The bot's FineTuneJob id. The self-hosted queue keys its row by it (a launch resumed after a
     * crash finds the row it made); remote providers ignore it.
     */
    jobId?: string;
  }): Promise<FineTuneJobInfo>;
  getJob(providerJobId: string): Promise<FineTuneJobInfo>;
  /**
   * The provider's own quote for a job on already uploaded files, where it offers one (Together's
   * estimate-price). Prefer it to a local token count: the provider counts with the base model's
   * tokenizer and knows its current rates. Throws a retryable ProviderError while the provider is
   * still validating the file, a non-retryable one when it refuses the file.
   */
  quotePrice?(request: {
    baseModel: string;
    trainingFile: string;
    validationFile?: string;
    epochs: number;
  }): Promise<FineTunePriceQuote>;
  /**
   * The job created from this training file, if any: lets a launch interrupted between "create" and
   * "record the id" find its job instead of creating a second one.
   */
  findJobByTrainingFile?(trainingFile: string): Promise<FineTuneJobInfo | undefined>;
  cancelJob(providerJobId: string): Promise<void>;
  /** The date the provider stops serving a tuned model, if it announces one. */
  modelShutdownDate(model: string): Promise<Date | undefined>;
  /** Deletes an uploaded or result file; one that is already gone counts as deleted. */
  deleteFile(fileId: string): Promise<void>;
  deleteModel(model: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Serving LoRA adapters

/** A LoRA adapter to serve: the model name requests will use, and where the server gets its weights. */
export interface AdapterRef {
  /** The `model` string chat requests use to reach the adapter (vLLM `lora_name`). */
  name: string;
  /**
   * Where the server loads the weights from: a path or Hugging Face repo id on the vLLM host
   * (`lora_path`), or the adapter model id (`ml_...`) on a Together deployment.
   */
  source: string;
}

/**
 * A server that answers chat requests with one base model plus LoRA adapters loaded at run time
 * (vLLM with runtime LoRA updating, a LoRA-enabled Together deployment). Chat itself goes through an
 * LlmProvider pointed at the same server; this port only manages which adapters are loaded.
 */
export interface AdapterServer {
  readonly name: "vllm" | "together";
  /**
   * Makes the adapter servable under `adapter.name`. Idempotent: loading an adapter that is already
   * loaded from the same source succeeds without reloading it. Resolves once requests can use it.
   * Throws ProviderError (retryable for 429/5xx/network, not for a missing or incompatible adapter).
   */
  load(adapter: AdapterRef): Promise<void>;
  /** Stops serving the adapter. Unloading one that is not loaded succeeds (forget is idempotent). */
  unload(adapter: AdapterRef): Promise<void>;
  /**
   * Whether an error from a chat request means "this adapter is not loaded here" (a restarted vLLM
   * forgets runtime-loaded adapters): the caller can load it again and retry once.
   */
  isNotLoadedError(error: unknown): boolean;
}

// ---------------------------------------------------------------------------------------------
// Platforms

/** An approval prompt the core asks a platform to deliver by DM. */
export interface ApprovalPrompt {
  proposalId: string;
  text: string;
  approveLabel: string;
  declineLabel: string;
}

/** Where a DM was delivered, so it can be edited later (to show the outcome and drop the buttons). */
export type MessageRef = Record<string, string>;

/** Where a person's message is: what an answer posted outside its event (after a restart) needs. */
export interface ConversationPlace {
  /** The channel (Discord: the parent channel of a thread; Slack: the conversation id). */
  channelId: string;
  /** The thread the message is in (Discord: the thread channel; Slack: the thread's ts), if any. */
  threadId?: string;
  /** The platform id of the person's message. */
  messageId: string;
}

/** What the core and the jobs need from a platform to reach a user outside a conversation. */
export interface Notifier {
  /**
   * Posts `text` as the answer to the person's message at `place`, where an answer to the event
   * would have gone (Discord: a reply to the message; Slack: in its thread, or at the top level of a
   * DM that had none), split into parts when long. Returns the ids of the parts posted, in order
   * (ratings arrive by them). Used to answer messages a restart left unanswered. Throws on failure.
   */
  postReply(place: ConversationPlace, text: string): Promise<string[]>;
  /** DMs the approval prompt with Approve/Decline buttons; returns where it was delivered. */
  sendApprovalPrompt(externalUserId: string, prompt: ApprovalPrompt): Promise<MessageRef>;
  /** Replaces a delivered prompt with `text` and no buttons. */
  closeApprovalPrompt(ref: MessageRef, text: string): Promise<void>;
  /** A plain DM (training finished, failed, model retiring). */
  sendDirectMessage(externalUserId: string, text: string): Promise<void>;
  /** A DM with a file attached (the data export). */
  sendFile(externalUserId: string, text: string, file: { name: string; content: string }): Promise<void>;
}
