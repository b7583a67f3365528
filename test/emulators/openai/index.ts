// An OpenAI API emulator for tests, driven by the real `openai` SDK through its base URL:
//   const emu = await startOpenAIEmulator();
//   const client = new OpenAI({ apiKey: "test", baseURL: `${emu.url}/v1` });
// It serves chat completions (plain and streamed), embeddings (float and base64), files, fine-tuning
// jobs (on a manual clock) and models, with OpenAI's JSON shapes and error bodies.
import { countTokens as countCl100k } from "gpt-tokenizer/encoding/cl100k_base";
import { decode as decodeO200k, encode as encodeO200k } from "gpt-tokenizer/encoding/o200k_base";
import { embed, toBase64Float32 } from "../embedding.ts";
import {
  type EmulatorServer,
  type EmuResponse,
  idGenerator,
  ManualClock,
  parseMultipart,
  type RecordedRequest,
  startEmulatorServer,
} from "../http-recorder.ts";
import { openaiError, openaiFail, openaiFaultResponse } from "./errors.ts";
import { type ChatMessage, checkChatJsonl, countChatMessagesTokens, messageText } from "./fine-tune-data.ts";
import {
  DEFAULT_FINE_TUNING_TIMINGS,
  type FineTuningJobJson,
  type FineTuningTimings,
  OpenAIFineTuning,
  type PlannedFailure,
  type StoredFile,
} from "./fine-tuning.ts";

export type ChatReply = (body: ChatCompletionRequest) => string | Promise<string>;

/** The fields of a chat completion request the emulator reads; the rest is recorded as sent. */
export interface ChatCompletionRequest {
  model: string;
  messages: ChatMessage[];
  max_tokens?: number;
  max_completion_tokens?: number;
  n?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  [key: string]: unknown;
}

export interface OpenAIModel {
  id: string;
  kind: "chat" | "embedding";
  created: number;
  owned_by: string;
  /** ISO date (as given to setShutdownDate); from then on the model is no longer served. */
  shutdown_date?: string;
  /** Native width of embedding models. */
  dimensions?: number;
  /** Whether `dimensions` may shorten the vector (text-embedding-3-*). */
  shortenable?: boolean;
  fineTunedFrom?: string;
}

export interface OpenAIEmulatorOptions {
  /** When set, only this key is accepted; otherwise any `Bearer` token is. */
  apiKey?: string;
  /** Organization slug in `ft:` model names. Default "emulator-org". */
  organization?: string;
  clock?: ManualClock;
  timings?: Partial<FineTuningTimings>;
  /** Seed of the deterministic ids. */
  seed?: string;
  maxTokensPerExample?: number;
  /** ISO instant from which new fine-tuning jobs are refused (OpenAI: 2027-01-06). */
  fineTuningClosedFrom?: string;
}

export interface OpenAIEmulator extends EmulatorServer {
  clock: ManualClock;
  /** Moves the clock to the next pending job transition and runs it; false when nothing is pending. */
  tick(): boolean;
  /** Runs every pending job transition (jobs end up succeeded/failed). */
  runJobs(): void;
  setReply(reply: ChatReply): void;
  /** The next fine-tuning job created fails with this message (at the end of training by default). */
  failNextJob(message: string, options?: Omit<PlannedFailure, "message">): void;
  setShutdownDate(modelId: string, isoDate: string | null): void;
  addModel(model: Partial<OpenAIModel> & { id: string }): void;
  models: Map<string, OpenAIModel>;
  /** Uploaded files by id, with their exact bytes and (for fine-tune) their format check. */
  files: Map<string, StoredFile>;
  fineTuning: OpenAIFineTuning;
}

