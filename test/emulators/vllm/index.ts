/**
 * vLLM emulator: the OpenAI-compatible server of `vllm serve <base> --enable-lora` with
 * VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, so adapter-management clients and the `openai` SDK can be
 * tested offline.
 *
 *   const vllm = await startVllmEmulator({ baseModel: "Qwen/Qwen3-8B", apiKey: "vllm-key" });
 *   vllm.addAdapterSource("/adapters/u-1", { rank: 16 });
 *   await fetch(`${vllm.url}/v1/load_lora_adapter`, {method: "POST", headers: {...}, body: ...});
 *   new OpenAI({ apiKey: "vllm-key", baseURL: `${vllm.url}/v1` }).chat.completions.create({ model: "u-1", ... });
 *
 * Routes, with vLLM's status codes and bodies (see adapters.ts and errors.ts for sources):
 * - `POST /v1/load_lora_adapter` `{lora_name, lora_path, load_inplace?}` -> 200 plain text
 *   `Success: LoRA adapter '<name>' added successfully.`; `POST /v1/unload_lora_adapter`
 *   `{lora_name}` -> 200 `Success: LoRA adapter '<name>' removed successfully.`. Both need
 *   `content-type: application/json` (vLLM's validate_json_request) and exist only with runtime
 *   updating on; otherwise routing answers FastAPI's 404 `{"detail": "Not Found"}`.
 * - `GET /v1/models`: the base, then each adapter with `root` = its path and `parent` = the base.
 * - `POST /v1/chat/completions`: the base or a loaded adapter answers with `model` = the requested
 *   name; anything else is 404 "The model `x` does not exist." (OpenAIServing._check_model).
 *   `answers` records which adapter (if any) answered each request.
 * - `GET /health`: 200, never authenticated.
 * With `apiKey`, every `/v1` path needs `Authorization: Bearer <key>`, else 401
 * `{"error": "Unauthorized"}` (AuthenticationMiddleware, vllm/entrypoints/openai/server_utils.py).
 * `restart()` forgets runtime-loaded adapters, as a restarted server does; `--lora-modules` given as
 * `staticAdapters` come back.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { countTokens } from "gpt-tokenizer/encoding/o200k_base";
import {
  EmuHttpError,
  type EmulatorServer,
  type EmuResponse,
  type RecordedRequest,
  startEmulatorServer,
} from "../http-recorder.ts";
import { type AdapterSource, VllmAdapters } from "./adapters.ts";
import { VllmErrors } from "./errors.ts";

export interface VllmEmulatorOptions {
  /** The served model name (`--served-model-name`, else the model path). */
  baseModel?: string;
  /** `--api-key`. */
  apiKey?: string;
  /** VLLM_ALLOW_RUNTIME_LORA_UPDATING. Default true. */
  runtimeLoraUpdating?: boolean;
  /** `--max-lora-rank`. vLLM's default is 16. */
  maxLoraRank?: number;
  /** `--max-model-len` reported on the base model card. */
  maxModelLen?: number;
  /** `--lora-modules name=path`, loaded at start and after every restart. */
  staticAdapters?: Array<{ name: string; path: string; rank?: number }>;
  /** The flat pre-2025 error shape `{"object": "error", ...}`. */
  legacyErrors?: boolean;
  /**
   * Also load a `lora_path` that is a PEFT adapter directory on this machine (adapter_config.json
   * with `peft_type` LORA and `r`, and adapter_model.safetensors), as vLLM loads local paths.
   */
  readAdaptersFromDisk?: boolean;
}

/** A PEFT LoRA directory as vLLM's loader checks it (the files it opens, the rank it reads). */
function adapterOnDisk(path: string): AdapterSource | undefined {
  try {
    const config = JSON.parse(readFileSync(join(path, "adapter_config.json"), "utf8")) as {
      peft_type?: unknown;
      r?: unknown;
    };
    if (config.peft_type !== "LORA" || typeof config.r !== "number") return undefined;
    if (!statSync(join(path, "adapter_model.safetensors")).isFile()) return undefined;
    return { rank: config.r };
  } catch {
    return undefined;
  }
}

export interface VllmAnswer {
  /** The `model` of the request (and of the response). */
  model: string;
  /** The adapter that answered; undefined when the base model did. */
  adapter?: { name: string; path: string };
  at: number;
}

