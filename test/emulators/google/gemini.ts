// A Gemini emulator answering both the Developer API and Vertex AI on one server, driven by the real
// @google/genai SDK through `httpOptions.baseUrl`:
//   Developer: new GoogleGenAI({ apiKey: "k", httpOptions: { baseUrl: emu.url } })
//   Vertex:    new GoogleGenAI({ vertexai: true, project, location, httpOptions: { baseUrl: emu.url },
//                               googleAuthOptions: offlineVertexAuth() })   (see vertex.ts)
// It serves generateContent (plain and SSE), countTokens, embeddings (embedContent,
// batchEmbedContents, Vertex :predict), Vertex tuning jobs reading their data from the GCS emulator,
// and generateContent on the tuned models those jobs create.
import { decode as decodeO200k, encode as encodeO200k } from "gpt-tokenizer/encoding/o200k_base";
import { embed } from "../embedding.ts";
import {
  type EmulatorServer,
  type EmuResponse,
  idGenerator,
  ManualClock,
  type RecordedRequest,
  startEmulatorServer,
} from "../http-recorder.ts";
import { countTokens } from "../openai/fine-tune-data.ts";
import { googleError, googleFail, googleFaultResponse } from "./errors.ts";
import type { GcsReader } from "./gcs.ts";
import {
  DEFAULT_VERTEX_TIMINGS,
  type GeminiContent,
  partsText,
  type TunedModelInfo,
  VERTEX_MIN_TRAINING_EXAMPLES,
  VERTEX_TUNABLE_MODELS,
  VertexTuning,
  type VertexTuningTimings,
} from "./vertex.ts";