const BASE_CREATED = 1_700_000_000;
const CHAT_MODELS = [
  "gpt-4.1",
  "gpt-4.1-2025-04-14",
  "gpt-4.1-mini",
  "gpt-4.1-mini-2025-04-14",
  "gpt-4.1-nano",
  "gpt-4.1-nano-2025-04-14",
  "gpt-4o",
  "gpt-4o-2024-08-06",
  "gpt-4o-2024-11-20",
  "gpt-4o-mini",
  "gpt-4o-mini-2024-07-18",
  "gpt-3.5-turbo",
  "gpt-3.5-turbo-0125",
  "gpt-5",
  "gpt-5-mini",
  "gpt-5-nano",
];
const EMBEDDING_MODELS: Array<[string, number, boolean]> = [
  ["text-embedding-3-small", 1536, true],
  ["text-embedding-3-large", 3072, true],
  ["text-embedding-ada-002", 1536, false],
];
/** Tunable names -> the snapshot a job reports. */
const TUNABLE_MODELS: Record<string, string> = {
  "gpt-4.1": "gpt-4.1-2025-04-14",
  "gpt-4.1-2025-04-14": "gpt-4.1-2025-04-14",
  "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
  "gpt-4.1-mini-2025-04-14": "gpt-4.1-mini-2025-04-14",
  "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
  "gpt-4.1-nano-2025-04-14": "gpt-4.1-nano-2025-04-14",
  "gpt-4o": "gpt-4o-2024-08-06",
  "gpt-4o-2024-08-06": "gpt-4o-2024-08-06",
  "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
  "gpt-4o-mini-2024-07-18": "gpt-4o-mini-2024-07-18",
  "gpt-3.5-turbo-0125": "gpt-3.5-turbo-0125",
};
const FILE_PURPOSES = ["fine-tune", "assistants", "batch", "user_data", "vision", "evals"];

export const defaultChatReply: ChatReply = (body) => {
  const lastUser = [...body.messages].reverse().find((m) => m.role === "user");
  return `echo(${body.model}): ${messageText(lastUser?.content).slice(0, 200)}`;
};

