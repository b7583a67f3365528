// Wires the core's services together for one configuration and database. Platform adapters get
// `assistant`; the scheduled jobs get the lifecycle; tests build the same thing with emulator URLs.
import type { GoogleGenAIOptions } from "@google/genai";
import type { Config } from "../config.ts";
import type { Database } from "../database/open-database.ts";
import { startScheduler } from "../jobs/scheduler.ts";
import { type Assistant, conversationParts } from "./assistant.ts";
import { createBudgets } from "./budgets.ts";
import { createConversation } from "./conversation.ts";
import { createFineTuneLifecycle } from "./fine-tune/lifecycle.ts";
import { createLimitsCommands } from "./operators.ts";
import type { Clock, FineTuneProvider, LlmProvider, Logger, Notifier } from "./ports.ts";
import { createPrivacyFilter } from "./privacy-filter.ts";
import { createLlmProvider } from "./providers/llm-from-config.ts";
import { createOpenAIFineTuneProvider } from "./providers/openai-fine-tune.ts";
import { createVertexFineTuneProvider } from "./providers/vertex-fine-tune.ts";
import { DEFAULT_RATING_EMOJI } from "./rating-emoji.ts";
import { createRatings } from "./ratings.ts";
import { createStatus } from "./status.ts";

export interface CoreDeps {
  config: Config;
  db: Database;
  log: Logger;
  clock: Clock;
  notifiers: Partial<Record<"discord" | "slack", Notifier>>;
  googleAuthOptions?: GoogleGenAIOptions["googleAuthOptions"];
  /** Decorates the LLM providers (metrics). */
  wrapProvider?: (p: LlmProvider) => LlmProvider;
}

export function createCore(deps: CoreDeps) {
  const { config, db, log, clock } = deps;
  const wrap = deps.wrapProvider ?? ((p: LlmProvider) => p);
  const llm = wrap(
    createLlmProvider(config.llm, config.llm.provider, {
      googleAuthOptions: deps.googleAuthOptions,
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
        createLlmProvider(llmConfig, name, { googleAuthOptions: deps.googleAuthOptions }),
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

  const lifecycle = createFineTuneLifecycle({
    db,
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
  };

  return {
    assistant,
    conversation,
    ratings,
    status,
    budgets,
    lifecycle,
    fineTuneProvider,
    startJobs() {
      return startScheduler({
        db,
        clock,
        log: log.child({ part: "jobs" }),
        jobs: [
          { name: "readiness", schedule: config.fineTune.schedules.readiness, run: lifecycle.readiness },
          { name: "monitor", schedule: config.fineTune.schedules.monitor, run: lifecycle.monitor },
          { name: "retirement", schedule: config.fineTune.schedules.retirement, run: lifecycle.retirement },
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
