// Wires the core's services together for one configuration and database: a pure factory. Platform
// adapters get `assistant`; the job table (src/jobs/jobs.ts) gets the lifecycle and data rights;
// tests build the same thing with emulator URLs.
import type { Config } from "../config.ts";
import type { Database } from "../database/open-database.ts";
import { type Budgets, createBudgets } from "./budgets.ts";
import { createCommandRouter } from "./commands.ts";
import { createConversation } from "./conversation.ts";
import { createDataRights } from "./data-rights/rights.ts";
import { createReplyPlanner } from "./evaluation/reply-plan.ts";
import { createFineTuneLifecycle } from "./fine-tune/lifecycle.ts";
import { createTrainingConsent, setTrainingOffers } from "./fine-tune/training-consent.ts";
import { claimEvent } from "./idempotency.ts";
import { createMemoryIndex } from "./memory-index.ts";
import { replyNotices } from "./messages.ts";
import { createLimitsCommands } from "./operators.ts";
import { outcome } from "./outcomes.ts";
import type {
  AssistantServices,
  Clock,
  CoreAssistant,
  GoogleCredentials,
  LlmProvider,
  Logger,
  Notifier,
  Platform,
} from "./ports.ts";
import { createPrivacyFilter } from "./privacy-filter.ts";
import { createProviders } from "./providers/from-config.ts";
import { adapterServingFromConfig } from "./providers/open-weights-from-config.ts";
import { DEFAULT_RATING_EMOJI } from "./rating-emoji.ts";
import { createRatings } from "./ratings.ts";
import { createRecovery } from "./recovery.ts";
import { createReplyQueue } from "./reply-queue.ts";
import type { RetryPolicy } from "./retry.ts";
import { createServerConfigCommands, hereSettings } from "./server-config.ts";
import { createServerSettings } from "./server-settings.ts";
import { createStatus } from "./status.ts";

