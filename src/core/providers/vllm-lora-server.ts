// Loads and unloads LoRA adapters on a vLLM server at run time (`vllm serve <base> --enable-lora`
// with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True), so one GPU serves every user's adapter on one base
// model. Chat goes through the OpenAI-compatible LlmProvider with `model` = the adapter's name.
//
// vLLM's API, as read in its source (vllm-project/vllm: entrypoints/serve/lora/api_router.py
// @ 27873cab, entrypoints/openai/models/serving.py @ 4fe45004, entrypoints/openai/server_utils.py
// @ 387dcddc):
// * POST /v1/load_lora_adapter `{lora_name, lora_path, load_inplace?}` -> 200 plain text
//   "Success: LoRA adapter '<name>' added successfully."; 400 InvalidUserInput when the name is
//   already loaded without `load_inplace`; 404 NotFoundError "... No adapter found for <path>"; 400
//   BadRequestError for other load failures (a rank above --max-lora-rank, say).
// * POST /v1/unload_lora_adapter `{lora_name}` -> 200; 404 NotFoundError when not loaded.
// * GET /v1/models: adapters are the cards with a non-null `parent`; `root` is the path.
// * Chat with a name that is not loaded: 404 "The model `<name>` does not exist."
// * Errors are `{"error": {message, type, param, code}}`; older releases send the flat
//   `{"object": "error", message, type, ...}`; `--api-key` failures `{"error": "Unauthorized"}`.
// * Without VLLM_ALLOW_RUNTIME_LORA_UPDATING the two routes do not exist (FastAPI 404
//   `{"detail": "Not Found"}`).
// `lora_path` is read on the vLLM host: a local directory with adapter_config.json and
// adapter_model.safetensors, or a Hugging Face repo id; upstream vLLM does not fetch s3:// or https://.
import { type AdapterRef, type AdapterServer, ProviderError } from "../ports.ts";
import { retryAfterFromHeaders } from "../retry.ts";

export interface VllmLoraServerOptions {
  /** The server's OpenAI-compatible base URL, the one chat uses, e.g. "http://gpu-1:8000/v1". */
  baseUrl: string;
  /** vLLM's `--api-key`, if it was started with one. */
  apiKey?: string;
  /** Per request. Default 120 s: loading an adapter the host must first download takes a while. */
  timeoutMs?: number;
}

export interface LoadedAdapter {
  name: string;
  /** Where vLLM loaded it from (`root` on /v1/models). */
  source: string;
  /** The base model it runs on. */
  parent: string;
}

export interface VllmLoraServer extends AdapterServer {
  readonly name: "vllm";
  /** The adapters loaded right now. */
  list(): Promise<LoadedAdapter[]>;
}

interface VllmFailure {
  status: number;
  message: string;
  type?: string;
  /** FastAPI's routing 404: the route is not there at all. */
  noRoute: boolean;
  retryAfterMs?: number;
}

export function createVllmLoraServer(options: VllmLoraServerOptions): VllmLoraServer {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 120_000;

  async function call(method: "GET" | "POST", path: string, body?: unknown): Promise<string> {
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
          // vLLM refuses these routes without exactly this media type.
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new ProviderError(`vLLM at ${baseUrl} is unreachable: ${(error as Error).message}`, undefined);
    }
    const text = await response.text();
    if (!response.ok) throw new VllmError(parseFailure(response, text));
    return text;
  }

  async function list(): Promise<LoadedAdapter[]> {
    const text = await call("GET", "/models").catch(rethrow);
    const { data } = JSON.parse(text) as {
      data?: Array<{ id: string; root?: string; parent?: string | null }>;
    };
    return (data ?? [])
      .filter((card) => typeof card.parent === "string" && card.parent !== "")
      .map((card) => ({ name: card.id, source: card.root ?? "", parent: card.parent as string }));
  }

  return {
    name: "vllm",
    list,

    async load({ name, source }: AdapterRef) {
      try {
        await call("POST", "/load_lora_adapter", { lora_name: name, lora_path: source });
        return;
      } catch (error) {
        if (!(error instanceof VllmError && /has already been loaded/.test(error.failure.message)))
          return rethrow(error);
      }
      // Already loaded under this name: nothing to do if from the same place; otherwise replace it
      // (a retrained adapter published under the same name).
      const current = (await list()).find((a) => a.name === name);
      if (current?.source === source) return;
      await call("POST", "/load_lora_adapter", {
        lora_name: name,
        lora_path: source,
        load_inplace: true,
      }).catch(rethrow);
    },

    async unload({ name }: AdapterRef) {
      try {
        await call("POST", "/unload_lora_adapter", { lora_name: name });
      } catch (error) {
        // Not loaded (never, or the server restarted since): already in the state we want.
        if (error instanceof VllmError && error.failure.status === 404 && !error.failure.noRoute) return;
        rethrow(error);
      }
    },

    isNotLoadedError: isVllmNotLoadedError,
  };
}

/**
 * vLLM's answer to a chat request for a name it does not serve: 404 "The model `x` does not exist."
 * (or, with a LoRA resolver plugin, "LoRA adapter x does not exist"). Works on the ProviderError the
 * OpenAI-compatible LlmProvider throws, or any error carrying `status` and `message`.
 */
export function isVllmNotLoadedError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { status, message } = error as { status?: unknown; message?: unknown };
  return status === 404 && typeof message === "string" && /does not exist/.test(message);
}

class VllmError extends Error {
  constructor(readonly failure: VllmFailure) {
    super(failure.message);
  }
}

function rethrow(error: unknown): never {
  if (!(error instanceof VllmError)) throw error;
  const { failure } = error;
  if (failure.noRoute)
    throw new ProviderError(
      "vLLM has no runtime LoRA routes: start it with --enable-lora and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True",
      failure.status,
      undefined,
      "runtime_lora_disabled",
    );
  throw new ProviderError(`vLLM: ${failure.message}`, failure.status, failure.retryAfterMs, failure.type);
}

function parseFailure(response: Response, text: string): VllmFailure {
  const failure: VllmFailure = {
    status: response.status,
    message: `HTTP ${response.status}`,
    noRoute: false,
    retryAfterMs: retryAfterFromHeaders((name) => response.headers.get(name)),
  };
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const nested =
      typeof body.error === "object" && body.error !== null
        ? (body.error as Record<string, unknown>)
        : undefined;
    const source = nested ?? body;
    if (typeof source.message === "string") failure.message = source.message;
    else if (typeof body.error === "string") failure.message = body.error;
    else if (typeof body.detail === "string") {
      failure.message = body.detail;
      failure.noRoute = response.status === 404 && body.detail === "Not Found";
    }
    if (typeof source.type === "string") failure.type = source.type;
  } catch {
    if (text.trim()) failure.message = text.trim().slice(0, 300);
  }
  return failure;
}