export async function startOpenAIEmulator(options: OpenAIEmulatorOptions = {}): Promise<OpenAIEmulator> {
  const clock = options.clock ?? new ManualClock();
  const newId = idGenerator(options.seed ?? "openai");
  const organization = options.organization ?? "emulator-org";
  const models = new Map<string, OpenAIModel>();
  const files = new Map<string, StoredFile>();
  let reply: ChatReply = defaultChatReply;

  const addModel = (model: Partial<OpenAIModel> & { id: string }) =>
    models.set(model.id, { kind: "chat", created: BASE_CREATED, owned_by: "system", ...model });
  for (const id of CHAT_MODELS) addModel({ id });
  for (const [id, dimensions, shortenable] of EMBEDDING_MODELS)
    addModel({ id, kind: "embedding", dimensions, shortenable });

  const fineTuning = new OpenAIFineTuning({
    clock,
    newId,
    organization,
    organizationId: newId("org-"),
    files,
    tunableModels: TUNABLE_MODELS,
    timings: { ...DEFAULT_FINE_TUNING_TIMINGS, ...options.timings },
    maxTokensPerExample: options.maxTokensPerExample,
    closedFrom: options.fineTuningClosedFrom ? Date.parse(options.fineTuningClosedFrom) : undefined,
    onModelCreated: (id: string, base: string, job: FineTuningJobJson) =>
      addModel({ id, created: job.finished_at ?? BASE_CREATED, owned_by: organization, fineTunedFrom: base }),
    onResultFile: (file) => files.set(file.id, file),
  });

  const served = (id: string, kind: OpenAIModel["kind"]): OpenAIModel => {
    const model = models.get(id);
    const retired = model?.shutdown_date !== undefined && Date.parse(model.shutdown_date) <= clock.now();
    if (!model || model.kind !== kind || retired)
      openaiFail(404, `The model \`${id}\` does not exist or you do not have access to it.`, {
        code: "model_not_found",
      });
    return model;
  };

  const routes = {
    async chat(req: RecordedRequest): Promise<EmuResponse> {
      const body = jsonBody(req) as Partial<ChatCompletionRequest>;
      if (typeof body.model !== "string")
        openaiFail(400, "you must provide a model parameter", { param: "model" });
      if (!Array.isArray(body.messages) || body.messages.length === 0)
        openaiFail(
          400,
          "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
          { param: "messages", code: "empty_array" },
        );
      served(body.model, "chat");
      const request = body as ChatCompletionRequest;
      let content = await reply(request);
      let finishReason = "stop";
      const limit = request.max_completion_tokens ?? request.max_tokens;
      const replyTokens = encodeO200k(content, { disallowedSpecial: new Set() });
      if (typeof limit === "number" && replyTokens.length > limit) {
        content = decodeO200k(replyTokens.slice(0, limit));
        finishReason = "length";
      }
      const n = typeof request.n === "number" && request.n > 0 ? request.n : 1;
      const promptTokens = countChatMessagesTokens(request.messages);
      const completionTokens = Math.min(replyTokens.length, limit ?? Number.POSITIVE_INFINITY) * n;
      const usage = {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 0,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      };
      const head = {
        id: newId("chatcmpl-", 29),
        created: Math.floor(clock.now() / 1000),
        model: request.model,
        service_tier: "default",
        system_fingerprint: "fp_emulator",
      };
      if (request.stream) return { sse: streamChunks(head, content, finishReason, n, usage, request) };
      return {
        json: {
          ...head,
          object: "chat.completion",
          choices: Array.from({ length: n }, (_, index) => ({
            index,
            message: { role: "assistant", content, refusal: null, annotations: [] },
            logprobs: null,
            finish_reason: finishReason,
          })),
          usage,
        },
      };
    },

    embeddings(req: RecordedRequest): EmuResponse {
      const body = jsonBody(req) as {
        model?: unknown;
        input?: unknown;
        dimensions?: unknown;
        encoding_format?: unknown;
      };
      if (typeof body.model !== "string")
        openaiFail(400, "you must provide a model parameter", { param: "model" });
      const model = served(body.model, "embedding");
      const inputs = embeddingInputs(body.input);
      let dims = model.dimensions ?? 1536;
      if (body.dimensions !== undefined) {
        if (!model.shortenable)
          openaiFail(400, "This model does not support specifying dimensions.", { param: "dimensions" });
        if (
          typeof body.dimensions !== "number" ||
          !Number.isInteger(body.dimensions) ||
          body.dimensions < 1 ||
          body.dimensions > dims
        )
          openaiFail(400, `Invalid 'dimensions': expected an integer between 1 and ${dims}.`, {
            param: "dimensions",
          });
        dims = body.dimensions;
      }
      const format = body.encoding_format ?? "float";
      if (format !== "float" && format !== "base64")
        openaiFail(400, `Invalid 'encoding_format': must be 'float' or 'base64', got '${String(format)}'.`, {
          param: "encoding_format",
        });
      const tokens = inputs.reduce(
        (sum, text) => sum + countCl100k(text, { disallowedSpecial: new Set() }),
        0,
      );
      return {
        json: {
          object: "list",
          data: inputs.map((text, index) => {
            const vector = embed(text, dims);
            return {
              object: "embedding",
              index,
              embedding: format === "base64" ? toBase64Float32(vector) : vector,
            };
          }),
          model: model.id,
          usage: { prompt_tokens: tokens, total_tokens: tokens },
        },
      };
    },

    uploadFile(req: RecordedRequest): EmuResponse {
      const contentType = String(req.headers["content-type"] ?? "");
      if (!contentType.startsWith("multipart/form-data"))
        openaiFail(400, "Expected a multipart/form-data request with a 'file' and a 'purpose'.");
      const parts = parseMultipart(req.rawBody, contentType);
      const file = parts.find((p) => p.name === "file");
      const purpose = parts.find((p) => p.name === "purpose")?.data.toString("utf8");
      if (!file)
        openaiFail(400, "Missing required parameter: 'file'.", {
          param: "file",
          code: "missing_required_parameter",
        });
      if (!purpose)
        openaiFail(400, "Missing required parameter: 'purpose'.", {
          param: "purpose",
          code: "missing_required_parameter",
        });
      if (!FILE_PURPOSES.includes(purpose))
        openaiFail(400, `'${purpose}' is not one of ${JSON.stringify(FILE_PURPOSES)} - 'purpose'`, {
          param: "purpose",
        });
      const filename = file.filename ?? "upload";
      if (purpose === "fine-tune" && !filename.endsWith(".jsonl"))
        openaiFail(400, "Invalid file format for Fine-Tuning API. Must be .jsonl", { param: "file" });
      const stored: StoredFile = {
        id: newId("file-", 22),
        filename,
        purpose,
        bytes: Buffer.from(file.data),
        createdAt: Math.floor(clock.now() / 1000),
        check: purpose === "fine-tune" ? checkChatJsonl(file.data) : undefined,
      };
      files.set(stored.id, stored);
      return { json: fileJson(stored) };
    },
  };

  const handle = async (req: RecordedRequest): Promise<EmuResponse> => {
    const auth = String(req.headers.authorization ?? "");
    const token = /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim();
    if (!token)
      return openaiError(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
      );
    if (options.apiKey !== undefined && token !== options.apiKey)
      return openaiError(401, `Incorrect API key provided: ${token.slice(0, 3)}***${token.slice(-4)}.`, {
        code: "invalid_api_key",
      });

    const segments = req.path.split("/").filter(Boolean).map(decodeURIComponent);
    const [version, resource, id, sub] = segments;
    if (version !== "v1") return invalidUrl(req);
    if (req.method === "POST" && segments.slice(1).join("/") === "chat/completions") return routes.chat(req);
    const route = `${req.method} ${[resource, id && ":id", sub].filter(Boolean).join("/")}`;
    const limit = Number(req.query.limit ?? 20);
    switch (route) {
      case "POST embeddings":
        return routes.embeddings(req);
      case "POST files":
        return routes.uploadFile(req);
      case "GET files": {
        const order = req.query.order === "asc" ? 1 : -1;
        const all = [...files.values()]
          .filter((f) => !req.query.purpose || f.purpose === req.query.purpose)
          .sort((a, b) => order * (a.createdAt - b.createdAt));
        const start = req.query.after ? all.findIndex((f) => f.id === req.query.after) + 1 : 0;
        const data = all.slice(start, start + Number(req.query.limit ?? 10_000)).map(fileJson);
        return {
          json: {
            object: "list",
            data,
            has_more: start + data.length < all.length,
            first_id: data[0]?.id ?? null,
            last_id: data.at(-1)?.id ?? null,
          },
        };
      }
      case "GET files/:id":
        return { json: fileJson(fileById(id!)) };
      case "GET files/:id/content":
        return { headers: { "content-type": "application/octet-stream" }, body: fileById(id!).bytes };
      case "DELETE files/:id":
        fileById(id!);
        files.delete(id!);
        return { json: { id, object: "file", deleted: true } };
    }
    if (resource === "fine_tuning" && id === "jobs") return fineTuningRoute(req, segments.slice(3), limit);
    switch (route) {
      case "GET models":
        return { json: { object: "list", data: [...models.values()].map(modelJson) } };
      case "GET models/:id": {
        const model = models.get(id!);
        if (!model)
          openaiFail(404, `The model '${id}' does not exist`, { param: "model", code: "model_not_found" });
        return { json: modelJson(model) };
      }
      case "DELETE models/:id": {
        const model = models.get(id!);
        if (!model)
          openaiFail(404, `The model '${id}' does not exist`, { param: "model", code: "model_not_found" });
        if (!model.fineTunedFrom) openaiFail(403, "You have insufficient permissions for this operation.");
        models.delete(id!);
        return { json: { id, object: "model", deleted: true } };
      }
    }
    return invalidUrl(req);
  };

  const fineTuningRoute = (req: RecordedRequest, rest: string[], limit: number): EmuResponse => {
    const [jobId, action] = rest;
    const after = req.query.after;
    if (req.method === "POST" && !jobId) return { json: fineTuning.create(jsonBody(req)) };
    if (req.method === "GET" && !jobId) return { json: { object: "list", ...fineTuning.list(after, limit) } };
    if (req.method === "GET" && jobId && !action) return { json: fineTuning.get(jobId) };
    if (req.method === "POST" && action === "cancel") return { json: fineTuning.cancel(jobId!) };
    if (req.method === "GET" && action === "events")
      return { json: { object: "list", ...fineTuning.events(jobId!, after, limit) } };
    if (req.method === "GET" && action === "checkpoints") {
      const result = fineTuning.checkpoints(jobId!, after, limit);
      return {
        json: {
          object: "list",
          ...result,
          first_id: result.data[0]?.id ?? null,
          last_id: result.data.at(-1)?.id ?? null,
        },
      };
    }
    return invalidUrl(req);
  };

  const fileById = (id: string): StoredFile => {
    const file = files.get(id);
    if (!file) openaiFail(404, `No such File object: ${id}`, { param: "id" });
    return file;
  };

  const server = await startEmulatorServer({
    handle: async (req) => withRequestId(await handle(req), newId("req_", 32)),
    errorResponse: openaiFaultResponse,
  });

  return {
    ...server,
    clock,
    tick: () => clock.next(),
    runJobs: () => clock.runAll(),
    setReply(fn) {
      reply = fn;
    },
    failNextJob(message, failure = {}) {
      fineTuning.failNextJob({ ...failure, message });
    },
    setShutdownDate(modelId, isoDate) {
      const model = models.get(modelId);
      if (!model) throw new Error(`unknown model ${modelId}`);
      if (isoDate === null) delete model.shutdown_date;
      else model.shutdown_date = isoDate;
    },
    addModel,
    models,
    files,
    fineTuning,
  };
}

