// `respond`: one user message in, one reply out, personalised with that user's memory and their
// best-rated replies, answered by their own fine-tuned model when they have one.
import type { Database } from "../database/open-database.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { createReplyPlanner, type ReplyPlanner, recordOf } from "./evaluation/reply-plan.ts";
import { embeddingSpace, nearestExchanges, storeEmbedding } from "./exchange-embeddings.ts";
import { replyNotices } from "./messages.ts";
import type {
  ChatBudget,
  Clock,
  LlmProvider,
  Logger,
  RespondInput,
  RespondOptions,
  RespondResult,
} from "./ports.ts";
import { ProviderError } from "./ports.ts";
import { buildPrompt, defaultBudget, type PastExchange, type PromptBudget } from "./prompt.ts";
import {
  CancelledError,
  defaultRetryPolicy,
  ProviderTimeoutError,
  type RetryBounds,
  type RetryPolicy,
  withRetry,
} from "./retry.ts";
import { storableText } from "./storable-text.ts";
import { countNewExchange } from "./user-counters.ts";
import { ensureUser } from "./users.ts";

export const MAX_MESSAGE_CHARS = 8_000;

/** Time budgets of one reply (REPLY_* settings). */
export interface ReplyTimeouts {
  attemptMs: number;
  totalMs: number;
  /** After this long without an answer, `onStillWorking` is called (once). */
  stillWorkingAfterMs: number;
}

export const defaultReplyTimeouts: ReplyTimeouts = {
  attemptMs: 30_000,
  totalMs: 60_000,
  stillWorkingAfterMs: 15_000,
};

export interface ConversationDeps {
  db: Database;
  clock: Clock;
  log: Logger;
  /** The provider for base-model chat and all embeddings. */
  llm: LlmProvider;
  /** The provider that serves a fine-tuned model trained on `provider` ("openai" | "vertex"). */
  llmForTuned?: (provider: string) => LlmProvider | undefined;
  chatBudget?: ChatBudget;
  settings: {
    systemPrompt: string;
    chatModel: string;
    embeddingModel: string;
    embeddingDimensions: number;
    priceInputPer1M: number;
    priceOutputPer1M: number;
    /** Lowest rating that makes a reply a few-shot example. */
    fewShotMinRating: number;
  };
  limits?: { memory: number; fewShot: number; recent: number };
  budget?: PromptBudget;
  retry?: RetryPolicy;
  timeouts?: ReplyTimeouts;
  /** Aborted when the bot stops: replies under way are cancelled and left for the restart. */
  stopping?: AbortSignal;
  /** This process's id in exchange claims (random per start when unset). */
  instanceId?: string;
  /**
   * Which model answers each reply and whether it is in the personalisation holdout (canary arms,
   * evaluation/reply-plan.ts). Unset: the person's active version, no trial, no holdout.
   */
  replyPlan?: ReplyPlanner;
}

const exchangeSelect = { id: true, userText: true, replyText: true } satisfies Prisma.ExchangeSelect;

/**
 * How long a claim on an exchange holds: longer than any reply can take (the whole reply budget,
 * plus time for the database and the platform), so a claim older than this belongs to a process
 * that died, and may be taken over.
 */
export function claimLeaseMs(timeouts: ReplyTimeouts): number {
  return timeouts.totalMs + 60_000;
}

/** Statuses of an exchange nobody finished answering. */
export const UNANSWERED = ["pending", "interrupted"] as const;

