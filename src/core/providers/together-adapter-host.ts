// Attaches and detaches LoRA adapters on a LoRA-enabled Together AI deployment through the v2
// "Dedicated Model Inference" API, the 2026 replacement for serverless LoRA (retired from Together's
// docs on 2026-03-18) and for v1 endpoints (creation answers 403 since 2026-07).
//
// The API, from the together-ai TypeScript SDK 0.52 (`beta/endpoints/adapters.ts`, generated from
// Together's spec), management base https://api.together.ai/v2:
// * POST   /projects/{p}/endpoints/{e}/deployments/{d}/adapters `{adapterModelId, force?}`
// * GET    /projects/{p}/endpoints/{e}/deployments/{d}/adapters/{adapterModelId}
// * DELETE /projects/{p}/endpoints/{e}/deployments/{d}/adapters/{adapterModelId}?etag=<etag>
// * an adapter reports `etag` and `perCluster[]` with `state` ADAPTER_LOAD_STATE_PENDING | LOADING |
//   READY | REMOVING | FAILED, `readyPodCount`, `totalPodCount`, `message`.
// The deployment must have been created with `enable_lora` (toggling needs a redeploy).
// `AdapterRef.source` is the adapter model id (`ml_...`; a fine-tune's `adapter_object_id`, which is
// inferred, not documented, to be what this API attaches). Which `model` string chat then uses for
// the adapter is not documented either (v1 routed "the adapter model name"); `AdapterRef.name` is
// only used in messages here. Not documented as well: the status codes for "already attached" and
// "at capacity", so the client reads the adapter back instead of relying on them.
import { type AdapterRef, type AdapterServer, ProviderError } from "../ports.ts";
import { retryAfterFromHeaders } from "../retry.ts";

export interface TogetherAdapterHostOptions {
  apiKey: string;
  /** Default "https://api.together.ai/v2". */
  baseUrl?: string;
  projectId: string;
  endpointId: string;
  deploymentId: string;
  /** Evict the oldest adapter when the deployment is full (`force`). Default false: fail instead. */
  evictOldest?: boolean;
  /** How long `load` waits for READY on every cluster. Default 10 minutes. */
  readyTimeoutMs?: number;
  /** Between two reads of the load state. Default 5 s. */
  pollIntervalMs?: number;
  /** Per request. Default 30 s. */
  timeoutMs?: number;
  /** Injectable wait (tests move an emulator clock instead of sleeping). */
  sleep?: (ms: number) => Promise<void>;
}

interface AdapterState {
  adapterModelId: string;
  etag: string;
  perCluster?: Array<{
    state: string;
    readyPodCount?: number;
    totalPodCount?: number;
    message?: string;
    reason?: string;
  }>;
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function createTogetherAdapterHost(options: TogetherAdapterHostOptions): AdapterServer {
  const base = (options.baseUrl ?? "https://api.together.ai/v2").replace(/\/+$/, "");
  const adaptersPath = `/projects/${encodeURIComponent(options.projectId)}/endpoints/${encodeURIComponent(
    options.endpointId,
  )}/deployments/${encodeURIComponent(options.deploymentId)}/adapters`;
  const sleep = options.sleep ?? realSleep;
  const readyTimeoutMs = options.readyTimeoutMs ?? 10 * 60_000;
  const pollIntervalMs = options.pollIntervalMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 30_000;

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${options.apiKey}`,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new ProviderError(`Together is unreachable: ${(error as Error).message}`, undefined);
    }
    const text = await response.text();
    if (!response.ok) {
      let message = `Together answered HTTP ${response.status}`;
      let code: string | undefined;
      try {
        const parsed = JSON.parse(text) as {
          error?: { message?: unknown; code?: unknown };
          message?: unknown;
        };
        const found = parsed.error?.message ?? parsed.message;
        if (typeof found === "string" && found) message = found;
        if (typeof parsed.error?.code === "string") code = parsed.error.code;
      } catch {
        // Not JSON: the status says enough.
      }
      throw new ProviderError(
        message,
        response.status,
        retryAfterFromHeaders((n) => response.headers.get(n)),
        code,
      );
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  const read = (id: string) => request<AdapterState>("GET", `${adaptersPath}/${encodeURIComponent(id)}`);

  async function readOrUndefined(id: string): Promise<AdapterState | undefined> {
    try {
      return await read(id);
    } catch (error) {
      if (error instanceof ProviderError && error.status === 404) return undefined;
      throw error;
    }
  }

  return {
    name: "together",

    async load({ name, source }: AdapterRef) {
      let state: AdapterState;
      try {
        state = await request<AdapterState>("POST", adaptersPath, {
          adapterModelId: source,
          ...(options.evictOldest ? { force: true } : {}),
        });
      } catch (error) {
        // A 409 may mean "already attached" (then loading it again is a no-op) or "full": read it back.
        if (!(error instanceof ProviderError && error.status === 409)) throw error;
        const attached = await readOrUndefined(source);
        if (!attached) throw error;
        state = attached;
      }
      const deadline = Date.now() + readyTimeoutMs;
      for (let waited = 0; ; ) {
        const clusters = state.perCluster ?? [];
        const failed = clusters.find((c) => c.state === "ADAPTER_LOAD_STATE_FAILED");
        if (failed)
          throw new ProviderError(
            `Together could not load adapter ${name} (${source}): ${failed.message ?? failed.reason ?? "no reason given"}`,
            422,
            undefined,
            "adapter_load_failed",
          );
        if (clusters.length > 0 && clusters.every((c) => c.state === "ADAPTER_LOAD_STATE_READY")) return;
        if (waited >= readyTimeoutMs || Date.now() > deadline)
          throw new ProviderError(
            `Adapter ${name} (${source}) was not ready on Together after ${Math.round(readyTimeoutMs / 1000)} s`,
            undefined,
            undefined,
            "adapter_load_timeout",
          );
        await sleep(pollIntervalMs);
        waited += pollIntervalMs;
        state = await read(source);
      }
    },

    async unload({ source }: AdapterRef) {
      // The etag guards against detaching an adapter someone re-attached meanwhile; on a conflict
      // read it again once.
      for (let attempt = 0; ; attempt++) {
        const current = await readOrUndefined(source);
        if (!current) return;
        try {
          await request(
            "DELETE",
            `${adaptersPath}/${encodeURIComponent(source)}?etag=${encodeURIComponent(current.etag)}`,
          );
          return;
        } catch (error) {
          if (error instanceof ProviderError && error.status === 404) return;
          if (!(error instanceof ProviderError && error.status === 409 && attempt === 0)) throw error;
        }
      }
    },

    isNotLoadedError: isTogetherNotLoadedError,
  };
}

/**
 * Together's answers for a model it does not serve: 404 `model_not_found` ("Unable to access
 * model ...") and 400 `model_not_available` ("Unable to access non-serverless model ...").
 */
export function isTogetherNotLoadedError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { status, code, message } = error as { status?: unknown; code?: unknown; message?: unknown };
  if (code === "model_not_found" || code === "model_not_available") return true;
  return (
    (status === 404 || status === 400) && typeof message === "string" && /Unable to access/.test(message)
  );
}
