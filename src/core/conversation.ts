// `respond`: one user message in, one reply out, personalised with that user's memory and their
// best-rated replies, answered by their own fine-tuned model when they have one.
import type { Database } from "../database/open-database.ts";
import { Prisma } from "../generated/prisma/client.ts";
import {
  type AttachmentSettings,
  acceptsImages,
  defaultAttachmentSettings,
  embeddingText,
  imagesForModel,
  nothingReadText,
  readAttachments,
  withAttachedText,
} from "./attachments.ts";
import {
  createReplyPlanner,
  type PlanInput,
  type ReplyPlanner,
  recordOf,
  type VersionRow,
} from "./evaluation/reply-plan.ts";
import { embeddingSpace, nearestExchanges, storeAnswer } from "./exchange-embeddings.ts";
import type { MemoryIndex, MemoryStamp } from "./memory-index.ts";
import { attachmentNotices, replyNotices } from "./messages.ts";
import type {
  ChatBudget,
  ChatImage,
  Clock,
  LlmProvider,
  Logger,
  Platform,
  RespondInput,
  RespondOptions,
  RespondResult,
} from "./ports.ts";
import { ProviderError, StreamCutError } from "./ports.ts";
import { buildPrompt, defaultBudget, type PastExchange, type PromptBudget } from "./prompt.ts";
import {
  CancelledError,
  defaultRetryPolicy,
  ProviderTimeoutError,
  type RetryBounds,
  type RetryPolicy,
  withRetry,
} from "./retry.ts";
import { type MemoryScope, placePrompt, type ServerReplySettings, scopeFilter } from "./server-reply.ts";
import { storableText } from "./storable-text.ts";
import { conversationLines, fetchVisibleConversation } from "./thread-context.ts";
import { cachedTokenCount } from "./token-cache.ts";
import { countTokens } from "./tokens.ts";
import { COUNT_NEW_EXCHANGE } from "./user-counters.ts";
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
  /** Tokens of the visible thread in the prompt (THREAD_CONTEXT_TOKENS; default 2000, 0: off). */
  threadContextTokens?: number;
  /** How attached files are read (ATTACHMENT_* settings, VISION_MODELS). */
  attachments?: AttachmentSettings;
  /** Active users' embeddings in this process (memory-index.ts); without it every search is SQL. */
  memoryIndex?: MemoryIndex;
  /** Operators' per-server prompt and model (server-settings.ts, cached); unset: the global ones only. */
  serverSettings?: ServerReplySettings;
  /**
   * MEMORY_SCOPE: `user-server` keeps memory and few-shot to exchanges of the reply's server (DMs
   * their own scope). Those searches then run in the database: the in-process index holds a person's
   * vectors of every server, so it is not used (create-core.ts does not pass it).
   */
  memoryScope?: MemoryScope;
}

/** The user's active model version as the reply's first statement reads it. */
export interface ActiveVersion {
  modelId: string;
  adapterName: string | null;
  provider: string;
  status: string;
  shutdownDate: Date | null;
}

/** What a reply knows about its user from its first statement. */
export interface ReplyUser {
  userId: string;
  stamp: MemoryStamp;
  version: ActiveVersion | null;
  /** What the reply plan needs (exchange count, active and trial versions). */
  plan: PlanInput;
}

/**
 * How long a claim on an exchange holds: longer than any reply can take (the whole reply budget,
 * plus time for the database and the platform), so a claim older than this belongs to a process
 * that died, and may be taken over.
 */
export function claimLeaseMs(timeouts: ReplyTimeouts): number {
  return timeouts.totalMs + 60_000;
}

/** What a reply's prompt carries besides the system prompt and the message. */
type ReplyContext = Pick<
  Parameters<typeof buildPrompt>[0],
  "memory" | "fewShot" | "recent" | "conversation" | "images"
>;

/** Statuses of an exchange nobody finished answering. */
export const UNANSWERED = ["pending", "interrupted"] as const;