function withRequestId(response: EmuResponse, id: string): EmuResponse {
  return { ...response, headers: { "x-request-id": id, ...response.headers } };
}

function invalidUrl(req: RecordedRequest): EmuResponse {
  return openaiError(404, `Invalid URL (${req.method} ${req.path})`);
}

function jsonBody(req: RecordedRequest): unknown {
  if (typeof req.body !== "object" || req.body === null || Buffer.isBuffer(req.body))
    openaiFail(
      400,
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    );
  return req.body;
}

function embeddingInputs(input: unknown): string[] {
  const invalid = () =>
    openaiFail(
      400,
      "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
    );
  // Token arrays are accepted by OpenAI; the emulator embeds their decimal text, which keeps them
  // deterministic without pretending to decode another tokenizer's ids.
  const one = (item: unknown): string => {
    if (typeof item === "string" && item.length > 0) return item;
    if (Array.isArray(item) && item.length > 0 && item.every((t) => typeof t === "number"))
      return item.join(" ");
    return invalid();
  };
  if (Array.isArray(input) && input.length > 0 && input.every((t) => typeof t === "number"))
    return [one(input)];
  if (Array.isArray(input) && input.length > 0) return input.map(one);
  return [one(input)];
}

function fileJson(file: StoredFile) {
  return {
    object: "file",
    id: file.id,
    purpose: file.purpose,
    filename: file.filename,
    bytes: file.bytes.length,
    created_at: file.createdAt,
    expires_at: null,
    status: "processed",
    status_details: null,
  };
}

function modelJson(model: OpenAIModel) {
  return {
    id: model.id,
    object: "model",
    created: model.created,
    owned_by: model.owned_by,
    ...(model.shutdown_date !== undefined ? { shutdown_date: model.shutdown_date } : {}),
  };
}

function streamChunks(
  head: Record<string, unknown>,
  content: string,
  finishReason: string,
  n: number,
  usage: Record<string, unknown>,
  request: ChatCompletionRequest,
): string[] {
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    JSON.stringify({ ...head, object: "chat.completion.chunk", choices, ...extra });
  const includeUsage = request.stream_options?.include_usage === true;
  const pieces = content.match(/\S+\s*|\s+/g) ?? [];
  const events: string[] = [];
  for (let index = 0; index < n; index++) {
    events.push(
      chunk([{ index, delta: { role: "assistant", content: "", refusal: null }, finish_reason: null }]),
    );
    for (const piece of pieces)
      events.push(chunk([{ index, delta: { content: piece }, finish_reason: null }]));
    events.push(chunk([{ index, delta: {}, finish_reason: finishReason }]));
  }
  if (includeUsage) events.push(chunk([], { usage }));
  events.push("[DONE]");
  return events;
}