export interface CoreDeps {
  config: Config;
  db: Database;
  log: Logger;
  clock: Clock;
  /**
   * The platforms' notifiers. The composition root builds each platform adapter (and so its
   * notifier) before the core and connects it after, since the platform's events need the core.
   */
  notifiers: Partial<Record<Platform, Notifier>>;
  /** The cost ledger's owner; the composition root builds it first because metrics read it too. */
  budgets?: Budgets;
  /** Vertex AI credentials (tests pass an offline client; production uses ADC). */
  googleAuthOptions?: GoogleCredentials;
  /** Decorates the LLM providers (metrics). */
  wrapProvider?: (p: LlmProvider) => LlmProvider;
  /** Aborted when the bot stops: replies under way are cancelled and answered after the restart. */
  stopping?: AbortSignal;
  /** How provider calls are retried (tests shorten the waits). */
  retry?: RetryPolicy;
  /** How waits between polls are made (a Together adapter becoming READY); tests move emulator clocks. */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Builds the core's services for one configuration and database, and starts nothing: no timers,
 * no connections. The scheduled jobs (src/jobs/jobs.ts) and the platforms are started by the
 * composition root (src/app.ts).
 */
export function createCore(deps: CoreDeps) {
  const { config, db, log, clock } = deps;
  const providers = createProviders(config, {
    db,
    googleAuthOptions: deps.googleAuthOptions,
    // The SDKs' own timeout is only a backstop: each attempt's AbortSignal (src/core/retry.ts) ends it first.
    timeoutMs: config.replies.attemptTimeoutMs + 5_000,
    wrap: deps.wrapProvider,
  });
  const { llm } = providers;
  const fineTuneProvider = providers.fineTune;
  // Open-weights adapters: answered by the adapter server (or Together by name), the base model as
  // fallback (fine-tune/adapters.ts).
  const adapters = adapterServingFromConfig(config, {
    db,
    log: log.child({ part: "adapters" }),
    timeoutMs: config.replies.attemptTimeoutMs + 5_000,
    sleep: deps.sleep,
  });
  const wrap = deps.wrapProvider ?? ((p: LlmProvider) => p);
  const tunedAdapters = adapters && wrap(adapters.tunedChat({ llm, chatModel: config.llm.chatModel }));
  // Open-weights adapters (Together's, or the self-hosted trainer's) are answered by the adapter server.
  const llmForTuned = (provider: string) =>
    (provider === "together" || provider === "self-hosted") && tunedAdapters
      ? tunedAdapters
      : providers.llmForTuned(provider);
  const budgets = deps.budgets ?? createBudgets({ db, clock });
  // Active users' embeddings in this process: searches without a scan of their rows (memory-index.ts).
  const memoryIndex = createMemoryIndex({
    db,
    log: log.child({ part: "memory-index" }),
    maxBytes: config.replies.memoryIndexBytes,
  });
  // Operators' per-server settings, cached in this process (server-settings.ts).
  const serverSettings = createServerSettings({ db, allowedModels: config.serverChatModels });
  const memoryScope = config.replies.memoryScope;
  const conversation = createConversation({
    db,
    // MEMORY_SCOPE=user-server: searches are per server, in the database (conversation.ts).
    ...(memoryScope === "user" ? { memoryIndex } : {}),
    serverSettings,
    memoryScope,
    clock,
    log: log.child({ part: "conversation" }),
    llm,
    llmForTuned,
    chatBudget: budgets,
    settings: {
      systemPrompt: config.llm.systemPrompt,
      chatModel: config.llm.chatModel,
      embeddingModel: config.llm.embeddingModel,
      embeddingDimensions: config.llm.embeddingDimensions,
      priceInputPer1M: config.llm.priceInputPer1M,
      priceOutputPer1M: config.llm.priceOutputPer1M,
      fewShotMinRating: config.fineTune.minRating,
    },
    timeouts: {
      attemptMs: config.replies.attemptTimeoutMs,
      totalMs: config.replies.totalTimeoutMs,
      stillWorkingAfterMs: config.replies.stillWorkingAfterMs,
    },
    stopping: deps.stopping,
    retry: deps.retry,
    threadContextTokens: config.replies.threadContextTokens,
    attachments: {
      ...config.attachments,
      downloadTimeoutMs: Math.min(15_000, config.replies.totalTimeoutMs / 4),
    },
    replyPlan: createReplyPlanner({
      db,
      clock,
      llm,
      llmForTuned,
      chatModel: config.llm.chatModel,
      canaryShare: config.evaluation.canary.share,
      holdout: config.evaluation.holdout,
    }),
  });
  const recovery = createRecovery({
    db,
    clock,
    log: log.child({ part: "recovery" }),
    conversation,
    notifiers: deps.notifiers,
  });
  const ratings = createRatings({
    db,
    clock,
    log: log.child({ part: "ratings" }),
    ratingMap: config.ratingEmoji ?? DEFAULT_RATING_EMOJI,
    minRating: config.fineTune.minRating,
  });
  const consent = createTrainingConsent({
    providerConfigured: config.fineTune.provider !== "none",
    platforms: config.fineTune.platforms,
  });
  const status = createStatus({
    db,
    settings: { threshold: config.fineTune.threshold, chatModel: config.llm.chatModel },
    fineTuneOff: (ref) => consent.offReason(ref.platform),
  });

  const dataRights = createDataRights({
    db,
    clock,
    log: log.child({ part: "data-rights" }),
    budgets,
    provider: fineTuneProvider,
    minRating: config.fineTune.minRating,
    notifiers: deps.notifiers,
    // The adapter server stops serving a person's adapters before the versions naming them go.
    // Their adapters unloaded from the adapter server, their vectors dropped from this process.
    beforeForget: async (userId: string) => {
      memoryIndex.dropUser(userId);
      await adapters?.unloadAll(userId);
    },
    afterOptOut: async (userId: string) => {
      memoryIndex.dropUser(userId);
      await adapters?.unloadAll(userId);
    },
  });
  const lifecycle = createFineTuneLifecycle({
    db,
    deleteQueued: (hash) => dataRights.retryDeletions({ subjectHash: hash }),
    clock,
    log: log.child({ part: "fine-tune" }),
    budgets,
    provider: fineTuneProvider,
    adapters,
    consent,
    ...(deps.sleep ? { quoteOptions: { sleep: deps.sleep } } : {}),
    notifiers: deps.notifiers,
    privacy: createPrivacyFilter(),
    settings: {
      baseModel: config.fineTune.baseModel,
      threshold: config.fineTune.threshold,
      minRating: config.fineTune.minRating,
      epochs: config.fineTune.epochs,
      pricePer1MTokens: config.fineTune.pricePer1MTokens,
      trainer: config.fineTune.trainer,
      minReplyChars: config.fineTune.minReplyChars,
      proposalTtlHours: config.fineTune.proposalTtlHours,
      declineCooldown: config.fineTune.declineCooldown,
      systemPrompt: config.llm.systemPrompt,
      retirementNoticeDays: 30,
      canary: config.evaluation.canary,
    },
  });
  const limits = createLimitsCommands({ budgets, operators: config.operators });
  const serverConfig = createServerConfigCommands({
    settings: serverSettings,
    operators: config.operators,
    allowedModels: config.serverChatModels,
    chatModel: config.llm.chatModel,
  });
  /** A rating of a reply in a trial may decide the trial (cheap: one lookup when it is not). */
  const afterRating = (exchangeId: bigint) =>
    lifecycle
      .afterRating(exchangeId)
      .catch((e: unknown) =>
        log.warn("canary not decided after a rating; the monitoring job will", { error: e }),
      );

  const services = {
    async status(user, place) {
      const [facts, here] = await Promise.all([
        status.status(user),
        place?.serverId
          ? serverSettings.effective({ platform: user.platform, ...place })
          : Promise.resolve(undefined),
      ]);
      const s = place?.serverId
        ? { ...facts, here: hereSettings(user.platform, here, config.llm.chatModel) }
        : facts;
      return { status: s, text: status.formatStatus(s) };
    },
    serverConfig: serverConfig.run,
    train: lifecycle.train,
    trainingOffers: (user, wanted) => setTrainingOffers(db, user, wanted),
    models: lifecycle.models,
    rollback: lifecycle.rollback,
    limitsShow: (caller) => limits.show(caller.externalId),
    limitsSet: (caller, args) => limits.set(caller.externalId, args),
    approvalClick: lifecycle.approvalClick,
    memory: dataRights.memory,
    exportData: dataRights.sendExport,
    forgetRequest: dataRights.forgetRequest,
    forgetConfirm: dataRights.forgetConfirm,
    optOut: dataRights.optOut,
    optIn: dataRights.optIn,
    async rateClick(click) {
      if (!click.messageId) return outcome("rating.not_a_reply");
      const r = await ratings.rateByButton({
        platform: click.user.platform,
        messageId: click.messageId,
        raterExternalId: click.user.externalId,
        rating: click.rating,
        ...(click.eventKey !== undefined ? { eventKey: click.eventKey } : {}),
      });
      if (r.kind === "rated") {
        await afterRating(r.exchangeId);
        // A click that took the button's rating back leaves whatever rating the reactions give.
        return r.rating === click.rating ? outcome("rating.saved", click.rating) : outcome("rating.removed");
      }
      if (r.reason === "duplicate") return outcome("event.duplicate");
      if (r.reason === "not_owner") return outcome("rating.not_asker");
      if (r.reason === "opted_out") return outcome("rating.opted_out");
      return outcome("rating.not_a_reply");
    },
  } satisfies AssistantServices;
  const replyQueue = createReplyQueue({
    concurrency: config.replies.concurrency,
    limit: config.replies.queueLimit,
    stopping: deps.stopping,
  });
  const queueLog = log.child({ part: "reply-queue" });
  const mention: CoreAssistant["mention"] = async (input, options) => {
    // Where the server's operators do not want answers, the bot stays quiet and stores nothing
    // (from the settings cache: no statement of its own on the reply path).
    if (input.serverId) {
      const admitted = await serverSettings.admits(
        { platform: input.user.platform, serverId: input.serverId, channelId: input.channelId },
        input.roleIds,
      );
      if (!admitted.ok) return { kind: "ignored", reason: admitted.reason };
    }
    // The queue runs the work inside offer() when a slot is free: set afterwards, it was queued.
    let offered = false;
    const admission = replyQueue.offer(() => {
      try {
        options?.onAnswering?.({ queued: offered });
      } catch (e) {
        queueLog.warn("the answering hook failed", { error: e });
      }
      return conversation.respond(input, options);
    });
    offered = true;
    if (!admission.admitted) {
      queueLog.warn("reply queue full; answered busy", {
        running: admission.running,
        waiting: admission.waiting,
      });
      const busy = outcome("reply.busy");
      return { kind: "busy", code: busy.code, text: busy.text };
    }
    const result = await admission.result;
    // Stopped before its turn came: nothing was stored, so the restart cannot answer it.
    return result === "stopped"
      ? { kind: "interrupted", text: replyNotices.restartingNothingStored }
      : result;
  };
  const assistant: CoreAssistant = {
    mention,
    recordReplyMessages: conversation.recordReplyMessages,
    async reaction(input) {
      const r = await ratings.react(input);
      if (r.kind === "rated") await afterRating(r.exchangeId);
      return r;
    },
    ...services,
    ...createCommandRouter(services, (key) => claimEvent(db, key)),
  };

  return {
    assistant,
    replyQueue,
    conversation,
    memoryIndex,
    recovery,
    ratings,
    status,
    serverSettings,
    budgets,
    lifecycle,
    dataRights,
    fineTuneProvider,
  };
}

export type Core = ReturnType<typeof createCore>;
