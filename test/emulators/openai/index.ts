// An OpenAI API emulator for tests, driven by the real `openai` SDK through its base URL:
//   const emu = await startOpenAIEmulator();
//   const client = new OpenAI({ apiKey: "test", baseURL: `${emu.url}/v1` });
// It serves chat completions (plain and streamed), embeddings (float and base64), files, fine-tuning
// jobs (on a manual clock) and models, with OpenAI's JSON shapes and error bodies. This file holds
// the server, its authentication and the routing; each API lives in a file of its own: chat.ts,
// embeddings.ts, files.ts, fine-tuning.ts (jobs) with fine-tune-data.ts (the training-file rules),
// models.ts, errors.ts.
import {
  type EmulatorServer,
  type EmuResponse,
  idGenerator,
  ManualClock,
  type RecordedRequest,
  type SsePacing,
  startEmulatorServer,
} from "../http-recorder.ts";
import { type ChatReply, chatCompletion, defaultChatReply } from "./chat.ts";
import { embeddings } from "./embeddings.ts";
import { invalidUrl, openaiError, openaiFaultResponse } from "./errors.ts";
import { fileRoute } from "./files.ts";
import {
  DEFAULT_FINE_TUNING_TIMINGS,
  type FineTuningJobJson,
  type FineTuningTimings,
  fineTuningRoute,
  OpenAIFineTuning,
  type PlannedFailure,
  type StoredFile,
} from "./fine-tuning.ts";
import { BASE_CREATED, type OpenAIModel, OpenAIModels, TUNABLE_MODELS } from "./models.ts";

export type { ChatCompletionRequest, ChatReply } from "./chat.ts";
export { defaultChatReply } from "./chat.ts";
export type { OpenAIModel } from "./models.ts";

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
  /** How streamed answers go out from now on (paced, cut off after n events); undefined: at once. */
  setStreaming(pacing: SsePacing | undefined): void;
  /** The next fine-tuning job created fails with this message (at the end of training by default). */
  failNextJob(message: string, options?: Omit<PlannedFailure, "message">): void;
  setShutdownDate(modelId: string, isoDate: string | null): void;
  addModel(model: Partial<OpenAIModel> & { id: string }): void;
  models: Map<string, OpenAIModel>;
  /** Uploaded files by id, with their exact bytes and (for fine-tune) their format check. */
  files: Map<string, StoredFile>;
  fineTuning: OpenAIFineTuning;
}

export async function startOpenAIEmulator(options: OpenAIEmulatorOptions = {}): Promise<OpenAIEmulator> {
  const clock = options.clock ?? new ManualClock();
  const now = () => clock.now();
  const newId = idGenerator(options.seed ?? "openai");
  const organization = options.organization ?? "emulator-org";
  const models = new OpenAIModels(now);
  const files = new Map<string, StoredFile>();
  let reply: ChatReply = defaultChatReply;
  let streaming: SsePacing | undefined;

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
      models.add({
        id,
        created: job.finished_at ?? BASE_CREATED,
        owned_by: organization,
        fineTunedFrom: base,
      }),
    onResultFile: (file) => files.set(file.id, file),
  });

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
    if (req.method === "POST" && segments.slice(1).join("/") === "chat/completions")
      return chatCompletion(req, { models, reply: () => reply, newId, now, streaming: () => streaming });
    const route = `${req.method} ${[resource, id && ":id", sub].filter(Boolean).join("/")}`;
    if (route === "POST embeddings") return embeddings(req, models);
    if (resource === "files") return fileRoute(req, route, id, { files, newId, now }) ?? invalidUrl(req);
    if (resource === "fine_tuning" && id === "jobs")
      return fineTuningRoute(fineTuning, req, segments.slice(3), Number(req.query.limit ?? 20));
    if (resource === "models") return models.route(route, id) ?? invalidUrl(req);
    return invalidUrl(req);
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
    setStreaming(pacing) {
      streaming = pacing;
    },
    failNextJob(message, failure = {}) {
      fineTuning.failNextJob({ ...failure, message });
    },
    setShutdownDate: (modelId, isoDate) => models.setShutdownDate(modelId, isoDate),
    addModel: (model) => models.add(model),
    models: models.all,
    files,
    fineTuning,
  };
}

function withRequestId(response: EmuResponse, id: string): EmuResponse {
  return { ...response, headers: { "x-request-id": id, ...response.headers } };
}
