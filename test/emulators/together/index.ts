/**
 * Together AI emulator: fine-tuning (files, LoRA SFT jobs on a manual clock, price estimates, events,
 * metrics), OpenAI-compatible chat completions, and the v2 dedicated-deployment adapter API, with
 * Together's JSON shapes and error body, so the real `together-ai` SDK, the `openai` SDK and plain
 * `fetch` clients can be tested offline.
 *
 *   const emu = await startTogetherEmulator({ apiKey: "tg-test" });
 *   const together = new Together({ apiKey: "tg-test", baseURL: `${emu.url}/v1`, maxRetries: 0 });
 *   const openai = new OpenAI({ apiKey: "tg-test", baseURL: `${emu.url}/v1` });
 *
 * Surface (every request is recorded in `requests`; `failNext` / `hangNext` inject faults in
 * Together's error shape, with `retry-after` when asked):
 * - Files (files.ts): `POST /v1/files/upload` (multipart), the SDK's signed-URL upload
 *   (`POST /v1/files` -> 302, `PUT` the bytes), `GET /v1/files`, `GET|DELETE /v1/files/{id}`,
 *   `GET /v1/files/{id}/content`. Fine-tune files are validated (data.ts) after `validationMs`.
 * - Fine-tuning (fine-tunes.ts): `POST /v1/fine-tunes`, `GET /v1/fine-tunes`,
 *   `POST /v1/fine-tunes/estimate-price`, `GET|DELETE /v1/fine-tunes/{id}`, `.../events`,
 *   `.../metrics`, `POST .../cancel`, `GET /v1/fine-tunes/models/supported`, `.../models/limits`.
 *   Jobs move on `clock` (`tick()`, `runJobs()`); `failNextJob(message)` plans an `error`.
 *   Billing: tokens (data.ts) x epochs (+ evals), priced at the model's emulator rate, reported as
 *   `total_price` in nano-dollars; `estimate-price` quotes the same numbers in dollars.
 * - Chat (chat.ts): `POST /v1/chat/completions`; `answers` records which model answered and how.
 * - v2 adapters (deployments.ts): `addDeployment(...)`, then attach/list/get/detach under
 *   `/v2/projects/{p}/endpoints/{e}/deployments/{d}/adapters`. A completed LoRA job registers its
 *   `adapter_object_id` as an adapter model of `projectId`.
 * Auth: `Authorization: Bearer <key>` on /v1 and /v2 (any key unless `apiKey` is set); the signed
 * upload URL needs none, like a presigned URL.
 */
import { createHash } from "node:crypto";
import {
  EmuHttpError,
  type EmulatorServer,
  type EmuResponse,
  ManualClock,
  type RecordedRequest,
  startEmulatorServer,
} from "../http-recorder.ts";
import {
  type ChatAnswer,
  type ChatReply,
  chatCompletion,
  chatCompletionEvents,
  defaultChatReply,
} from "./chat.ts";
import {
  type AdapterTimings,
  DEFAULT_ADAPTER_TIMINGS,
  type Deployment,
  TogetherDeployments,
} from "./deployments.ts";
import { togetherError, togetherFail, togetherFaultResponse } from "./errors.ts";
import { TogetherFiles } from "./files.ts";
import {
  DEFAULT_TIMINGS,
  DEFAULT_TUNABLE_MODELS,
  type FineTuneTimings,
  type PlannedFailure,
  TogetherFineTunes,
  type TunableModel,
} from "./fine-tunes.ts";

export type { ChatAnswer, ChatReply } from "./chat.ts";
export type { Deployment } from "./deployments.ts";

export interface TogetherEmulatorOptions {
  /** When set, only this key is accepted; otherwise any bearer token is. */
  apiKey?: string;
  /** Account name in `model_output_name` (`<account>/<base>-<suffix>-<hash>`). Default "emulator-user". */
  account?: string;
  /** Project of the v2 API that completed adapters are registered in. Default "proj_emulator". */
  projectId?: string;
  clock?: ManualClock;
  seed?: string;
  timings?: Partial<FineTuneTimings>;
  adapterTimings?: Partial<AdapterTimings>;
  models?: Record<string, TunableModel>;
  /** Serverless chat models. */
  chatModels?: string[];
  /** Milliseconds before an uploaded fine-tune file is validated. Default 0 (at upload). */
  validationMs?: number;
  /** Whether completed fine-tunes answer chat by `model_output_name` without a deployment. Default true. */
  serverlessLora?: boolean;
  creditLimitUsd?: number;
}