export function createConversation(deps: ConversationDeps) {
  const { db, clock, log } = deps;
  const limits = deps.limits ?? { memory: 5, fewShot: 3, recent: 6 };
  const timeouts = deps.timeouts ?? defaultReplyTimeouts;
  const retry: RetryPolicy = { ...(deps.retry ?? defaultRetryPolicy), attemptTimeoutMs: timeouts.attemptMs };
  const instanceId = deps.instanceId ?? crypto.randomUUID();
  const leaseMs = claimLeaseMs(timeouts);
  const planner =
    deps.replyPlan ??
    createReplyPlanner({
      db,
      clock,
      llm: deps.llm,
      llmForTuned: deps.llmForTuned,
      chatModel: deps.settings.chatModel,
    });

  /** Bounds of a provider call that must end by `deadline` (ms since the epoch, real time). */
  const bounds = (deadline: number): RetryBounds => ({ deadline, signal: deps.stopping });

  async function embedQuery(
    text: string,
    deadline: number,
  ): Promise<{ vector: number[]; space: string } | undefined> {
    try {
      const [vector] = await withRetry(
        (signal) =>
          deps.llm.embed({
            model: deps.settings.embeddingModel,
            dimensions: deps.settings.embeddingDimensions,
            inputs: [text],
            signal,
          }),
        retry,
        bounds(deadline),
      );
      if (!vector?.length) return undefined;
      return { vector, space: embeddingSpace(deps.settings.embeddingModel, vector.length) };
    } catch (e) {
      if (e instanceof CancelledError) throw e;
      // Memory falls back to recency; the reply still goes out.
      log.warn("embedding failed; using recent exchanges as memory", {
        status: e instanceof ProviderError ? e.status : undefined,
      });
      return undefined;
    }
  }

  async function personalContext(
    userId: string,
    exchangeId: bigint,
    input: { channelId: string; threadId?: string },
    query: { vector: number[]; space: string } | undefined,
  ) {
    const answered = {
      userId,
      status: "answered",
      replyText: { not: null },
    } satisfies Prisma.ExchangeWhereInput;
    const recentRows = await db.exchange.findMany({
      where: {
        ...answered,
        channelId: input.channelId,
        threadId: input.threadId ?? null,
        id: { not: exchangeId },
      },
      orderBy: { createdAt: "desc" },
      take: limits.recent,
      select: exchangeSelect,
    });
    const exclude = [exchangeId, ...recentRows.map((r) => r.id)];

    let memoryIds: bigint[] = [];
    let fewShotIds: bigint[] = [];
    if (query) {
      memoryIds = (
        await nearestExchanges(db, {
          userId,
          space: query.space,
          vector: query.vector,
          limit: limits.memory,
          excludeIds: exclude,
        })
      ).map((n) => n.id);
      fewShotIds = (
        await nearestExchanges(db, {
          userId,
          space: query.space,
          vector: query.vector,
          limit: limits.fewShot,
          minRating: deps.settings.fewShotMinRating,
          excludeIds: exclude,
        })
      ).map((n) => n.id);
    } else {
      memoryIds = (
        await db.exchange.findMany({
          where: { ...answered, id: { notIn: exclude } },
          orderBy: { createdAt: "desc" },
          take: limits.memory,
          select: { id: true },
        })
      ).map((r) => r.id);
    }
    // Few-shot: relevance first, then the most recently rated, so a new high rating counts at once
    // even before (or without) an embedding.
    if (fewShotIds.length < limits.fewShot) {
      const more = await db.exchange.findMany({
        where: {
          ...answered,
          rating: { gte: deps.settings.fewShotMinRating },
          id: { notIn: [...exclude, ...fewShotIds] },
        },
        orderBy: [{ ratedAt: "desc" }, { createdAt: "desc" }],
        take: limits.fewShot - fewShotIds.length,
        select: { id: true },
      });
      fewShotIds.push(...more.map((r) => r.id));
    }
    // An exchange used as an example need not also be in the memory block.
    memoryIds = memoryIds.filter((id) => !fewShotIds.includes(id));
    const rows = await db.exchange.findMany({
      where: { userId, id: { in: [...memoryIds, ...fewShotIds] } },
      select: exchangeSelect,
    });
    const byId = new Map(rows.map((r) => [r.id, r]));
    const pick = (ids: bigint[]): PastExchange[] =>
      ids.flatMap((id) => {
        const r = byId.get(id);
        return r?.replyText ? [{ userText: r.userText, replyText: r.replyText }] : [];
      });
    return {
      memory: pick(memoryIds),
      fewShot: pick(fewShotIds),
      recent: recentRows
        .reverse()
        .flatMap((r) => (r.replyText ? [{ userText: r.userText, replyText: r.replyText }] : [])),
    };
  }

  async function respond(input: RespondInput, options: RespondOptions = {}): Promise<RespondResult> {
    // What cannot be stored (NUL, lone surrogates) becomes U+FFFD here, so the model is asked with
    // exactly the text that is stored and later remembered.
    const text = storableText(input.text).trim();
    if (!text) return { kind: "rejected", reason: "empty", text: replyNotices.empty };
    if (text.length > MAX_MESSAGE_CHARS)
      return {
        kind: "rejected",
        reason: "too_long",
        text: replyNotices.tooLong(text.length, MAX_MESSAGE_CHARS),
      };
    if (deps.chatBudget && !(await deps.chatBudget.checkChat()).ok)
      return { kind: "rejected", reason: "chat_budget", text: replyNotices.chatBudget };

    const user = await ensureUser(db, input.user);
    if (user.optedOut) return withStillWorking(options, () => respondWithoutMemory(input, text, user.id));

    const exchangeId = await createOrTakeOver(user.id, input, text);
    if (exchangeId === undefined) return { kind: "duplicate" };
    return withStillWorking(options, () =>
      answerClaimed({
        exchangeId,
        userId: user.id,
        text,
        channelId: input.channelId,
        threadId: input.threadId,
      }),
    );
  }

  /**
   * The exchange for this message, claimed by this process: a new one, or one that a stop left
   * unanswered (its event delivered again). Undefined: someone else has it, or it was answered.
   */
  async function createOrTakeOver(userId: string, input: RespondInput, text: string) {
    // The unique (platform, userMessageId) makes a replayed or retried event a no-op...
    const created = await db.$transaction(async (tx) => {
      const [row] = await tx.exchange.createManyAndReturn({
        data: [
          {
            userId,
            platform: input.user.platform,
            channelId: input.channelId,
            threadId: input.threadId ?? null,
            userMessageId: input.messageId,
            userText: text,
            createdAt: clock.now(),
            claimedBy: instanceId,
            claimedAt: clock.now(),
          },
        ],
        skipDuplicates: true,
        select: { id: true },
      });
      if (!row) return undefined;
      await countNewExchange(tx, userId);
      return row.id;
    });
    if (created !== undefined) return created;
    // ...unless nobody answered it: a stop interrupted the reply, or the process working on it died.
    const existing = await db.exchange.findUnique({
      where: { platform_userMessageId: { platform: input.user.platform, userMessageId: input.messageId } },
      select: { id: true, userId: true, status: true },
    });
    if (!existing || existing.userId !== userId || !isUnanswered(existing.status)) return undefined;
    if (!(await claim(existing.id))) return undefined;
    log.info("answering a redelivered message that was left unanswered", { exchangeId: existing.id });
    return existing.id;
  }

  /**
   * Takes an unanswered exchange for this process with a conditional update: interrupted, or pending
   * with no claim or a claim older than the lease. Of two takers at once, exactly one gets it.
   */
  async function claim(exchangeId: bigint): Promise<boolean> {
    const now = clock.now();
    const taken = await db.exchange.updateMany({
      where: {
        id: exchangeId,
        OR: [
          { status: "interrupted" },
          {
            status: "pending",
            OR: [{ claimedAt: null }, { claimedAt: { lt: new Date(now.getTime() - leaseMs) } }],
          },
        ],
      },
      data: { status: "pending", claimedBy: instanceId, claimedAt: now, error: null },
    });
    return taken.count === 1;
  }

  /** Answers an exchange this process has claimed: memory, prompt, the model, the stored reply. */
  async function answerClaimed(x: {
    exchangeId: bigint;
    userId: string;
    text: string;
    channelId: string;
    threadId?: string | null;
  }): Promise<RespondResult> {
    const { exchangeId } = x;
    // The whole reply's budget starts now: the embedding, retries and waits all come out of it.
    const started = Date.now();
    const deadline = started + timeouts.totalMs;
    let model = deps.settings.chatModel;
    try {
      // Evaluation hook: the model (a trial's arm) and whether this reply is in the holdout.
      const plan = await planner.plan(x.userId, exchangeId);
      // Memory is optional: the embedding may use a quarter of the budget, then memory is recency.
      const query = await embedQuery(x.text, Math.min(deadline, started + timeouts.totalMs / 4));
      if (query) await storeEmbedding(db, exchangeId, query.vector, query.space);
      const context = await personalContext(
        x.userId,
        exchangeId,
        { channelId: x.channelId, threadId: x.threadId ?? undefined },
        query,
      );
      // The holdout is answered without memory and few-shot (the channel's recent turns stay).
      if (plan.holdout) Object.assign(context, { memory: [], fewShot: [] });
      const prompt = buildPrompt(
        { systemPrompt: deps.settings.systemPrompt, message: x.text, ...context },
        deps.budget ?? defaultBudget,
      );
      model = plan.model;
      const result = await withRetry(
        (signal) => plan.provider.chat({ model, messages: prompt.messages, signal }),
        retry,
        bounds(deadline),
      );
      // The tuned model was not served and the base model stood in (fine-tune/adapters.ts).
      if (result.answeredBy) model = result.answeredBy;
      const costUsd =
        (result.promptTokens * deps.settings.priceInputPer1M +
          result.completionTokens * deps.settings.priceOutputPer1M) /
        1_000_000;
      await db.exchange.update({
        where: { id: exchangeId },
        data: {
          status: "answered",
          replyText: result.text,
          model,
          promptTokens: result.promptTokens,
          completionTokens: result.completionTokens,
          costUsd: costUsd.toFixed(6),
          answeredAt: clock.now(),
          claimedAt: null,
          ...recordOf(plan, prompt.used, result.answeredBy),
        },
      });
      await deps.chatBudget?.recordChat({ userId: x.userId, exchangeId, amountUsd: costUsd });
      log.info("replied", {
        exchangeId,
        model,
        memory: prompt.used.memory,
        fewShot: prompt.used.fewShot,
        promptTokens: result.promptTokens,
        ms: Date.now() - started,
      });
      return { kind: "reply", exchangeId, text: result.text, model, failed: false };
    } catch (e) {
      if (e instanceof CancelledError) {
        // Not answered, not failed: the restart (or a redelivery) answers it.
        await db.exchange.update({
          where: { id: exchangeId },
          data: { status: "interrupted", claimedAt: null, error: "interrupted: the bot stopped" },
        });
        log.info("reply interrupted by shutdown; it is answered after the restart", { exchangeId });
        return { kind: "interrupted", exchangeId, text: replyNotices.restarting };
      }
      if (!(e instanceof ProviderError)) throw e;
      // Keep the user's message (it is still memory); the reply is an apology they can act on.
      const timedOut = e instanceof ProviderTimeoutError;
      await db.exchange.update({
        where: { id: exchangeId },
        data: {
          status: "failed",
          model,
          claimedAt: null,
          error: timedOut
            ? `timeout: ${e.message}`
            : `provider ${e.status ?? "network"} ${e.code ?? ""}`.trim(),
        },
      });
      log.warn(timedOut ? "provider timed out; apologised" : "provider failed; apologised", {
        exchangeId,
        model,
        status: e.status,
        ms: Date.now() - started,
      });
      const text = timedOut
        ? replyNotices.timeout(Math.round(timeouts.totalMs / 1000))
        : replyNotices.apology;
      return { kind: "reply", exchangeId, text, model, failed: true };
    }
  }

  /** Runs a reply, calling `onStillWorking` once if it takes longer than the setting. */
  async function withStillWorking(
    options: RespondOptions,
    work: () => Promise<RespondResult>,
  ): Promise<RespondResult> {
    const hook = options.onStillWorking;
    const timer = hook
      ? setTimeout(() => {
          try {
            hook();
          } catch (e) {
            log.warn("the still-working notice failed", { error: e });
          }
        }, timeouts.stillWorkingAfterMs)
      : undefined;
    try {
      return await work();
    } finally {
      clearTimeout(timer);
    }
  }

  /** Opted-out users are answered by the base model with nothing stored and nothing remembered. */
  async function respondWithoutMemory(
    input: RespondInput,
    text: string,
    userId: string,
  ): Promise<RespondResult> {
    const prompt = buildPrompt(
      { systemPrompt: deps.settings.systemPrompt, message: text, memory: [], fewShot: [], recent: [] },
      deps.budget ?? defaultBudget,
    );
    const model = deps.settings.chatModel;
    try {
      const result = await withRetry(
        (signal) => deps.llm.chat({ model, messages: prompt.messages, signal }),
        retry,
        bounds(Date.now() + timeouts.totalMs),
      );
      log.info("replied (opted out, nothing stored)", { userId, channel: input.channelId });
      return { kind: "reply", text: result.text, model, failed: false };
    } catch (e) {
      if (e instanceof CancelledError)
        return { kind: "interrupted", text: replyNotices.restartingNothingStored };
      if (!(e instanceof ProviderError)) throw e;
      const text =
        e instanceof ProviderTimeoutError
          ? replyNotices.timeout(Math.round(timeouts.totalMs / 1000))
          : replyNotices.apology;
      return { kind: "reply", text, model, failed: true };
    }
  }

  /** The adapter posted the reply (maybe in several parts): ratings arrive by these ids. */
  async function recordReplyMessages(exchangeId: bigint, messageIds: string[]): Promise<void> {
    if (!messageIds.length) return;
    await db.exchange.update({
      where: { id: exchangeId },
      data: { replyMessageId: messageIds[0], replyMessageIds: messageIds },
    });
  }

  return { respond, recordReplyMessages, claim, answerClaimed, instanceId, leaseMs };
}

export function isUnanswered(status: string): boolean {
  return (UNANSWERED as readonly string[]).includes(status);
}

export type Conversation = ReturnType<typeof createConversation>;
