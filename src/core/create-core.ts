// Wires the core's services together for one configuration and database. Platform adapters get
// `assistant`; the scheduled jobs get the lifecycle; tests build the same thing with emulator URLs.
import type { GoogleGenAIOptions } from "@google/genai";
import type { Config } from "../config.ts";
import type { Database } from "../database/open-database.ts";
import { startScheduler } from "../jobs/scheduler.ts";
import { type Assistant, conversationParts, forgetButtonId } from "./assistant.ts";
import { createBudgets } from "./budgets.ts";
import { createConversation } from "./conversation.ts";
import { createDataRights, subjectHash } from "./data-rights.ts";
import { createFineTuneLifecycle } from "./fine-tune/lifecycle.ts";
import { createLimitsCommands } from "./operators.ts";
import type { Clock, FineTuneProvider, LlmProvider, Logger, Notifier } from "./ports.ts";
import { createPrivacyFilter } from "./privacy-filter.ts";
import { createLlmProvider } from "./providers/llm-from-config.ts";
import { createOpenAIFineTuneProvider } from "./providers/openai-fine-tune.ts";
import { createVertexFineTuneProvider } from "./providers/vertex-fine-tune.ts";
import { DEFAULT_RATING_EMOJI } from "./rating-emoji.ts";
import { createRatings } from "./ratings.ts";
import { createRecovery } from "./recovery.ts";
import { runRetention } from "./retention.ts";
import { createStatus } from "./status.ts";
import type { UserRef } from "./users.ts";

export interface CoreDeps {
  config: Config;
  db: Database;
  log: Logger;
  clock: Clock;
  notifiers: Partial<Record<"discord" | "slack", Notifier>>;
  googleAuthOptions?: GoogleGenAIOptions["googleAuthOptions"];
  /** Decorates the LLM providers (metrics). */
  wrapProvider?: (p: LlmProvider) => LlmProvider;
  /** Aborted when the bot stops: replies under way are cancelled and answered after the restart. */
  stopping?: AbortSignal;
}

