// A Gemini emulator answering both the Developer API and Vertex AI on one server, driven by the real
// @google/genai SDK through `httpOptions.baseUrl`:
//   Developer: new GoogleGenAI({ apiKey: "k", httpOptions: { baseUrl: emu.url } })
//   Vertex:    new GoogleGenAI({ vertexai: true, project, location, httpOptions: { baseUrl: emu.url },
//                               googleAuthOptions: offlineVertexAuth() })   (see vertex.ts)
// It serves generateContent (plain and SSE), countTokens, embeddings (embedContent,
// batchEmbedContents, Vertex :predict), Vertex tuning jobs reading their data from the GCS emulator,
// and generateContent on the tuned models those jobs create. This file holds the server, its
// authentication, which model a request addresses, and the routing; generate.ts, embeddings.ts,
// vertex-tuning.ts (with vertex-data.ts) and target.ts hold the rest.
import {
  type EmulatorServer,
  type EmuResponse,
  idGenerator,
  ManualClock,
  type RecordedRequest,
  type SsePacing,
  startEmulatorServer,
} from "../http-recorder.ts";
import { EMBEDDING_MODELS, embedding } from "./embeddings.ts";
import { googleFail, googleFaultResponse, jsonBody, notFound } from "./errors.ts";
import type { GcsReader } from "./gcs.ts";
import {
  countTokensRoute,
  defaultGeminiReply,
  type GeminiReply,
  type GenerateContext,
  generate,
  type ReplyContext,
} from "./generate.ts";
import { parseTarget, type Target } from "./target.ts";
import { VERTEX_MIN_TRAINING_EXAMPLES } from "./vertex-data.ts";
import { VertexExperiments } from "./vertex-experiments.ts";
import {
  DEFAULT_VERTEX_TIMINGS,
  VERTEX_TUNABLE_MODELS,
  VertexTuning,
  type VertexTuningTimings,
} from "./vertex-tuning.ts";

export type { GeminiReply, GenerateContentRequest, ReplyContext } from "./generate.ts";
export { defaultGeminiReply } from "./generate.ts";

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
  /** How streamed answers go out from now on (paced, cut off after n events); undefined: at once. */
  setStreaming(pacing: SsePacing | undefined): void;
  /** The next tuning job created fails at the end of training with this message. */
  failNextJob(message: string): void;
  tuning: VertexTuning;
  /** Finished jobs' experiments: their loss curves (TensorBoard time series). */
  experiments: VertexExperiments;
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

export async function startGeminiEmulator(options: GeminiEmulatorOptions = {}): Promise<GeminiEmulator> {
  const clock = options.clock ?? new ManualClock();
  const newId = idGenerator("gemini");
  const generative = new Set([...GENERATIVE_MODELS, ...(options.models ?? [])]);
  let reply: GeminiReply = defaultGeminiReply;
  let streaming: SsePacing | undefined;
  const experiments = new VertexExperiments(options.projectNumber ?? "123456789012");
  const tuning = new VertexTuning({
    clock,
    experiments,
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

  const generation: GenerateContext = {
    resolveModel,
    reply: () => reply,
    newId,
    now: () => clock.now(),
    streaming: () => streaming,
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
    if (req.method === "GET" && r[0] === "projects" && r[2] === "locations") {
      const json = experiments.route(r, target.method);
      if (json !== undefined) return { json };
    }
    if (req.method !== "POST") return notFound(req);
    switch (target.method) {
      case "generateContent":
        return generate(req, target, false, generation);
      case "streamGenerateContent":
        return generate(req, target, true, generation);
      case "countTokens":
        return countTokensRoute(req, target, generation);
      case "embedContent":
      case "batchEmbedContents":
      case "predict":
        return embedding(req, target, resolveModel(target, "embed").model);
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
    setStreaming(pacing) {
      streaming = pacing;
    },
    failNextJob: (message) => tuning.failNextJob(message),
    tuning,
    experiments,
  };
}