export function createConversation(deps: ConversationDeps) {
  const { db, clock, log } = deps;
  const limits = deps.limits ?? { memory: 5, fewShot: 3, recent: 6 };
  const timeouts = deps.timeouts ?? defaultReplyTimeouts;
  const retry: RetryPolicy = { ...(deps.retry ?? defaultRetryPolicy), attemptTimeoutMs: timeouts.attemptMs };
  const instanceId = deps.instanceId ?? crypto.randomUUID();
  const leaseMs = claimLeaseMs(timeouts);
  const attachmentSettings = deps.attachments ?? defaultAttachmentSettings;
  const visibleSettings = {
    maxTokens: deps.threadContextTokens ?? 2_000,
    maxItemChars: (deps.budget ?? defaultBudget).maxItemChars,
  };
  /** The thread as people see it, fetched by `deadline`; [] without one or on failure. */
  const visibleLines = async (input: Pick<RespondInput, "visibleConversation">, deadline: number) =>
    conversationLines(
      await fetchVisibleConversation(input.visibleConversation, visibleSettings, deadline, log),
      visibleSettings,
    );
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

  /** The user's row for a reply that did not start with `claimMessage` (recovery, a takeover). */
  async function readUser(userId: string): Promise<ReplyUser> {
    const [row] = await db.$queryRaw<Array<UserRow>>`
      SELECT u."id"::text AS "userId", u."optedOut", u."memoryVersion", u."memoryEpoch", NULL::bigint AS "exchangeId",
             u."exchangeCount", ${VERSION_COLUMNS}
      FROM "User" u LEFT JOIN "ModelVersion" m ON m."id" = u."activeModelVersionId" ${CANDIDATE_JOIN}
      WHERE u."id" = ${userId}::uuid`;
    return replyUser(row ?? { userId, memoryVersion: 0n, memoryEpoch: 0, modelId: null, exchangeCount: 0 });
  }

  /**
   * Memory, few-shot examples and the recent conversation. From the user's in-process vectors when
   * they are loaded: the searches run here and one statement reads the recent exchanges and the
   * texts of the candidates. Otherwise (not loaded yet, no embedding, no index) in the database.
   */
  async function personalContext(
    user: ReplyUser,
    exchangeId: bigint,
    input: { channelId: string; threadId?: string; serverId?: string | null },
    query: { vector: number[]; space: string } | undefined,
  ): Promise<ReplyContext> {
    const searcher =
      query && deps.memoryIndex && deps.memoryScope !== "user-server"
        ? await deps.memoryIndex.lookup(user.userId, query.space, query.vector.length, user.stamp)
        : undefined;
    // MEMORY_SCOPE=user-server searches in the database: the index's searches span every server.
    if (!searcher || !query) return personalContextInDatabase(user.userId, exchangeId, input, query);
    const minRating = deps.settings.fewShotMinRating;
    // The recent exchanges (at most limits.recent) are left out of both: ask for that many more.
    const [memoryFound = [], fewShotFound = []] = searcher.search(query.vector, [
      { limit: limits.memory ? limits.memory + limits.recent : 0 },
      { limit: limits.fewShot ? limits.fewShot + limits.recent : 0, minRating },
    ]);
    const candidates = [...new Set([...memoryFound, ...fewShotFound].map((n) => n.id))];
    const thread = input.threadId ? Prisma.sql`= ${input.threadId}` : Prisma.sql`IS NULL`;
    // The candidates by primary key first (MATERIALIZED), then checked to be this person's: left to
    // itself, the embedded database (never analysed) also scanned the person's whole index to AND it
    // with the ids, 0.4 ms at 10k exchanges.
    const rows = await db.$queryRaw<
      Array<{ id: bigint; userText: string; replyText: string; textTokens: number | null; recent: boolean }>
    >`
      WITH c AS MATERIALIZED (
        SELECT "id", "userId", "userText", "replyText", "textTokens" FROM "Exchange" WHERE "id" = ANY(${candidates}::bigint[]))
      (SELECT "id", "userText", "replyText", "textTokens", TRUE AS recent FROM "Exchange"
       WHERE "userId" = ${user.userId}::uuid AND "status" = 'answered' AND "replyText" IS NOT NULL
         AND "channelId" = ${input.channelId} AND "threadId" ${thread} AND "id" <> ${exchangeId}
       ORDER BY ${RECENT_ORDER} LIMIT ${limits.recent}::int)
      UNION ALL
      (SELECT "id", "userText", "replyText", "textTokens", FALSE AS recent FROM c WHERE "userId" = ${user.userId}::uuid)`;
    const recentRows = rows.filter((r) => r.recent);
    const byId = new Map(rows.filter((r) => !r.recent).map((r) => [BigInt(r.id), r]));
    const excluded = new Set([exchangeId, ...recentRows.map((r) => BigInt(r.id))]);
    let memoryIds = memoryFound
      .map((n) => n.id)
      .filter((id) => !excluded.has(id))
      .slice(0, limits.memory);
    const fewShotIds = fewShotFound
      .map((n) => n.id)
      .filter((id) => !excluded.has(id))
      .slice(0, limits.fewShot);
    if (fewShotIds.length < limits.fewShot) {
      // Not enough rated neighbours: the most recently rated fill up, as in the database path.
      const more = await recentlyRated(
        user.userId,
        [...excluded, ...fewShotIds],
        limits.fewShot - fewShotIds.length,
      );
      for (const r of more) byId.set(r.id, { ...r, replyText: r.replyText ?? "", recent: false });
      fewShotIds.push(...more.map((r) => r.id));
    }
    memoryIds = memoryIds.filter((id) => !fewShotIds.includes(id));
    return {
      memory: pickTexts(byId, memoryIds),
      fewShot: pickTexts(byId, fewShotIds),
      recent: recentRows
        .reverse()
        .map((r) => ({ userText: r.userText, replyText: r.replyText, tokens: r.textTokens })),
    };
  }

  /**
   * The user's most recently rated exchanges at or over the few-shot rating, with their texts. Raw:
   * it runs on most replies of anyone with fewer than `limits.fewShot` good ratings, and Prisma's
   * query compiler cost more than the statement.
   */
  async function recentlyRated(userId: string, exclude: bigint[], take: number) {
    const rows = await db.$queryRaw<Array<TextRow>>`
      SELECT "id", "userText", "replyText", "textTokens" FROM "Exchange"
      WHERE "userId" = ${userId}::uuid AND "status" = 'answered' AND "replyText" IS NOT NULL
        AND "rating" >= ${deps.settings.fewShotMinRating}::int AND NOT ("id" = ANY(${exclude}::bigint[]))
      ORDER BY "ratedAt" DESC, "createdAt" DESC LIMIT ${take}::int`;
    return rows.map((r) => ({ ...r, id: BigInt(r.id) }));
  }

  /** The recent exchanges of this channel or thread (newest first), raw for the reason above. */
  async function recentExchanges(
    userId: string,
    exchangeId: bigint,
    input: { channelId: string; threadId?: string },
  ) {
    const thread = input.threadId ? Prisma.sql`= ${input.threadId}` : Prisma.sql`IS NULL`;
    const rows = await db.$queryRaw<Array<TextRow>>`
      SELECT "id", "userText", "replyText", "textTokens" FROM "Exchange"
      WHERE "userId" = ${userId}::uuid AND "status" = 'answered' AND "replyText" IS NOT NULL
        AND "channelId" = ${input.channelId} AND "threadId" ${thread} AND "id" <> ${exchangeId}
      ORDER BY ${RECENT_ORDER} LIMIT ${limits.recent}::int`;
    return rows.map((r) => ({ ...r, id: BigInt(r.id) }));
  }

  async function personalContextInDatabase(
    userId: string,
    exchangeId: bigint,
    input: { channelId: string; threadId?: string; serverId?: string | null },
    query: { vector: number[]; space: string } | undefined,
  ) {
    // MEMORY_SCOPE=user-server: only this server's exchanges (or only DMs' for a DM).
    const scope = scopeFilter(deps.memoryScope, input.serverId);
    const answered = {
      userId,
      status: "answered",
      replyText: { not: null },
      ...(scope ?? {}),
    } satisfies Prisma.ExchangeWhereInput;
    const recentRows = await recentExchanges(userId, exchangeId, input);
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
          ...(scope ? { serverId: scope.serverId } : {}),
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
          ...(scope ? { serverId: scope.serverId } : {}),
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
    const filled: Array<TextRow> = [];
    if (fewShotIds.length < limits.fewShot) {
      filled.push(
        ...(await recentlyRated(userId, [...exclude, ...fewShotIds], limits.fewShot - fewShotIds.length)),
      );
      fewShotIds.push(...filled.map((r) => r.id));
    }
    // An exchange used as an example need not also be in the memory block.
    memoryIds = memoryIds.filter((id) => !fewShotIds.includes(id));
    const wanted = [...memoryIds, ...fewShotIds].filter((id) => !filled.some((r) => r.id === id));
    const rows = wanted.length
      ? await db.$queryRaw<Array<TextRow>>`
          WITH c AS MATERIALIZED (
            SELECT "id", "userId", "userText", "replyText", "textTokens" FROM "Exchange" WHERE "id" = ANY(${wanted}::bigint[]))
          SELECT "id", "userText", "replyText", "textTokens" FROM c WHERE "userId" = ${userId}::uuid`
      : [];
    const byId = new Map([...rows, ...filled].map((r) => [BigInt(r.id), r]));
    return {
      memory: pickTexts(byId, memoryIds),
      fewShot: pickTexts(byId, fewShotIds),
      recent: recentRows
        .reverse()
        .flatMap((r) =>
          r.replyText ? [{ userText: r.userText, replyText: r.replyText, tokens: r.textTokens }] : [],
        ),
    };
  }

  /**
   * The images were read for CHAT_MODEL; the model that answered (a server's, or an adapter) may be
   * blind, and then was sent the text only (imagesForModel): say so, as readAttachments does when
   * CHAT_MODEL is.
   */
  function noteUnseen(images: ChatImage[] | undefined, model: string, text: string): string {
    if (!images?.length || acceptsImages(model, attachmentSettings.visionModels)) return text;
    return attachmentNotices.withNotes([attachmentNotices.noVision(model)], text);
  }

  async function respond(input: RespondInput, options: RespondOptions = {}): Promise<RespondResult> {
    // What cannot be stored (NUL, lone surrogates) becomes U+FFFD here, so the model is asked with
    // exactly the text that is stored and later remembered.
    const typed = storableText(input.text).trim();
    if (!typed && !input.attachments?.length)
      return { kind: "rejected", reason: "empty", text: replyNotices.empty };
    if (typed.length > MAX_MESSAGE_CHARS)
      return {
        kind: "rejected",
        reason: "too_long",
        text: replyNotices.tooLong(typed.length, MAX_MESSAGE_CHARS),
      };
    if (deps.chatBudget && !(await deps.chatBudget.checkChat()).ok)
      return { kind: "rejected", reason: "chat_budget", text: replyNotices.chatBudget };
    // Attached files become part of the message that is stored (attachments.ts); notes on the
    // files that were not read go before the answer.
    const files = input.attachments?.length
      ? await readAttachments(input.attachments, attachmentSettings, deps.settings.chatModel, log)
      : undefined;
    if (files && !typed && !files.readSome)
      return { kind: "rejected", reason: "empty", text: nothingReadText(files, deps.settings.chatModel) };
    const text = withAttachedText(typed, files);
    const attached = files && {
      images: files.images,
      // Embedding models take a few thousand tokens: the start of a long message stands for it.
      embedText: embeddingText(text),
    };
    const noted = (r: RespondResult): RespondResult =>
      files?.notes.length && r.kind === "reply"
        ? { ...r, text: attachmentNotices.withNotes(files.notes, r.text) }
        : r;

    let claimed = await claimMessage(input, text);
    if (!claimed) {
      // First contact: create the person, then the same statement again.
      await ensureUser(db, input.user);
      claimed = await claimMessage(input, text);
      if (!claimed) throw new Error("the user row vanished while their first message was stored");
    }
    if (claimed.optedOut) {
      deps.memoryIndex?.dropUser(claimed.user.userId);
      return withStillWorking(options, () =>
        respondWithoutMemory(input, text, claimed.user.userId, attached?.images, options.onText).then(noted),
      );
    }
    const exchangeId = claimed.exchangeId ?? (await takeOver(claimed.user.userId, input));
    if (exchangeId === undefined) return { kind: "duplicate" };
    const user = claimed.exchangeId === undefined ? await readUser(claimed.user.userId) : claimed.user;
    return withStillWorking(options, () =>
      answerClaimed({
        exchangeId,
        userId: user.userId,
        text,
        channelId: input.channelId,
        threadId: input.threadId,
        platform: input.user.platform,
        serverId: input.serverId ?? null,
        user,
        onText: options.onText,
        visibleConversation: input.visibleConversation,
        ...attached,
      }).then(noted),
    );
  }

  /**
   * One statement: the person's row (with their active model and memory stamp), their new exchange
   * claimed by this process (unless they opted out, or the message is already stored), and its count.
   * Undefined: no such person yet.
   */
  async function claimMessage(
    input: RespondInput,
    text: string,
  ): Promise<{ user: ReplyUser; optedOut: boolean; exchangeId?: bigint } | undefined> {
    const now = clock.now().toISOString();
    const [row] = await db.$queryRaw<Array<UserRow>>`
      WITH u AS (
        SELECT "id", "optedOut", "activeModelVersionId", "memoryVersion", "memoryEpoch", "exchangeCount" FROM "User"
        WHERE "externalId" = ${input.user.externalId}),
      e AS (
        INSERT INTO "Exchange" ("userId", "platform", "serverId", "channelId", "threadId", "userMessageId", "userText",
                                "createdAt", "claimedBy", "claimedAt")
        SELECT u."id", ${input.user.platform}, ${input.serverId ?? null}, ${input.channelId}, ${input.threadId ?? null}, ${input.messageId},
               ${text}, (${now}::timestamptz AT TIME ZONE 'UTC'), ${instanceId}, (${now}::timestamptz AT TIME ZONE 'UTC')
        FROM u WHERE NOT u."optedOut"
        ON CONFLICT ("platform", "userMessageId") DO NOTHING
        RETURNING "id", "userId"),
      counted AS (
        UPDATE "User" SET ${COUNT_NEW_EXCHANGE}, "updatedAt" = now() FROM e WHERE "User"."id" = e."userId"
        RETURNING "User"."id")
      SELECT u."id"::text AS "userId", u."optedOut", u."memoryVersion", u."memoryEpoch",
             (SELECT e."id" FROM e JOIN counted c ON c."id" = e."userId") AS "exchangeId",
             u."exchangeCount" + (SELECT count(*) FROM counted)::int AS "exchangeCount", ${VERSION_COLUMNS}
      FROM u LEFT JOIN "ModelVersion" m ON m."id" = u."activeModelVersionId" ${CANDIDATE_JOIN}`;
    if (!row) return undefined;
    return {
      user: replyUser(row),
      optedOut: row.optedOut === true,
      ...(row.exchangeId !== null && row.exchangeId !== undefined
        ? { exchangeId: BigInt(row.exchangeId) }
        : {}),
    };
  }

  /**
   * The message is already stored: it is answered again only if nobody answered it (a stop
   * interrupted the reply, or the process working on it died). Undefined: someone else has it, or it
   * was answered.
   */
  async function takeOver(userId: string, input: RespondInput) {
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
    /** Where it was written, for the server's settings and MEMORY_SCOPE (null: a DM). */
    platform?: Platform;
    serverId?: string | null;
    /** The user's row as the reply's first statement read it (read here when absent). */
    user?: ReplyUser;
    /** Streams the answer to the platform as it is written (RespondOptions.onText). */
    onText?: (textSoFar: string) => void;
    /** The thread as people see it (RespondInput.visibleConversation); a recovered reply has none. */
    visibleConversation?: RespondInput["visibleConversation"];
    /** Attached images (attachments.ts); a recovered reply has none (their bytes are not stored). */
    images?: ChatImage[];
    /** What is embedded for memory, when not `text` (a message with long files). */
    embedText?: string;
  }): Promise<RespondResult> {
    const { exchangeId } = x;
    // The whole reply's budget starts now: the embedding, retries and waits all come out of it.
    const started = Date.now();
    const deadline = started + timeouts.totalMs;
    let model = deps.settings.chatModel;
    try {
      const user = x.user ?? (await readUser(x.userId));
      // The server's (or channel's) prompt and model, from the settings cache.
      const here =
        x.platform && x.serverId
          ? await deps.serverSettings?.effective({
              platform: x.platform,
              serverId: x.serverId,
              channelId: x.channelId,
            })
          : undefined;
      // Evaluation hook: the model (a trial's arm) and whether this reply is in the holdout, from
      // the figures the first statement read.
      const plan = await planner.plan(x.userId, exchangeId, user.plan);
      // Memory is optional: the embedding may use a quarter of the budget, then memory is recency.
      // The visible thread is fetched meanwhile, within the same quarter (thread-context.ts).
      const quarter = Math.min(deadline, started + timeouts.totalMs / 4);
      const conversation = visibleLines(x, quarter);
      const query = await embedQuery(x.embedText ?? x.text, quarter);
      const context = await personalContext(
        user,
        exchangeId,
        { channelId: x.channelId, threadId: x.threadId ?? undefined, serverId: x.serverId ?? null },
        query,
      );
      // The holdout is answered without memory and few-shot (the channel's recent turns stay).
      if (plan.holdout) Object.assign(context, { memory: [], fewShot: [] });
      // The visible thread, fetched meanwhile, and the attached images go with the message.
      context.conversation = await conversation;
      context.images = x.images;
      const prompt = buildPrompt(
        { systemPrompt: placePrompt(deps.settings.systemPrompt, here), message: x.text, ...context },
        deps.budget ?? defaultBudget,
      );
      // The server's model answers base-model replies; a person's own model (or trial) still wins.
      model = !plan.versionId && here?.chatModel ? here.chatModel : plan.model;
      const result = await withRetry(
        // A model that cannot see (an open-weights adapter) gets the text of the message only.
        (signal) =>
          plan.provider.chat({
            model,
            messages: imagesForModel(prompt.messages, model, attachmentSettings.visionModels),
            signal,
            ...preview(x.onText, signal),
          }),
        retry,
        bounds(deadline),
      );
      // The tuned model was not served and the base model stood in (fine-tune/adapters.ts).
      if (result.answeredBy) model = result.answeredBy;
      const costUsd =
        (result.promptTokens * deps.settings.priceInputPer1M +
          result.completionTokens * deps.settings.priceOutputPer1M) /
        1_000_000;
      const answeredAt = clock.now();
      const version = await storeAnswer(db, {
        exchangeId,
        userId: x.userId,
        replyText: result.text,
        model,
        promptTokens: result.promptTokens,
        completionTokens: result.completionTokens,
        costUsd: costUsd.toFixed(6),
        answeredAt,
        // Counted once here for every later prompt that remembers this exchange (prompt.ts); the
        // message was just counted for this one.
        textTokens: cachedTokenCount(x.text) + countTokens(result.text),
        ...(query ? { embedding: query } : {}),
        record: recordOf(plan, prompt.used, result.answeredBy),
        // The cost in the same statement: one write less per reply, and never an answer unbooked.
        ...(deps.chatBudget
          ? {
              ledger: deps.chatBudget.chatLedgerRow({
                userId: x.userId,
                exchangeId,
                amountUsd: costUsd,
                at: answeredAt,
              }),
            }
          : {}),
      });
      if (query)
        deps.memoryIndex?.written(x.userId, query.space, version, {
          id: exchangeId,
          rating: null,
          vector: Float32Array.from(query.vector),
        });
      log.info("replied", {
        exchangeId,
        model,
        memory: prompt.used.memory,
        fewShot: prompt.used.fewShot,
        conversation: prompt.used.conversation,
        promptTokens: result.promptTokens,
        ms: Date.now() - started,
      });
      return {
        kind: "reply",
        exchangeId,
        text: noteUnseen(x.images, model, result.text),
        model,
        failed: false,
      };
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
            : `${e instanceof StreamCutError ? "stream cut: " : ""}provider ${e.status ?? "network"} ${e.code ?? ""}`.trim(),
        },
      });
      log.warn(timedOut ? "provider timed out; apologised" : "provider failed; apologised", {
        exchangeId,
        model,
        status: e.status,
        ...(e instanceof StreamCutError ? { streamCutAfterChars: e.partialText.length } : {}),
        ms: Date.now() - started,
      });
      const text = timedOut
        ? replyNotices.timeout(Math.round(timeouts.totalMs / 1000))
        : replyNotices.apology;
      return { kind: "reply", exchangeId, text, model, failed: true };
    }
  }

  /**
   * The provider's `onText` for one attempt: nothing after the attempt was abandoned (a retry is
   * under way), and a renderer that throws is logged, never taken for a broken stream.
   */
  function preview(onText: ((textSoFar: string) => void) | undefined, signal: AbortSignal) {
    if (!onText) return {};
    return {
      onText: (textSoFar: string) => {
        if (signal.aborted) return;
        try {
          onText(textSoFar);
        } catch (e) {
          log.warn("showing the answer so far failed", { error: e });
        }
      },
    };
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
    images: ChatImage[] = [],
    onText?: (textSoFar: string) => void,
  ): Promise<RespondResult> {
    const here = input.serverId
      ? await deps.serverSettings?.effective({
          platform: input.user.platform,
          serverId: input.serverId,
          channelId: input.channelId,
        })
      : undefined;
    const prompt = buildPrompt(
      {
        systemPrompt: placePrompt(deps.settings.systemPrompt, here),
        message: text,
        memory: [],
        fewShot: [],
        recent: [],
        // The visible thread is not theirs to opt out of: it is shown, as to anyone, and not stored.
        conversation: await visibleLines(input, Date.now() + timeouts.totalMs / 4),
        images,
      },
      deps.budget ?? defaultBudget,
    );
    const model = here?.chatModel ?? deps.settings.chatModel;
    try {
      const result = await withRetry(
        (signal) =>
          deps.llm.chat({
            model,
            messages: imagesForModel(prompt.messages, model, attachmentSettings.visionModels),
            signal,
            ...preview(onText, signal),
          }),
        retry,
        bounds(Date.now() + timeouts.totalMs),
      );
      log.info("replied (opted out, nothing stored)", { userId, channel: input.channelId });
      return { kind: "reply", text: noteUnseen(images, model, result.text), model, failed: false };
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
    // Raw: Prisma's query compiler cost more than the statement itself, once per reply.
    await db.$executeRaw`
      UPDATE "Exchange" SET "replyMessageId" = ${messageIds[0]}, "replyMessageIds" = ${messageIds}::text[]
      WHERE "id" = ${exchangeId}`;
  }

  return { respond, recordReplyMessages, claim, answerClaimed, instanceId, leaseMs };
}