export function createCore(deps: CoreDeps) {
  const { config, db, log, clock } = deps;
  const wrap = deps.wrapProvider ?? ((p: LlmProvider) => p);
  // The SDKs' own timeout is only a backstop: each attempt's AbortSignal (src/core/retry.ts) ends it first.
  const sdkTimeoutMs = config.replies.attemptTimeoutMs + 5_000;
  const llm = wrap(
    createLlmProvider(config.llm, config.llm.provider, {
      googleAuthOptions: deps.googleAuthOptions,
      timeoutMs: sdkTimeoutMs,
    }),
  );
  const budgets = createBudgets({ db, clock });
  const fineTuneProvider = createFineTuneProvider(config, deps.googleAuthOptions);
  // A tuned model is served by the provider that trained it: OpenAI fine-tunes through the OpenAI
  // API, Vertex tunings through Gemini on Vertex, whatever LLM_PROVIDER answers everyone else.
  const tunedProviders = new Map<string, ReturnType<typeof createLlmProvider>>();
  const llmForTuned = (provider: string) => {
    const name = provider === "vertex" ? "gemini" : "openai";
    if (name === config.llm.provider && !(name === "gemini" && !config.llm.gemini.vertex)) return llm;
    if (!tunedProviders.has(name)) {
      const llmConfig =
        name === "gemini" ? { ...config.llm, gemini: { ...config.llm.gemini, vertex: true } } : config.llm;
      tunedProviders.set(
        name,
        createLlmProvider(llmConfig, name, {
          googleAuthOptions: deps.googleAuthOptions,
          timeoutMs: sdkTimeoutMs,
        }),
      );
    }
    return tunedProviders.get(name);
  };
  const conversation = createConversation({
    db,
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
  const status = createStatus({
    db,
    settings: { threshold: config.fineTune.threshold, chatModel: config.llm.chatModel },
  });

  const dataRights = createDataRights({
    db,
    clock,
    log: log.child({ part: "data-rights" }),
    provider: fineTuneProvider,
    minRating: config.fineTune.minRating,
  });
  const lifecycle = createFineTuneLifecycle({
    db,
    deleteQueued: (hash) => dataRights.retryDeletions({ subjectHash: hash }),
    clock,
    log: log.child({ part: "fine-tune" }),
    budgets,
    provider: fineTuneProvider,
    notifiers: deps.notifiers,
    privacy: createPrivacyFilter(),
    settings: {
      baseModel: config.fineTune.baseModel,
      threshold: config.fineTune.threshold,
      minRating: config.fineTune.minRating,
      epochs: config.fineTune.epochs,
      pricePer1MTokens: config.fineTune.pricePer1MTokens,
      minReplyChars: config.fineTune.minReplyChars,
      proposalTtlHours: config.fineTune.proposalTtlHours,
      declineCooldown: config.fineTune.declineCooldown,
      systemPrompt: config.llm.systemPrompt,
      retirementNoticeDays: 30,
    },
  });
  const limits = createLimitsCommands({ budgets, operators: config.operators });
  const forgetButtonFor = (ref: UserRef) => forgetButtonId(subjectHash(ref.externalId));

  const assistant: Assistant = {
    ...conversationParts(conversation, ratings),
    async status(user) {
      const s = await status.status(user);
      return { status: s, text: status.formatStatus(s) };
    },
    train: lifecycle.train,
    models: lifecycle.models,
    rollback: lifecycle.rollback,
    limitsShow: (caller) => limits.show(caller.externalId),
    limitsSet: (caller, args) => limits.set(caller.externalId, args),
    approvalClick: lifecycle.approvalClick,
    memory: dataRights.memory,
    async exportData(user) {
      const result = await dataRights.exportData(user);
      if (!result.file) return { ok: result.ok, text: result.text };
      const notifier = deps.notifiers[user.platform];
      if (!notifier) return { ok: false, text: "I can't send you files on this platform." };
      try {
        await notifier.sendFile(user.externalId, result.text, result.file);
      } catch (e) {
        log.warn("export DM failed", { error: e });
        return { ok: false, text: "I couldn't DM you the file. Please allow DMs from me and try again." };
      }
      return { ok: true, text: "I've sent you a DM with a JSON file of everything I hold about you." };
    },
    async forgetRequest(user) {
      return {
        text:
          "This deletes everything I hold about you: your messages and my replies, ratings, memory, " +
          "training offers and datasets, and the files and models trained for you at the provider " +
          "(where it allows). It cannot be undone. Press the button to confirm.",
        confirmButtonId: forgetButtonFor(user),
      };
    },
    async forgetConfirm({ user, buttonId, eventKey }) {
      if (buttonId !== forgetButtonFor(user))
        return { text: "Only the person who asked to be forgotten can confirm it. Nothing changed." };
      if (eventKey) {
        const fresh = await db.processedEvent.createMany({ data: [{ key: eventKey }], skipDuplicates: true });
        if (fresh.count === 0) return { text: "Already handled." };
      }
      const result = await dataRights.forget(user);
      return { text: result.text, promptText: result.text };
    },
    optOut: dataRights.optOut,
    optIn: dataRights.optIn,
  };

  return {
    assistant,
    conversation,
    recovery,
    ratings,
    status,
    budgets,
    lifecycle,
    dataRights,
    fineTuneProvider,
    startJobs() {
      return startScheduler({
        db,
        log: log.child({ part: "jobs" }),
        jobs: [
          { name: "readiness", schedule: config.fineTune.schedules.readiness, run: lifecycle.readiness },
          { name: "monitor", schedule: config.fineTune.schedules.monitor, run: lifecycle.monitor },
          { name: "retirement", schedule: config.fineTune.schedules.retirement, run: lifecycle.retirement },
          {
            name: "retention",
            schedule: config.retention.schedule,
            run: () =>
              runRetention({
                db,
                clock,
                log: log.child({ part: "retention" }),
                retentionDays: config.retention.days,
                minRating: config.fineTune.minRating,
              }),
          },
          // Provider deletions that failed (a forget's, or a finished training's files) are retried
          // on the monitoring job's schedule.
          {
            name: "deletions",
            schedule: config.fineTune.schedules.monitor,
            run: () => dataRights.retryDeletions(),
          },
        ],
      });
    },
  };
}

function createFineTuneProvider(
  config: Config,
  googleAuthOptions: CoreDeps["googleAuthOptions"],
): FineTuneProvider | undefined {
  const ft = config.fineTune;
  if (ft.provider === "openai")
    return createOpenAIFineTuneProvider({
      apiKey: config.llm.openai.apiKey ?? "",
      baseUrl: config.llm.openai.baseUrl,
    });
  if (ft.provider === "vertex")
    return createVertexFineTuneProvider({
      project: config.llm.gemini.project!,
      location: config.llm.gemini.location,
      bucket: ft.gcs.bucket!,
      baseUrl: config.llm.gemini.baseUrl,
      gcsBaseUrl: ft.gcs.baseUrl,
      // biome-ignore lint/suspicious/noExplicitAny: the genai and google-auth-library option types are the same object.
      googleAuthOptions: googleAuthOptions as any,
    });
  return undefined;
}
