// Builds the open-weights route from the configuration: LoRA fine-tuning on Together AI, and the
// adapter server that answers with each person's adapter (a self-hosted vLLM, a Together dedicated
// deployment, or, with neither, Together's chat API by the tuned model's name).
import type { Config } from "../../config.ts";
import type { Database } from "../../database/open-database.ts";
import { createAdapterServing } from "../fine-tune/adapters.ts";
import type { AdapterServer, FineTuneProvider, Logger } from "../ports.ts";
import { createOpenAIProvider } from "./openai-llm.ts";
import { createTogetherAdapterHost, isTogetherNotLoadedError } from "./together-adapter-host.ts";
import { createTogetherFineTuneProvider } from "./together-fine-tune.ts";
import { createVllmLoraServer } from "./vllm-lora-server.ts";

/** FINETUNE_PROVIDER=together. */
export function togetherFineTuneFromConfig(config: Config): FineTuneProvider {
  const ft = config.fineTune;
  return createTogetherFineTuneProvider({
    apiKey: ft.together.apiKey ?? "",
    baseUrl: ft.together.baseUrl,
    loraRank: ft.lora.rank,
    loraAlpha: ft.lora.alpha,
  });
}

/** The adapter server the configuration names (LORA_SERVER_URL or TOGETHER_ADAPTER_DEPLOYMENT), if any. */
export function adapterServerFromConfig(
  config: Config,
  options: { sleep?: (ms: number) => Promise<void> } = {},
): AdapterServer | undefined {
  const ft = config.fineTune;
  if (ft.loraServer)
    return createVllmLoraServer({ baseUrl: ft.loraServer.url, apiKey: ft.loraServer.apiKey });
  if (ft.together.deployment)
    return createTogetherAdapterHost({
      apiKey: ft.together.apiKey ?? "",
      // The v2 management API sits next to v1: https://api.together.ai/v2.
      baseUrl: ft.together.baseUrl.replace(/\/v1$/, "/v2"),
      ...ft.together.deployment,
      ...(options.sleep ? { sleep: options.sleep } : {}),
    });
  return undefined;
}

export function adapterServingFromConfig(
  config: Config,
  deps: { db: Database; log: Logger; timeoutMs?: number; sleep?: (ms: number) => Promise<void> },
) {
  const ft = config.fineTune;
  // Nothing to answer tuned open-weights models with: none are served (nor trained) here.
  if (!ft.loraServer && !ft.together.apiKey) return undefined;
  const server = adapterServerFromConfig(config, { sleep: deps.sleep });
  const chat = ft.loraServer
    ? createOpenAIProvider({
        apiKey: ft.loraServer.apiKey ?? "none",
        baseUrl: ft.loraServer.url,
        timeoutMs: deps.timeoutMs,
      })
    : createOpenAIProvider({
        apiKey: ft.together.apiKey ?? "",
        baseUrl: ft.together.baseUrl,
        timeoutMs: deps.timeoutMs,
      });
  return createAdapterServing({
    db: deps.db,
    log: deps.log,
    server,
    chat,
    adapterDir: ft.loraServer?.adapterDir,
    // Together answers a model it does not serve (serverless LoRA gone for the base) this way.
    isNotServedError: ft.loraServer ? undefined : isTogetherNotLoadedError,
  });
}
