// `respond`: one user message in, one reply out, personalised with that user's memory and their
// best-rated replies, answered by their own fine-tuned model when they have one.
import type { Database } from "../database/open-database.ts";
import type { Prisma } from "../generated/prisma/client.ts";
import { embeddingSpace, nearestExchanges, storeEmbedding } from "./exchange-embeddings.ts";
import type { Clock, LlmProvider, Logger } from "./ports.ts";
import { ProviderError } from "./ports.ts";
import { buildPrompt, defaultBudget, type PastExchange, type PromptBudget } from "./prompt.ts";
import { defaultRetryPolicy, type RetryPolicy, withRetry } from "./retry.ts";
import { storableText } from "./storable-text.ts";
import { ensureUser, type UserRef } from "./users.ts";

export const MAX_MESSAGE_CHARS = 8_000;

export const messages = {
  empty: "Mention me with a question or a request and I'll answer. (Your message was empty.)",
  tooLong: (n: number) =>
    `That message is ${n.toLocaleString("en")} characters; I can take up to ${MAX_MESSAGE_CHARS.toLocaleString("en")}. Please shorten it or split it into parts.`,
  apology:
    "Sorry, I couldn't reach the language model just now (it is busy or unavailable). Your message is saved; please try again in a minute.",
  chatBudget:
    "Sorry, this bot has reached today's spending limit for answers, set by its admins. It will answer again tomorrow.",
};

export interface RespondInput {
  user: UserRef;
  /** Platform id of the user's message: a replayed event with the same id gets no second reply. */
  messageId: string;
  channelId: string;
  threadId?: string;
  text: string;
}

export type RespondResult =
  | { kind: "reply"; exchangeId?: bigint; text: string; model: string; failed: boolean }
  | { kind: "duplicate" }
  | { kind: "rejected"; reason: "empty" | "too_long" | "chat_budget"; text: string };

/** The chat side of budgets (src/core/budgets.ts); optional so the core runs without limits. */
export interface ChatBudget {
  checkChat(): Promise<{ ok: true } | { ok: false }>;
  recordChat(input: { userId: string; exchangeId: bigint; amountUsd: number }): Promise<void>;
}

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
}

const exchangeSelect = { id: true, userText: true, replyText: true } satisfies Prisma.ExchangeSelect;

export function createConversation(deps: ConversationDeps) {
  const { db, clock, log } = deps;
  const limits = deps.limits ?? { memory: 5, fewShot: 3, recent: 6 };
  const retry = deps.retry ?? defaultRetryPolicy;

  async function embedQuery(text: string): Promise<{ vector: number[]; space: string } | undefined> {
    try {
      const [vector] = await withRetry(
        () =>
          deps.llm.embed({
            model: deps.settings.embeddingModel,
            dimensions: deps.settings.embeddingDimensions,
            inputs: [text],
          }),
        retry,
      );
      if (!vector?.length) return undefined;
      return { vector, space: embeddingSpace(deps.settings.embeddingModel, vector.length) };
    } catch (e) {
      // Memory falls back to recency; the reply still goes out.
      log.warn("embedding failed; using recent exchanges as memory", {
        status: e instanceof ProviderError ? e.status : undefined,
      });
      return undefined;
    }
  }

  /** The model that answers this user: their active fine-tune unless it is retired. */
  async function modelFor(userId: string): Promise<{ model: string; provider: LlmProvider }> {
    const user = await db.user.findUnique({
      where: { id: userId },
      select: {
        activeModelVersion: { select: { modelId: true, provider: true, status: true, shutdownDate: true } },
      },
    });
    const version = user?.activeModelVersion;
    if (
      version &&
      version.status === "available" &&
      (!version.shutdownDate || version.shutdownDate > clock.now())
    ) {
      const provider = deps.llmForTuned?.(version.provider) ?? deps.llm;
      return { model: version.modelId, provider };
    }
    return { model: deps.settings.chatModel, provider: deps.llm };
  }

  async function personalContext(
    userId: string,
    exchangeId: bigint,
    input: RespondInput,
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

  async function respond(input: RespondInput): Promise<RespondResult> {
    // What cannot be stored (NUL, lone surrogates) becomes U+FFFD here, so the model is asked with
    // exactly the text that is stored and later remembered.
    const text = storableText(input.text).trim();
    if (!text) return { kind: "rejected", reason: "empty", text: messages.empty };
    if (text.length > MAX_MESSAGE_CHARS)
      return { kind: "rejected", reason: "too_long", text: messages.tooLong(text.length) };
    if (deps.chatBudget && !(await deps.chatBudget.checkChat()).ok)
      return { kind: "rejected", reason: "chat_budget", text: messages.chatBudget };

    const user = await ensureUser(db, input.user);
    if (user.optedOut) return respondWithoutMemory(input, text, user.id);

    // The unique (platform, userMessageId) makes a replayed or retried event a no-op.
    const exchangeId = await db.$transaction(async (tx) => {
      const [created] = await tx.exchange.createManyAndReturn({
        data: [
          {
            userId: user.id,
            platform: input.user.platform,
            channelId: input.channelId,
            threadId: input.threadId ?? null,
            userMessageId: input.messageId,
            userText: text,
            createdAt: clock.now(),
          },
        ],
        skipDuplicates: true,
        select: { id: true },
      });
      if (!created) return undefined;
      await tx.user.update({
        where: { id: user.id },
        data: { exchangeCount: { increment: 1 } },
        select: { id: true },
      });
      return created.id;
    });
    if (exchangeId === undefined) return { kind: "duplicate" };

    const query = await embedQuery(text);
    if (query) await storeEmbedding(db, exchangeId, query.vector, query.space);
    const context = await personalContext(user.id, exchangeId, input, query);
    const prompt = buildPrompt(
      { systemPrompt: deps.settings.systemPrompt, message: text, ...context },
      deps.budget ?? defaultBudget,
    );
    const { model, provider } = await modelFor(user.id);
    try {
      const result = await withRetry(() => provider.chat({ model, messages: prompt.messages }), retry);
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
        },
      });
      await deps.chatBudget?.recordChat({ userId: user.id, exchangeId, amountUsd: costUsd });
      log.info("replied", {
        exchangeId,
        model,
        memory: prompt.used.memory,
        fewShot: prompt.used.fewShot,
        promptTokens: result.promptTokens,
      });
      return { kind: "reply", exchangeId, text: result.text, model, failed: false };
    } catch (e) {
      if (!(e instanceof ProviderError)) throw e;
      // Keep the user's message (it is still memory); the reply is an apology they can act on.
      await db.exchange.update({
        where: { id: exchangeId },
        data: { status: "failed", model, error: `provider ${e.status ?? "network"} ${e.code ?? ""}`.trim() },
      });
      log.warn("provider failed; apologised", { exchangeId, model, status: e.status });
      return { kind: "reply", exchangeId, text: messages.apology, model, failed: true };
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
      const result = await withRetry(() => deps.llm.chat({ model, messages: prompt.messages }), retry);
      log.info("replied (opted out, nothing stored)", { userId, channel: input.channelId });
      return { kind: "reply", text: result.text, model, failed: false };
    } catch (e) {
      if (!(e instanceof ProviderError)) throw e;
      return { kind: "reply", text: messages.apology, model, failed: true };
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

  return { respond, recordReplyMessages };
}

export type Conversation = ReturnType<typeof createConversation>;