export type VllmReply = (
  request: { model: string; messages: Array<{ role: string; content: unknown }> },
  answer: VllmAnswer,
) => string;

export interface VllmEmulator extends EmulatorServer {
  readonly baseModel: string;
  adapters: VllmAdapters;
  answers: VllmAnswer[];
  /** Makes `path` loadable (an adapter directory on the vLLM host, or a Hugging Face repo id). */
  addAdapterSource(path: string, source?: Partial<AdapterSource>): void;
  /** Forgets the adapters loaded at run time; the static ones are loaded again. */
  restart(): void;
  /** Counts restarts, for tests that assert one happened. */
  readonly restarts: number;
  setReply(reply: VllmReply): void;
}

export async function startVllmEmulator(options: VllmEmulatorOptions = {}): Promise<VllmEmulator> {
  const baseModel = options.baseModel ?? "Qwen/Qwen3-8B";
  const errors: VllmErrors = new VllmErrors(() => options.legacyErrors === true);
  const adapters = new VllmAdapters({
    errors,
    baseModelName: baseModel,
    maxLoraRank: options.maxLoraRank ?? 16,
    now: () => Date.now(),
    ...(options.readAdaptersFromDisk ? { fromDisk: adapterOnDisk } : {}),
  });
  const answers: VllmAnswer[] = [];
  let restarts = 0;
  let counter = 0;
  const hex = () => createHash("sha256").update(`vllm:${counter++}`).digest("hex").slice(0, 32);
  let reply: VllmReply = (request, answer) => {
    const lastUser = [...request.messages].reverse().find((m) => m.role === "user");
    const by = answer.adapter ? `lora:${answer.adapter.name}` : `base:${baseModel}`;
    return `echo(${by}): ${String(lastUser?.content ?? "").slice(0, 200)}`;
  };
  const created = Math.floor(Date.now() / 1000);

  const loadStatic = () => {
    for (const s of options.staticAdapters ?? []) {
      if (!adapters.sources.has(s.path)) adapters.sources.set(s.path, { rank: s.rank ?? 8 });
      adapters.load({ lora_name: s.name, lora_path: s.path });
    }
  };
  loadStatic();

  const permission = () => [
    {
      id: `modelperm-${hex()}`,
      object: "model_permission",
      created,
      allow_create_engine: false,
      allow_sampling: true,
      allow_logprobs: true,
      allow_search_indices: false,
      allow_view: true,
      allow_fine_tuning: false,
      organization: "*",
      group: null,
      is_blocking: false,
    },
  ];

  const jsonBody = (req: RecordedRequest): Record<string, unknown> => {
    const media = String(req.headers["content-type"] ?? "")
      .toLowerCase()
      .split(";")[0]!
      .trim();
    if (media !== "application/json")
      errors.fail(400, "Unsupported Media Type: Only 'application/json' is allowed", "Bad Request");
    if (
      typeof req.body !== "object" ||
      req.body === null ||
      Buffer.isBuffer(req.body) ||
      Array.isArray(req.body)
    )
      errors.fail(400, "JSON decode error", "Bad Request");
    return req.body as Record<string, unknown>;
  };

  const requireFields = (body: Record<string, unknown>, fields: string[]) => {
    const missing = fields.filter((f) => typeof body[f] !== "string");
    if (missing.length)
      errors.fail(400, missing.map((f) => `Field required: body.${f}`).join("; "), "Bad Request", null);
  };

  const chat = (req: RecordedRequest): EmuResponse => {
    const body = jsonBody(req);
    const model = typeof body.model === "string" ? body.model : baseModel;
    const messages = Array.isArray(body.messages)
      ? (body.messages as Array<{ role: string; content: unknown }>)
      : [];
    if (messages.length === 0) errors.fail(400, "messages must not be empty", "BadRequestError", "messages");
    const lora = adapters.loaded.get(model);
    if (model !== baseModel && !lora)
      errors.fail(404, `The model \`${model}\` does not exist.`, "NotFoundError", "model");
    const answer: VllmAnswer = {
      model,
      ...(lora ? { adapter: { name: lora.name, path: lora.path } } : {}),
      at: Date.now(),
    };
    answers.push(answer);
    const content = reply({ model, messages }, answer);
    const promptTokens = messages.reduce((sum, m) => sum + 4 + countTokens(String(m.content ?? "")), 0);
    const completionTokens = countTokens(content);
    const usage = {
      prompt_tokens: promptTokens,
      total_tokens: promptTokens + completionTokens,
      completion_tokens: completionTokens,
      prompt_tokens_details: null,
    };
    // `stream: true`: vLLM's OpenAI-compatible SSE (serving_chat.py chat_completion_stream_generator):
    // a first chunk with the role, one per piece of text, one with finish_reason, then a usage
    // chunk with no choices when stream_options.include_usage asks for it, then [DONE].
    if (body.stream === true) {
      const id = `chatcmpl-${hex()}`;
      const created = Math.floor(Date.now() / 1000);
      const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
        JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices, ...extra });
      const events = [
        chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]),
        ...(content.match(/\S+\s*|\s+/g) ?? []).map((piece) =>
          chunk([{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }]),
        ),
        chunk([
          { index: 0, delta: { content: "" }, logprobs: null, finish_reason: "stop", stop_reason: null },
        ]),
      ];
      const streamOptions = body.stream_options as { include_usage?: unknown } | undefined;
      if (streamOptions?.include_usage === true) events.push(chunk([], { usage }));
      events.push("[DONE]");
      return { sse: events };
    }
    return {
      json: {
        id: `chatcmpl-${hex()}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content,
              refusal: null,
              annotations: null,
              audio: null,
              function_call: null,
              tool_calls: [],
              reasoning_content: null,
            },
            logprobs: null,
            finish_reason: "stop",
            stop_reason: null,
          },
        ],
        service_tier: null,
        system_fingerprint: null,
        usage,
        prompt_logprobs: null,
        kv_transfer_params: null,
      },
    };
  };

  const handle = (req: RecordedRequest): EmuResponse => {
    if (req.method === "GET" && req.path === "/health") return { status: 200, body: "" };
    if (req.path.startsWith("/v1") && options.apiKey !== undefined) {
      const [scheme, , token] =
        /^(\S+)( (.*))?$/.exec(String(req.headers.authorization ?? ""))?.slice(1) ?? [];
      if (scheme?.toLowerCase() !== "bearer" || token !== options.apiKey)
        return { status: 401, json: { error: "Unauthorized" } };
    }
    const route = `${req.method} ${req.path}`;
    const runtime = options.runtimeLoraUpdating ?? true;
    switch (route) {
      case "GET /v1/models":
        return {
          json: {
            object: "list",
            data: [
              {
                id: baseModel,
                object: "model",
                created,
                owned_by: "vllm",
                root: baseModel,
                parent: null,
                max_model_len: options.maxModelLen ?? 40_960,
                permission: permission(),
              },
              ...[...adapters.loaded.values()].map((a) => ({
                id: a.name,
                object: "model",
                created,
                owned_by: "vllm",
                root: a.path,
                parent: a.baseModelName,
                max_model_len: null,
                permission: permission(),
              })),
            ],
          },
        };
      case "POST /v1/chat/completions":
        return chat(req);
      case "POST /v1/load_lora_adapter":
        if (!runtime) break;
        {
          const body = jsonBody(req);
          requireFields(body, ["lora_name", "lora_path"]);
          // vLLM answers success with a bare Response: plain text, no content-type.
          return { status: 200, body: adapters.load(body) };
        }
      case "POST /v1/unload_lora_adapter":
        if (!runtime) break;
        {
          const body = jsonBody(req);
          requireFields(body, ["lora_name"]);
          return { status: 200, body: adapters.unload(body) };
        }
    }
    return { status: 404, json: { detail: "Not Found" } };
  };

  const server = await startEmulatorServer({
    handle: (req) => {
      try {
        return handle(req);
      } catch (error) {
        if (error instanceof EmuHttpError) return error.response;
        throw error;
      }
    },
    errorResponse: (status, message) => errors.fault(status, message),
  });

  return {
    ...server,
    baseModel,
    adapters,
    answers,
    addAdapterSource(path, source = {}) {
      adapters.sources.set(path, { rank: source.rank ?? 8 });
    },
    restart() {
      adapters.loaded.clear();
      restarts++;
      loadStatic();
    },
    get restarts() {
      return restarts;
    },
    setReply(fn) {
      reply = fn;
    },
  };
}