export interface GenerateContentRequest {
  contents: GeminiContent[];
  systemInstruction?: GeminiContent;
  generationConfig?: { maxOutputTokens?: number; candidateCount?: number; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ReplyContext {
  /** Bare model id ("gemini-2.5-flash"), or the tuned model's resource name as addressed. */
  model: string;
  api: "gemini" | "vertex";
  tuned?: TunedModelInfo;
}

export type GeminiReply = (body: GenerateContentRequest, context: ReplyContext) => string | Promise<string>;

export interface GeminiEmulatorOptions {
  /** Developer API key to accept; any key when unset. */
  apiKey?: string;
  /** Where Vertex tuning jobs read `gs://` datasets (usually a startGcsEmulator()). */
  gcs?: GcsReader;
  clock?: ManualClock;
  /** Vertex names resources `projects/<number>/...`. Default "123456789012". */
  projectNumber?: string;
  tuningTimings?: Partial<VertexTuningTimings>;
  minTrainingExamples?: number;
  defaultEpochCount?: number;
  /** Extra generative model ids to serve. */
  models?: string[];
}

export interface GeminiEmulator extends EmulatorServer {
  clock: ManualClock;
  tick(): boolean;
  runJobs(): void;
  setReply(reply: GeminiReply): void;
  /** The next tuning job created fails at the end of training with this message. */
  failNextJob(message: string): void;
  tuning: VertexTuning;
}

const GENERATIVE_MODELS = [
  "gemini-2.5-flash",
  "gemini-2.5-flash-lite",
  "gemini-2.5-pro",
  "gemini-2.0-flash",
  "gemini-2.0-flash-001",
  "gemini-2.0-flash-lite",
  "gemini-2.0-flash-lite-001",
  "gemini-flash-latest",
  "gemini-flash-lite-latest",
  "gemini-3-flash-preview",
  "gemini-3-pro-preview",
];

/** Native widths; `outputDimensionality` may shorten them. gemini-embedding-001 really is 3072 wide. */
const EMBEDDING_MODELS: Record<string, number> = {
  "gemini-embedding-001": 3072,
  "text-embedding-004": 768,
  "text-embedding-005": 768,
  "text-multilingual-embedding-002": 768,
};
const DEFAULT_EMBEDDING_DIMENSIONS = 768;

const API_VERSIONS = new Set(["v1", "v1beta", "v1beta1", "v1alpha"]);

export const defaultGeminiReply: GeminiReply = (body, context) => {
  const lastUser = [...body.contents].reverse().find((c) => c.role === undefined || c.role === "user");
  return `echo(${context.model}): ${partsText(lastUser).slice(0, 200)}`;
};

/** Where a request points: which API, which resource, which `:method`. */
interface Target {
  api: "gemini" | "vertex";
  version: string;
  /** e.g. ["models", "gemini-2.5-flash"] or ["projects", p, "locations", l, "endpoints", id]. */
  resource: string[];
  method?: string;
}

export async function startGeminiEmulator(options: GeminiEmulatorOptions = {}): Promise<GeminiEmulator> {
  const clock = options.clock ?? new ManualClock();
  const newId = idGenerator("gemini");
  const generative = new Set([...GENERATIVE_MODELS, ...(options.models ?? [])]);
  let reply: GeminiReply = defaultGeminiReply;
  const tuning = new VertexTuning({
    clock,
    gcs: options.gcs,
    projectNumber: options.projectNumber ?? "123456789012",
    timings: { ...DEFAULT_VERTEX_TIMINGS, ...options.tuningTimings },
    minExamples: options.minTrainingExamples ?? VERTEX_MIN_TRAINING_EXAMPLES,
    defaultEpochCount: options.defaultEpochCount ?? 5,
    tunableModels: VERTEX_TUNABLE_MODELS,
  });

  const authenticate = (req: RecordedRequest, api: Target["api"]) => {
    const key = String(req.headers["x-goog-api-key"] ?? req.query.key ?? "");
    const bearer = /^Bearer\s+\S+/i.test(String(req.headers.authorization ?? ""));
    if (api === "vertex") {
      if (!key && !bearer)
        googleFail(
          401,
          "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        );
      return;
    }
    if (!key)
      googleFail(
        403,
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
      );
    if (options.apiKey !== undefined && key !== options.apiKey)
      googleFail(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT");
  };

  /** Resolves the model a generate/embed call addresses, or answers 404 like the real API. */
  const resolveModel = (target: Target, kind: "generate" | "embed"): ReplyContext => {
    const r = target.resource;
    const addressed = r.join("/");
    // projects/{p}/locations/{l}/endpoints/{id} or .../models/{id}[@version]: tuned models.
    if (r[0] === "projects" && (r[4] === "endpoints" || r[4] === "models") && r.length === 6) {
      const tuned = tuning.tunedModels.get(`${r[4]}/${r[5]!.replace(/@.*$/, "")}`);
      if (!tuned || kind !== "generate")
        googleFail(404, `The ${r[4] === "endpoints" ? "Endpoint" : "Model"} \`${addressed}\` was not found.`);
      return { model: addressed, api: "vertex", tuned };
    }
    const modelIndex = r.lastIndexOf("models");
    const model = modelIndex >= 0 ? r.slice(modelIndex + 1).join("/") : "";
    const known = kind === "generate" ? generative.has(model) : model in EMBEDDING_MODELS;
    if (!known) {
      if (target.api === "gemini")
        googleFail(
          404,
          `models/${model} is not found for API version ${target.version}, or is not supported for ${target.method}. Call ListModels to see the list of available models and their supported methods.`,
        );
      googleFail(
        404,
        `Publisher Model \`${addressed}\` was not found or your project does not have access to it. Please ensure you are using a valid model version. For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions`,
      );
    }
    return { model, api: target.api };
  };

  const generate = async (req: RecordedRequest, target: Target, stream: boolean): Promise<EmuResponse> => {
    const body = jsonBody(req) as Partial<GenerateContentRequest>;
    if (!Array.isArray(body.contents) || body.contents.length === 0)
      googleFail(400, "* GenerateContentRequest.contents: contents is not specified\n");
    const context = resolveModel(target, "generate");
    const request = body as GenerateContentRequest;
    let text = await reply(request, context);
    let finishReason = "STOP";
    const tokens = encodeO200k(text, { disallowedSpecial: new Set() });
    const limit = request.generationConfig?.maxOutputTokens;
    if (typeof limit === "number" && tokens.length > limit) {
      text = decodeO200k(tokens.slice(0, limit));
      finishReason = "MAX_TOKENS";
    }
    const promptTokens = promptTokenCount(request);
    const candidateTokens = Math.min(tokens.length, limit ?? Number.POSITIVE_INFINITY);
    const usageMetadata = {
      promptTokenCount: promptTokens,
      candidatesTokenCount: candidateTokens,
      totalTokenCount: promptTokens + candidateTokens,
      promptTokensDetails: [{ modality: "TEXT", tokenCount: promptTokens }],
    };
    const head = {
      modelVersion: context.tuned ? context.tuned.baseModel : context.model,
      responseId: newId("", 22),
      ...(target.api === "vertex" ? { createTime: new Date(clock.now()).toISOString() } : {}),
    };
    const candidate = (parts: string, finish?: string) => ({
      content: { role: "model", parts: [{ text: parts }] },
      ...(finish ? { finishReason: finish } : {}),
      index: 0,
    });
    if (!stream) return { json: { candidates: [candidate(text, finishReason)], usageMetadata, ...head } };
    // SSE: the text in a few chunks; the last carries finishReason and the full usage.
    const pieces = text.match(/\S+\s*|\s+/g) ?? [""];
    return {
      sse: pieces.map((piece, i) =>
        JSON.stringify({
          candidates: [candidate(piece, i === pieces.length - 1 ? finishReason : undefined)],
          usageMetadata: i === pieces.length - 1 ? usageMetadata : { promptTokenCount: promptTokens },
          ...head,
        }),
      ),
    };
  };

  const embedding = (req: RecordedRequest, target: Target): EmuResponse => {
    const body = jsonBody(req) as Record<string, unknown>;
    const { model } = resolveModel(target, "embed");
    const native = EMBEDDING_MODELS[model] ?? DEFAULT_EMBEDDING_DIMENSIONS;
    const width = (requested: unknown) => {
      if (requested === undefined) return native;
      if (
        typeof requested !== "number" ||
        !Number.isInteger(requested) ||
        requested < 1 ||
        requested > native
      )
        googleFail(
          400,
          `outputDimensionality must be an integer between 1 and ${native}, got ${String(requested)}.`,
        );
      return requested;
    };
    const contentText = (content: unknown) => partsText(content as GeminiContent);
    switch (target.method) {
      case "batchEmbedContents": {
        const requests = Array.isArray(body.requests)
          ? (body.requests as Array<Record<string, unknown>>)
          : [];
        if (!requests.length)
          googleFail(400, "* BatchEmbedContentsRequest.requests: requests is not specified\n");
        return {
          json: {
            embeddings: requests.map((r) => ({
              values: embed(contentText(r.content), width(r.outputDimensionality)),
            })),
          },
        };
      }
      case "embedContent": {
        // Developer API: {content, outputDimensionality}; Vertex: {content, embedContentConfig}.
        const config = (body.embedContentConfig ?? {}) as Record<string, unknown>;
        const text = contentText(body.content);
        const values = embed(text, width(body.outputDimensionality ?? config.outputDimensionality));
        if (target.api === "gemini") return { json: { embedding: { values } } };
        return {
          json: {
            embedding: { values },
            usageMetadata: { promptTokenCount: countTokens(text) },
            truncated: false,
          },
        };
      }
      case "predict": {
        const instances = Array.isArray(body.instances)
          ? (body.instances as Array<Record<string, unknown>>)
          : [];
        if (!instances.length) googleFail(400, "instances must not be empty.");
        const parameters = (body.parameters ?? {}) as Record<string, unknown>;
        const dims = width(parameters.outputDimensionality);
        const texts = instances.map((i) =>
          typeof i.content === "string" ? i.content : contentText(i.content),
        );
        return {
          json: {
            predictions: texts.map((text) => ({
              embeddings: {
                values: embed(text, dims),
                statistics: { truncated: false, token_count: countTokens(text) },
              },
            })),
            metadata: { billableCharacterCount: texts.reduce((n, t) => n + t.length, 0) },
          },
        };
      }
    }
    return googleFail(404, `Method ${target.method} is not supported by the emulator.`);
  };

  const tuningRoute = (
    req: RecordedRequest,
    target: Target,
    location: string,
    rest: string[],
  ): EmuResponse => {
    const [jobId] = rest;
    if (req.method === "POST" && !jobId) return { json: tuning.create(location, jsonBody(req)) };
    if (req.method === "GET" && !jobId)
      return { json: tuning.list(Number(req.query.pageSize ?? 50) || 50, req.query.pageToken) };
    if (req.method === "GET" && jobId && !target.method) return { json: tuning.get(jobId) };
    if (req.method === "POST" && jobId && target.method === "cancel") {
      tuning.cancel(jobId);
      return { json: {} };
    }
    return notFound(req);
  };

  const handle = async (req: RecordedRequest): Promise<EmuResponse> => {
    const target = parseTarget(req.path);
    if (!target) return notFound(req);
    authenticate(req, target.api);
    const r = target.resource;
    // Tuning jobs: projects/{p}/locations/{l}/tuningJobs[/{id}] or, in express mode, tuningJobs[/{id}].
    if (r[0] === "projects" && r[2] === "locations" && r[4] === "tuningJobs")
      return tuningRoute(req, target, r[3]!, r.slice(5));
    if (r[0] === "tuningJobs") return tuningRoute(req, target, "global", r.slice(1));
    if (req.method !== "POST") return notFound(req);
    switch (target.method) {
      case "generateContent":
        return generate(req, target, false);
      case "streamGenerateContent":
        return generate(req, target, true);
      case "countTokens": {
        const body = jsonBody(req) as {
          contents?: GeminiContent[];
          generateContentRequest?: GenerateContentRequest;
        };
        resolveModel(target, "generate");
        const request = body.generateContentRequest ?? { contents: body.contents ?? [] };
        return { json: { totalTokens: promptTokenCount(request) } };
      }
      case "embedContent":
      case "batchEmbedContents":
      case "predict":
        return embedding(req, target);
    }
    return notFound(req);
  };

  const server = await startEmulatorServer({ handle, errorResponse: googleFaultResponse });
  return {
    ...server,
    clock,
    tick: () => clock.next(),
    runJobs: () => clock.runAll(),
    setReply(fn) {
      reply = fn;
    },
    failNextJob: (message) => tuning.failNextJob(message),
    tuning,
  };
}

/** `/v1beta/models/x:generateContent` -> {api: gemini, resource: [models, x], method: generateContent}. */
function parseTarget(path: string): Target | undefined {
  const segments = path.split("/").filter(Boolean).map(decodeURIComponent);
  const [version, ...resource] = segments;
  if (!version || !API_VERSIONS.has(version) || resource.length === 0) return undefined;
  const last = resource[resource.length - 1]!;
  const colon = last.lastIndexOf(":");
  let method: string | undefined;
  if (colon > 0) {
    method = last.slice(colon + 1);
    resource[resource.length - 1] = last.slice(0, colon);
  }
  // The Developer API addresses `models/...` and `tunedModels/...`; everything else is Vertex.
  const api = resource[0] === "models" || resource[0] === "tunedModels" ? "gemini" : "vertex";
  return { api, version, resource, method };
}

/** Stand-in for Gemini's tokenizer: o200k_base tokens of the system instruction and every text part. */
function promptTokenCount(request: Pick<GenerateContentRequest, "contents" | "systemInstruction">): number {
  let tokens = countTokens(partsText(request.systemInstruction));
  for (const content of request.contents) tokens += countTokens(partsText(content));
  return tokens;
}

function jsonBody(req: RecordedRequest): unknown {
  if (typeof req.body !== "object" || req.body === null || Buffer.isBuffer(req.body))
    googleFail(400, "Invalid JSON payload received.");
  return req.body;
}

function notFound(req: RecordedRequest): EmuResponse {
  return googleError(404, `The emulator has no route for ${req.method} ${req.path}.`);
}