/** An exchange's texts as the reply's statements read them (textTokens: null before it was kept). */
interface TextRow {
  id: bigint;
  userText: string;
  replyText: string | null;
  textTokens: number | null;
}

/** The texts of the exchanges `ids`, in that order (those without a reply left out). */
function pickTexts(byId: Map<bigint, Omit<TextRow, "id">>, ids: bigint[]): PastExchange[] {
  return ids.flatMap((id) => {
    const r = byId.get(id);
    return r?.replyText ? [{ userText: r.userText, replyText: r.replyText, tokens: r.textTokens }] : [];
  });
}

/**
 * The recent turns' order. "threadId" first changes nothing (the statement asks for one thread, or
 * for none), but it lets the index (userId, channelId, threadId, createdAt DESC) deliver the rows in
 * order: Postgres does not treat "threadId" IS NULL as fixing that column, and otherwise read every
 * exchange of the person in the channel and sorted them (3 ms at 10k exchanges, more as it grows).
 */
const RECENT_ORDER = Prisma.sql`"threadId", "createdAt" DESC`;

/**
 * The active version's and a trial version's columns, for the reply plan (evaluation/reply-plan.ts):
 * read in the reply's first statement, so the plan needs no lookup of its own.
 */

const VERSION_COLUMNS = Prisma.sql`m."id"::text AS "versionId", m."modelId", m."adapterName", m."provider", m."status", m."shutdownDate",
  c."id"::text AS "cId", c."modelId" AS "cModelId", c."adapterName" AS "cAdapterName", c."provider" AS "cProvider",
  c."status" AS "cStatus", c."shutdownDate" AS "cShutdownDate"`;
