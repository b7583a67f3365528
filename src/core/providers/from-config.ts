// Which providers the configuration asks for, built in one place: the chat/embedding provider,
// the providers that serve tuned models, and the fine-tuning provider. The bot (create-core.ts),
// the operators' tool (scripts/admin.ts) and the tests all build them here, so a setting such as
// the Vertex credentials cannot reach one of them and miss another.
import type { Config } from "../../config.ts";
import type { Database } from "../../database/open-database.ts";
import type { FineTuneProvider, GoogleCredentials, LlmProvider } from "../ports.ts";
import { createGeminiProvider, type GeminiProviderOptions } from "./gemini-llm.ts";
import { togetherFineTuneFromConfig } from "./open-weights-from-config.ts";
import { createOpenAIFineTuneProvider } from "./openai-fine-tune.ts";
import { createOpenAIProvider } from "./openai-llm.ts";
import { createSelfHostedFineTuneProvider } from "./self-hosted-fine-tune.ts";
import { createVertexFineTuneProvider } from "./vertex-fine-tune.ts";

export interface ProviderOptions {
  /** Vertex AI credentials (google-auth-library options); unset means Application Default Credentials. */
  googleAuthOptions?: GoogleCredentials;
  /** The SDKs' own per-request timeout. */
  timeoutMs?: number;
}

/** The chat/embedding provider `name` (by default LLM_PROVIDER) as configured. */
export function createLlmProvider(
  llm: Config["llm"],
  name: "openai" | "gemini" = llm.provider,
  options: ProviderOptions = {},
): LlmProvider {
  if (name === "gemini")
    return createGeminiProvider({
      ...llm.gemini,
      timeoutMs: options.timeoutMs,
      // Opaque to the core (ports.ts); this is google-auth-library's options object, as given.
      googleAuthOptions: options.googleAuthOptions as GeminiProviderOptions["googleAuthOptions"],
    });
  // Validated by config: an OpenAI key is present whenever OpenAI is used.
  return createOpenAIProvider({
    apiKey: llm.openai.apiKey ?? "",
    baseUrl: llm.openai.baseUrl,
    timeoutMs: options.timeoutMs,
  });
}

/**
 * The fine-tuning provider FINETUNE_PROVIDER names; undefined for "none". `db` is the bot's
 * database, which holds the self-hosted trainer's queue.
 */
export function createFineTuneProvider(
  config: Config,
  options: Pick<ProviderOptions, "googleAuthOptions"> & { db?: Database } = {},
): FineTuneProvider | undefined {
  const ft = config.fineTune;
  if (ft.provider === "together") return togetherFineTuneFromConfig(config);
  if (ft.provider === "self-hosted") {
    if (!options.db) throw new Error("FINETUNE_PROVIDER=self-hosted needs the database (its job queue)");
    return createSelfHostedFineTuneProvider({
      db: options.db,
      loraRank: ft.lora.rank,
      loraAlpha: ft.lora.alpha,
      gpuUsdPerHour: ft.trainer.gpuUsdPerHour,
      claimTimeoutHours: ft.trainer.claimTimeoutHours,
      adapterDir: ft.loraServer?.adapterDir,
    });
  }
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
      googleAuthOptions: options.googleAuthOptions as any,
    });
  return undefined;
}

export interface Providers {
  /** Answers everyone (LLM_PROVIDER). */
  llm: LlmProvider;
  /** The provider that serves a model tuned by fine-tuning provider `provider`. */
  llmForTuned(provider: string): LlmProvider | undefined;
  /** Undefined when FINETUNE_PROVIDER=none. */
  fineTune?: FineTuneProvider;
}

/** Every provider the bot uses, for one configuration. `wrap` decorates the LLM providers (metrics). */
export function createProviders(
  config: Config,
  options: ProviderOptions & { wrap?: (p: LlmProvider) => LlmProvider; db?: Database } = {},
): Providers {
  const wrap = options.wrap ?? ((p: LlmProvider) => p);
  const llmOptions = { googleAuthOptions: options.googleAuthOptions, timeoutMs: options.timeoutMs };
  const llm = wrap(createLlmProvider(config.llm, config.llm.provider, llmOptions));
  // A tuned model is served by the provider that trained it: OpenAI fine-tunes through the OpenAI
  // API, Vertex tunings through Gemini on Vertex, whatever LLM_PROVIDER answers everyone else.
  const tuned = new Map<string, LlmProvider>();
  const llmForTuned = (provider: string) => {
    const name = provider === "vertex" ? "gemini" : "openai";
    if (name === config.llm.provider && !(name === "gemini" && !config.llm.gemini.vertex)) return llm;
    if (!tuned.has(name)) {
      const llmConfig =
        name === "gemini" ? { ...config.llm, gemini: { ...config.llm.gemini, vertex: true } } : config.llm;
      tuned.set(name, createLlmProvider(llmConfig, name, llmOptions));
    }
    return tuned.get(name);
  };
  return {
    llm,
    llmForTuned,
    fineTune: createFineTuneProvider(config, {
      googleAuthOptions: options.googleAuthOptions,
      db: options.db,
    }),
  };
}