export interface TogetherEmulator extends EmulatorServer {
  clock: ManualClock;
  /** Moves the clock to the next pending transition and runs it; false when nothing is pending. */
  tick(): boolean;
  /** Runs every pending transition (jobs end completed, error or cancelled; adapters READY). */
  runJobs(): void;
  failNextJob(message: string, options?: Omit<PlannedFailure, "message">): void;
  setReply(reply: ChatReply): void;
  setServerlessLora(on: boolean): void;
  addDeployment(d: Omit<Deployment, "adapters" | "maxAdapters"> & { maxAdapters?: number }): Deployment;
  files: TogetherFiles;
  fineTunes: TogetherFineTunes;
  deployments: TogetherDeployments;
  answers: ChatAnswer[];
}

const DEFAULT_CHAT_MODELS = ["meta-llama/Llama-3.3-70B-Instruct-Turbo", "Qwen/Qwen2.5-7B-Instruct-Turbo"];

export async function startTogetherEmulator(
  options: TogetherEmulatorOptions = {},
): Promise<TogetherEmulator> {
  const clock = options.clock ?? new ManualClock();
  const seed = options.seed ?? "together";
  let counter = 0;
  const newHex = (length: number) => {
    let out = "";
    while (out.length < length) out += createHash("sha256").update(`${seed}:${counter++}`).digest("hex");
    return out.slice(0, length);
  };
  const newUuid = () => {
    const h = newHex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  const projectId = options.projectId ?? "proj_emulator";
  const models = options.models ?? DEFAULT_TUNABLE_MODELS;
  let serverlessLora = options.serverlessLora ?? true;
  let reply: ChatReply = defaultChatReply;
  const answers: ChatAnswer[] = [];
  let url = "";

  const files = new TogetherFiles({
    clock,
    newUuid,
    baseUrl: () => url,
    validationMs: options.validationMs ?? 0,
  });
  const deployments = new TogetherDeployments({
    clock,
    newHex,
    timings: { ...DEFAULT_ADAPTER_TIMINGS, ...options.adapterTimings },
  });
  const fineTunes = new TogetherFineTunes({
    clock,
    newUuid,
    newHex,
    files,
    account: options.account ?? "emulator-user",
    userId: newHex(24),
    models,
    timings: { ...DEFAULT_TIMINGS, ...options.timings },
    creditLimitUsd: options.creditLimitUsd ?? 100,
    onCompleted: (job) => {
      if (job.adapterObjectId && job.adapterObjectName)
        deployments.addAdapterModel({
          id: job.adapterObjectId,
          projectId,
          name: job.adapterObjectName,
          baseModel: job.model,
        });
    },
    onDeleted: (job) => {
      if (job.adapterObjectId) deployments.adapterModels.delete(job.adapterObjectId);
    },
  });
  const chatDeps = {
    now: () => clock.now(),
    newId: () => newHex(16),
    baseModels: new Set(options.chatModels ?? DEFAULT_CHAT_MODELS),
    serverlessLora: () => serverlessLora,
    completedJobs: () => [...fineTunes.records.values()].filter((r) => r.status === "completed"),
    deployments,
    reply: () => reply,
    answers,
  };

  const handle = (req: RecordedRequest): EmuResponse => {
    const segments = req.path.split("/").filter(Boolean).map(decodeURIComponent);
    if (req.method === "PUT" && segments[0] === "signed-upload") {
      if (!files.finishSignedUpload(segments[1] ?? "", req.rawBody))
        return { status: 403, body: "AccessDenied: the upload URL is invalid or expired" };
      return { status: 200, body: "" };
    }
    const token = /^Bearer\s+(.+)$/i.exec(String(req.headers.authorization ?? ""))?.[1]?.trim();
    if (!token || (options.apiKey !== undefined && token !== options.apiKey))
      return togetherError(
        401,
        "Invalid API key provided. You can find your API key at https://api.together.xyz/settings/api-keys.",
        { code: "invalid_api_key" },
      );
    const [version, ...rest] = segments;
    if (version === "v2") {
      const result = deployments.route(req.method, rest, req.body, req.query);
      return result === undefined ? notFound(req) : { json: result };
    }
    if (version !== "v1") return notFound(req);
    if (req.method === "POST" && rest.join("/") === "chat/completions") {
      const completion = chatCompletion(req, chatDeps);
      const stream = (req.body as { stream?: unknown } | undefined)?.stream === true;
      return stream ? { sse: chatCompletionEvents(completion) } : { json: completion };
    }
    const [resource, id, action] = rest;
    const route = `${req.method} ${[resource, id && (resource === "fine-tunes" && ["estimate-price", "models"].includes(id) ? id : ":id"), action].filter(Boolean).join("/")}`;
    switch (route) {
      case "GET models":
        return {
          json: [...chatDeps.baseModels].map((m) => ({ id: m, object: "model", type: "chat", created: 0 })),
        };
      case "POST files/:id":
        if (id !== "upload") return notFound(req);
        return { json: files.json(files.uploadMultipart(req)) };
      case "POST files": {
        const { id: fileId, uploadUrl } = files.startSignedUpload(req);
        return { status: 302, headers: { location: uploadUrl, "x-together-file-id": fileId }, body: "" };
      }
      case "GET files":
        return { json: { data: [...files.files.values()].map((f) => files.json(f)) } };
      case "GET files/:id":
        return { json: files.json(files.get(id!)) };
      case "DELETE files/:id":
        return { json: files.delete(id!) };
      case "GET files/:id/content":
        return { headers: { "content-type": "application/octet-stream" }, body: files.get(id!).bytes };
      case "POST fine-tunes":
        return { json: fineTunes.create(req.body) };
      case "GET fine-tunes":
        return { json: fineTunes.list() };
      case "POST fine-tunes/estimate-price":
        return { json: fineTunes.estimatePrice(req.body) };
      case "GET fine-tunes/models/supported":
        return { json: { models: Object.keys(models) } };
      case "GET fine-tunes/models/limits": {
        const name = req.query.model_name ?? "";
        const limits = models[name];
        if (!limits) return { status: 404, json: { message: `Model ${name} not found` } };
        return {
          json: {
            model_name: name,
            max_num_epochs: limits.maxEpochs,
            max_num_evals: limits.maxEvals,
            max_learning_rate: 1,
            min_learning_rate: 0,
            lora_training: {
              max_batch_size: 64,
              max_batch_size_dpo: 32,
              min_batch_size: 8,
              max_rank: limits.maxLoraRank,
              target_modules: ["all-linear"],
            },
          },
        };
      }
      case "GET fine-tunes/:id":
        return { json: fineTunes.get(id!) };
      case "DELETE fine-tunes/:id":
        return { json: fineTunes.delete(id!) };
      case "GET fine-tunes/:id/events":
        return { json: fineTunes.events(id!) };
      case "GET fine-tunes/:id/metrics":
        return { json: fineTunes.metrics(id!, req.query) };
      case "POST fine-tunes/:id/cancel":
        return { json: fineTunes.cancel(id!) };
    }
    return notFound(req);
  };

  const server = await startEmulatorServer({
    handle: (req) => {
      let response: EmuResponse;
      try {
        response = handle(req);
      } catch (error) {
        if (!(error instanceof EmuHttpError)) throw error;
        response = error.response;
      }
      // Together errors carry the request id at the top level, next to `error`.
      if ((response.status ?? 200) >= 400 && isErrorBody(response.json))
        response.json = { id: newHex(16), ...response.json };
      return response;
    },
    errorResponse: togetherFaultResponse,
  });
  url = server.url;

  return {
    ...server,
    clock,
    tick: () => clock.next(),
    runJobs: () => clock.runAll(),
    failNextJob(message, failure = {}) {
      fineTunes.failNextJob({ ...failure, message });
    },
    setReply(fn) {
      reply = fn;
    },
    setServerlessLora(on) {
      serverlessLora = on;
    },
    addDeployment: (d) => deployments.addDeployment(d),
    files,
    fineTunes,
    deployments,
    answers,
  };
}

function notFound(req: RecordedRequest): never {
  togetherFail(404, `Not found: ${req.method} ${req.path}`, { code: "not_found" });
}

function isErrorBody(json: unknown): json is Record<string, unknown> {
  return typeof json === "object" && json !== null && "error" in json;
}
