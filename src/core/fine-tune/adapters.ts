// Answering with a person's LoRA adapter. A model trained on open weights (Together) is one adapter
// on a shared base model, served by an adapter server: a self-hosted vLLM with runtime LoRA loading,
// or a LoRA-enabled Together dedicated deployment. Chat reaches it through an OpenAI-compatible
// LlmProvider with `model` = the adapter's name; this module decides the adapter's name and source
// when a training succeeds, keeps the server's loaded set in line with each person's choice
// (activation, rollback, forget), and answers with the base model when the server lost the adapter.
//
// Without an adapter server, a Together fine-tune is answered by its `model_output_name` on
// Together's chat API (the serverless-LoRA path, where Together still offers it for the base model).
import type { Database } from "../../database/open-database.ts";
import type {
  AdapterRef,
  AdapterServer,
  ChatResult,
  FineTuneJobInfo,
  LlmProvider,
  Logger,
} from "../ports.ts";

export interface AdapterServingDeps {
  db: Database;
  log: Logger;
  /** Where adapters are loaded; undefined: the provider serves its tuned models by name. */
  server?: AdapterServer;
  /** Chat with the tuned models (the adapter server's, or the provider's, OpenAI-compatible API). */
  chat: LlmProvider;
  /** vLLM: the directory on its host holding `<dir>/<adapter name>/` (LORA_ADAPTER_DIR). */
  adapterDir?: string;
  /** Whether an error from `chat` means "this model is not served here" (besides the server's own). */
  isNotServedError?: (error: unknown) => boolean;
}

/** What a succeeded training's version records about its adapter. */
export interface AdapterRecord {
  adapterName: string;
  adapterSource: string;
  adapterServer: AdapterServer["name"];
}

/** A vLLM `lora_name` and directory name from a provider's model name (no slashes, no spaces). */
export function adapterNameFor(fineTunedModel: string): string {
  const last = fineTunedModel.split("/").filter(Boolean).at(-1) ?? fineTunedModel;
  return last.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 128);
}

export function createAdapterServing(deps: AdapterServingDeps) {
  const { db, log, server } = deps;

  /**
   * Where a succeeded training's adapter is served from, or undefined when its provider serves it by
   * name. A Together deployment attaches the adapter model Together registered for the job; vLLM
   * loads `<LORA_ADAPTER_DIR>/<name>`, which the operator fills (see README, "Serving adapters").
   */
  function recordFor(info: FineTuneJobInfo & { fineTunedModel: string }): AdapterRecord | undefined {
    if (!server) return undefined;
    if (server.name === "together") {
      if (!info.adapter) return undefined;
      return { adapterName: info.adapter.name, adapterSource: info.adapter.id, adapterServer: "together" };
    }
    const name = adapterNameFor(info.fineTunedModel);
    const dir = (deps.adapterDir ?? "/adapters").replace(/\/+$/, "");
    return { adapterName: name, adapterSource: `${dir}/${name}`, adapterServer: "vllm" };
  }

  const refOf = (v: { adapterName: string | null; adapterSource: string | null }): AdapterRef | undefined =>
    v.adapterName && v.adapterSource ? { name: v.adapterName, source: v.adapterSource } : undefined;

  /**
   * Makes the server hold exactly the adapters that answer this person: loads the active version's
   * and the one on trial (canary.ts), unloads their others (after a rollback, the newer one). Failures are logged, not thrown: the
   * person's choice is already recorded, and a reply that finds the adapter missing loads it then.
   */
  async function sync(userId: string): Promise<void> {
    if (!server) return;
    const user = await db.user.findUnique({ where: { id: userId }, select: { activeModelVersionId: true } });
    const versions = await db.modelVersion.findMany({
      where: { userId, adapterServer: server.name },
      select: {
        id: true,
        version: true,
        adapterName: true,
        adapterSource: true,
        status: true,
        canaryState: true,
      },
    });
    for (const v of versions) {
      const ref = refOf(v);
      if (!ref) continue;
      // A version on trial answers a share of the messages: its adapter is served beside the active one.
      const active =
        (v.id === user?.activeModelVersionId || v.canaryState === "running") && v.status === "available";
      try {
        if (active) await server.load(ref);
        else await server.unload(ref);
        log.info(active ? "adapter loaded" : "adapter unloaded", {
          userId,
          version: v.version,
          server: server.name,
        });
      } catch (e) {
        log.warn(
          active ? "could not load the adapter; the first reply tries again" : "could not unload the adapter",
          { userId, version: v.version, server: server.name, error: e },
        );
      }
    }
  }

  /** Forget: every adapter of this person leaves the server (before their rows are deleted). */
  async function unloadAll(userId: string): Promise<void> {
    if (!server) return;
    const versions = await db.modelVersion.findMany({
      where: { userId, adapterServer: server.name },
      select: { version: true, adapterName: true, adapterSource: true },
    });
    for (const v of versions) {
      const ref = refOf(v);
      if (!ref) continue;
      try {
        await server.unload(ref);
        log.info("adapter unloaded", { userId, version: v.version, server: server.name });
      } catch (e) {
        log.warn("could not unload the adapter", { userId, version: v.version, error: e });
      }
    }
  }

  const notServed = (e: unknown) =>
    (server?.isNotLoadedError(e) ?? false) || (deps.isNotServedError?.(e) ?? false);

  /**
   * The LlmProvider tuned models are answered through. When the server says the adapter is not
   * there (a restarted vLLM forgets what was loaded at run time), it loads it again once and
   * retries; if that fails too, the base model answers, with the same prompt (memory and few-shot),
   * and the result says so (`answeredBy`).
   */
  function tunedChat(base: { llm: LlmProvider; chatModel: string }): LlmProvider {
    return {
      name: deps.chat.name,
      embed: (request) => base.llm.embed(request),
      async chat(request): Promise<ChatResult> {
        try {
          return await deps.chat.chat(request);
        } catch (first) {
          if (!notServed(first)) throw first;
          const v = server
            ? await db.modelVersion.findFirst({
                where: { adapterName: request.model, adapterServer: server.name },
                select: { version: true, userId: true, adapterName: true, adapterSource: true },
              })
            : null;
          const ref = v ? refOf(v) : undefined;
          if (server && ref) {
            try {
              await server.load(ref);
              const result = await deps.chat.chat(request);
              log.warn("adapter was missing at the server; loaded it again", {
                userId: v?.userId,
                version: v?.version,
                server: server.name,
              });
              return result;
            } catch (again) {
              if (!notServed(again) && !isLoadFailure(again)) throw again;
              log.warn("reloading the adapter failed", { userId: v?.userId, error: again });
            }
          }
          log.warn("tuned model not served; answered with the base model (memory and few-shot)", {
            userId: v?.userId,
            version: v?.version,
            server: server?.name ?? "provider",
          });
          const result = await base.llm.chat({ ...request, model: base.chatModel });
          return { ...result, answeredBy: base.chatModel };
        }
      },
    };
  }

  return { server, recordFor, sync, unloadAll, tunedChat };
}

/** A load the server refused or could not do (missing files, rank too high, no capacity). */
function isLoadFailure(e: unknown): boolean {
  const status = (e as { status?: unknown })?.status;
  return typeof status === "number" && status >= 400 && status < 500;
}

export type AdapterServing = ReturnType<typeof createAdapterServing>;