const CANDIDATE_JOIN = Prisma.sql`LEFT JOIN LATERAL (
  SELECT * FROM "ModelVersion" WHERE "userId" = u."id" AND "canaryState" = 'running' LIMIT 1) c ON true`;

/** A row of the reply's first statement (or of `readUser`). */
interface UserRow {
  userId: string;
  optedOut?: boolean;
  memoryVersion: bigint;
  memoryEpoch: number;
  exchangeId?: bigint | null;
  exchangeCount: number | bigint;
  versionId?: string | null;
  modelId: string | null;
  adapterName?: string | null;
  provider?: string | null;
  status?: string | null;
  shutdownDate?: Date | null;
  cId?: string | null;
  cModelId?: string | null;
  cAdapterName?: string | null;
  cProvider?: string | null;
  cStatus?: string | null;
  cShutdownDate?: Date | null;
}

function versionRow(
  id: string | null | undefined,
  modelId: string | null | undefined,
  adapterName: string | null | undefined,
  provider: string | null | undefined,
  status: string | null | undefined,
  shutdownDate: Date | null | undefined,
): VersionRow | null {
  if (!id || !modelId) return null;
  return {
    id,
    modelId,
    adapterName: adapterName ?? null,
    provider: provider ?? "",
    status: status ?? "",
    shutdownDate: shutdownDate ? new Date(shutdownDate) : null,
  };
}

function replyUser(row: UserRow): ReplyUser {
  const active = versionRow(
    row.versionId,
    row.modelId,
    row.adapterName,
    row.provider,
    row.status,
    row.shutdownDate,
  );
  return {
    userId: row.userId,
    stamp: { version: BigInt(row.memoryVersion), epoch: Number(row.memoryEpoch) },
    version: active,
    plan: {
      exchangeCount: Number(row.exchangeCount),
      active,
      candidate: versionRow(
        row.cId,
        row.cModelId,
        row.cAdapterName,
        row.cProvider,
        row.cStatus,
        row.cShutdownDate,
      ),
    },
  };
}

export function isUnanswered(status: string): boolean {
  return (UNANSWERED as readonly string[]).includes(status);
}

export type Conversation = ReturnType<typeof createConversation>;
