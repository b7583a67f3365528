// The Together AI emulator, driven by the official `together-ai` SDK (0.52) and the `openai` SDK
// through their base URLs, plus plain multipart `fetch` for the upload the OpenAPI spec documents.
// These tests pin the emulator's wire behaviour so provider tests can trust it.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import TogetherClient from "together-ai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkTogetherJsonl, countExampleTokens } from "./emulators/together/data.ts";
import { startTogetherEmulator, type TogetherEmulator } from "./emulators/together/index.ts";

// The SDK's `files.upload(path)` helper (together-ai 0.52 `lib/upload`) has three defects, which is why
// the product's provider uploads with multipart `POST /v1/files/upload` instead: it reads
// TOGETHER_API_BASE_URL once, when the module loads, and ignores the client's baseURL; its ESM build
// calls `require` (lib/node-unsafe-imports.mjs), which an ES module does not have ("extname is not a
// function"); and its `PUT` of a file stream lacks `duplex: "half"`, which Node's fetch requires. The
// emulator serves the flow the helper speaks, driven here with plain fetch; the CommonJS build (set up
// with the variable before it loads) shows the last defect.
let sdkEmu: TogetherEmulator;
let TogetherCjs: typeof TogetherClient;
beforeAll(async () => {
  sdkEmu = await startTogetherEmulator({ apiKey: "tg-test", seed: "sdk" });
  process.env.TOGETHER_API_BASE_URL = `${sdkEmu.url}/v1`;
  TogetherCjs = createRequire(import.meta.url)("together-ai") as typeof TogetherClient;
});
afterAll(async () => {
  await sdkEmu.close();
});

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function together(options: Parameters<typeof startTogetherEmulator>[0] = {}) {
  const emu = await startTogetherEmulator({ apiKey: "tg-test", ...options });
  closers.push(() => emu.close());
  const client = new TogetherClient({ apiKey: "tg-test", baseURL: `${emu.url}/v1`, maxRetries: 0 });
  return { emu, client };
}

/** `n` conversational examples, distinct so their token counts differ. */
function conversations(n: number): string {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: `What is ${i} plus ${i}? (ünïcödé ✓)` },
        { role: "assistant", content: `${i + i}, of course.` },
      ],
    }),
  )
    .map((line) => `${line}\n`)
    .join("");
}

async function upload(emu: TogetherEmulator, content: string, fields: Record<string, string> = {}) {
  const form = new FormData();
  const all = { purpose: "fine-tune", file_name: "train.jsonl", ...fields };
  for (const [key, value] of Object.entries(all)) if (value !== "") form.append(key, value);
  form.append("file", new Blob([content]), all.file_name);
  const response = await fetch(`${emu.url}/v1/files/upload`, {
    method: "POST",
    headers: { authorization: "Bearer tg-test" },
    body: form,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function caught(promise: Promise<unknown>): Promise<InstanceType<typeof TogetherClient.APIError>> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TogetherClient.APIError);
  return error as InstanceType<typeof TogetherClient.APIError>;
}

const LORA = { type: "Lora" as const, lora_r: 16, lora_alpha: 32 };

describe("Together emulator: files", () => {
  it("takes the SDK's signed-URL upload flow and keeps the exact bytes", async () => {
    // What together-ai 0.52 lib/upload does: register the file (302 + Location + file id), PUT the
    // raw bytes to the signed URL without credentials, then read the file back.
    const content = conversations(3);
    const params = new URLSearchParams({
      file_name: "/tmp/x/train.jsonl",
      file_type: "jsonl",
      purpose: "fine-tune",
    });
    const register = await fetch(`${sdkEmu.url}/v1/files?${params}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Bearer tg-test" },
      redirect: "manual",
      body: params.toString(),
    });
    expect(register.status).toBe(302);
    const id = register.headers.get("x-together-file-id")!;
    expect(id).toMatch(/^file-[0-9a-f-]{36}$/);
    const client = new TogetherCjs({ apiKey: "tg-test", baseURL: `${sdkEmu.url}/v1`, maxRetries: 0 });
    expect((await client.files.retrieve(id)).Processed).toBe(false);
    const put = await fetch(register.headers.get("location")!, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: content,
    });
    expect(put.status).toBe(200);
    expect(await client.files.retrieve(id)).toMatchObject({
      id,
      object: "file",
      purpose: "fine-tune",
      FileType: "jsonl",
      Processed: true,
      processing_status: "COMPLETED",
      validation_report: { valid: true, nlines: 3 },
      bytes: Buffer.byteLength(content),
    });
    expect(sdkEmu.files.get(id).bytes.toString("utf8")).toBe(content);
    expect(sdkEmu.requests.find((r) => r.method === "PUT")!.headers.authorization).toBeUndefined();
  });

  it("shows why the product does not use the SDK's upload helper: it cannot send a file from Node", async () => {
    // If this starts passing after an SDK upgrade, the helper may have become usable.
    const dir = await mkdtemp(join(tmpdir(), "together-"));
    try {
      const path = join(dir, "train.jsonl");
      await writeFile(path, conversations(2));
      const client = new TogetherCjs({ apiKey: "tg-test", baseURL: `${sdkEmu.url}/v1`, maxRetries: 0 });
      const failure = await client.files.upload(path, "fine-tune", true).then(
        () => undefined,
        (e: unknown) => e,
      );
      // Node's fetch refuses a stream body without `duplex: "half"`, which the helper does not set.
      expect(String(failure)).toMatch(/duplex option is required/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("takes the spec's multipart upload, lists, serves and deletes files", async () => {
    const { emu, client } = await together();
    const content = conversations(2);
    const { status, body } = await upload(emu, content);
    expect(status).toBe(200);
    const id = String(body.id);
    expect(body).toMatchObject({ filename: "train.jsonl", bytes: Buffer.byteLength(content) });
    expect((await client.files.list()).data.map((f) => f.id)).toEqual([id]);
    const raw = await (await client.files.content(id)).text();
    expect(raw).toBe(content);
    expect(await client.files.delete(id)).toEqual({ id, deleted: true });
    const gone = await caught(client.files.retrieve(id));
    expect(gone.status).toBe(404);
    expect((gone.error as { error: { message: string } }).error.message).toContain(id);
  });

  it("refuses uploads without required fields, and reports a bad file through validation", async () => {
    const { emu, client } = await together();
    const missing = await upload(emu, conversations(1), { purpose: "" });
    expect(missing).toMatchObject({ status: 400, body: { error: { param: "purpose" } } });
    expect(missing.body.id).toEqual(expect.any(String));
    const badPurpose = await upload(emu, conversations(1), { purpose: "training" });
    expect(badPurpose.status).toBe(400);

    const unalternating = JSON.stringify({
      messages: [
        { role: "user", content: "a" },
        { role: "user", content: "b" },
        { role: "assistant", content: "c" },
      ],
    });
    const bad = await upload(emu, `${unalternating}\n`);
    expect(bad.status).toBe(200);
    expect(await client.files.retrieve(String(bad.body.id))).toMatchObject({
      processing_status: "INVALID_FORMAT",
      validation_report: {
        valid: false,
        error_type: "INVALID_FORMAT",
        error: expect.stringMatching(/roles must alternate between user\/assistant/),
      },
    });
    const empty = await upload(emu, "");
    expect((await client.files.retrieve(String(empty.body.id))).validation_report?.error).toBe(
      "File is empty",
    );
  });

  it("judges conversational files as the official SDK's own checker does", async () => {
    const { checkFile } = createRequire(import.meta.url)("together-ai/lib/check-file") as {
      checkFile(path: string, purpose: string): Promise<{ is_check_passed: boolean; message: string }>;
    };
    const u = { role: "user", content: "hi" };
    const a = { role: "assistant", content: "hello" };
    const cases: Array<[string, string]> = [
      ["valid", conversations(2)],
      ["no system", `${JSON.stringify({ messages: [u, a, u, a] })}\n`],
      ["empty file", ""],
      ["not JSON", "{oops\n"],
      ["empty messages", `${JSON.stringify({ messages: [] })}\n`],
      ["no assistant", `${JSON.stringify({ messages: [u] })}\n`],
      ["two users", `${JSON.stringify({ messages: [u, u, a] })}\n`],
      ["assistant first", `${JSON.stringify({ messages: [a, u] })}\n`],
      ["unknown role", `${JSON.stringify({ messages: [{ role: "robot", content: "x" }, a] })}\n`],
      ["weight 2", `${JSON.stringify({ messages: [u, { ...a, weight: 2 }] })}\n`],
      ["weight 0", `${JSON.stringify({ messages: [u, { ...a, weight: 0 }] })}\n`],
    ];
    const dir = await mkdtemp(join(tmpdir(), "together-check-"));
    try {
      const verdicts = [];
      for (const [name, content] of cases) {
        const path = join(dir, `${name.replace(/\W/g, "-")}.jsonl`);
        await writeFile(path, content);
        const sdk = (await checkFile(path, "fine-tune")).is_check_passed;
        verdicts.push([name, sdk, checkTogetherJsonl(Buffer.from(content)).valid]);
      }
      // One known disagreement: Together's docs say a conversation "must start with system or user";
      // the SDK's checker (0.52) lets an assistant open it. The emulator follows the docs.
      expect(verdicts.filter(([, sdk, emu]) => sdk !== emu)).toEqual([["assistant first", true, false]]);
      expect(verdicts.filter(([, , emu]) => emu).map(([name]) => name)).toEqual([
        "valid",
        "no system",
        "weight 0",
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("validates fine-tune files on the clock when asked to, and prices nothing until then", async () => {
    const { emu, client } = await together({ validationMs: 5_000 });
    const { body } = await upload(emu, conversations(4));
    const id = String(body.id);
    expect((await client.files.retrieve(id)).processing_status).toBe("PENDING");
    expect(await client.fineTuning.estimatePrice({ training_file: id, model: "Qwen/Qwen3-8B" })).toEqual({
      estimation_available: false,
      unavailable_reason: "train_file_not_validated",
    });
    emu.clock.advance(5_000);
    expect((await client.files.retrieve(id)).processing_status).toBe("COMPLETED");
  });
});

describe("Together emulator: fine-tuning", () => {
  async function trainingFile(emu: TogetherEmulator, n = 10) {
    const content = conversations(n);
    const { body } = await upload(emu, content);
    return { id: String(body.id), content };
  }

  it("validates job requests the way the API does", async () => {
    const { emu, client } = await together();
    const { id } = await trainingFile(emu);
    const bad = async (params: Record<string, unknown>, param: string) => {
      const error = await caught(
        client.fineTuning.create({ model: "Qwen/Qwen3-8B", training_file: id, ...params } as never),
      );
      expect(error.status).toBe(400);
      expect((error.error as { error: { param: string } }).error.param).toBe(param);
    };
    await bad({ model: "not-a-model" }, "model");
    await bad({ training_file: "file-missing" }, "training_file");
    await bad({ n_epochs: 0 }, "n_epochs");
    await bad({ training_type: { type: "Lora", lora_r: 128, lora_alpha: 16 } }, "training_type.lora_r");
    await bad({ training_type: { type: "Lora", lora_r: 8 } }, "training_type.lora_alpha");
    await bad({ suffix: "x".repeat(41) }, "suffix");
    await bad({ suffix: "user 42" }, "suffix");
    await bad({ n_evals: 2 }, "n_evals");
    await bad({ training_method: { method: "dpo" } }, "training_method.method");
    expect(emu.fineTunes.records.size).toBe(0);
    const rank16 = await caught(
      client.fineTuning.create({
        model: "deepseek-ai/DeepSeek-V3.1",
        training_file: id,
        training_type: { type: "Lora", lora_r: 32, lora_alpha: 16 },
      }),
    );
    expect(rank16.message).toMatch(/maximum LoRA rank 16/);
  });

  it("runs a LoRA job through every status, with events, metrics, price and a servable model", async () => {
    const { emu, client } = await together();
    const train = await trainingFile(emu, 20);
    const validation = await trainingFile(emu, 4);
    const estimate = await client.fineTuning.estimatePrice({
      training_file: train.id,
      validation_file: validation.id,
      model: "Qwen/Qwen3-8B",
      n_epochs: 3,
      n_evals: 2,
    });
    const perEpoch = emu.files.get(train.id).check!.tokens;
    const evalTokens = emu.files.get(validation.id).check!.tokens;
    expect(estimate).toMatchObject({
      estimation_available: true,
      allowed_to_proceed: true,
      user_limit: 100,
      estimated_train_token_count: perEpoch * 3,
      estimated_eval_token_count: evalTokens * 2,
    });

    const created = await client.fineTuning.create({
      model: "Qwen/Qwen3-8B",
      training_file: train.id,
      validation_file: validation.id,
      n_epochs: 3,
      n_evals: 2,
      suffix: "u-0a1b",
      training_type: LORA,
      training_method: { method: "sft", train_on_inputs: "auto" },
    });
    expect(created).toMatchObject({ status: "pending", model: "Qwen/Qwen3-8B", suffix: "u-0a1b" });
    expect(created.id).toMatch(/^ft-[0-9a-f-]{36}$/);
    expect(created.model_output_name).toMatch(/^emulator-user\/Qwen\/Qwen3-8B-u-0a1b-[0-9a-f]{8}$/);

    const seen = [created.status as string];
    while (emu.tick()) {
      const status = (await client.fineTuning.retrieve(created.id)).status;
      if (status !== seen.at(-1)) seen.push(status);
    }
    expect(seen).toEqual(["pending", "queued", "running", "compressing", "uploading", "completed"]);

    const done = await client.fineTuning.retrieve(created.id);
    const estimatedUsd = (estimate as { estimated_total_price: number }).estimated_total_price;
    expect(done.token_count).toBe(perEpoch * 3 + evalTokens * 2);
    expect(Number.isInteger(done.total_price)).toBe(true);
    expect(done.total_price! / 1e9).toBeCloseTo(estimatedUsd, 9);
    expect(done).toMatchObject({ epochs_completed: 3, adapter_object_id: expect.stringMatching(/^ml_/) });

    const events = (await client.fineTuning.listEvents(created.id)).data.map((e) => e.type);
    expect(events).toEqual(
      expect.arrayContaining([
        "job_pending",
        "job_start",
        "epoch_complete",
        "model_upload_complete",
        "job_complete",
      ]),
    );
    const metrics = (await client.fineTuning.listMetrics(created.id)).metrics!;
    expect(metrics.filter((m) => "train/loss" in m)).toHaveLength(9);
    expect(metrics.filter((m) => "eval/loss" in m)).toHaveLength(2);
    const steps = await client.fineTuning.listMetrics(created.id, { global_step_from: 8 });
    expect(steps.metrics!.every((m) => (m["train/global_step"] ?? m["eval/global_step"])! >= 8)).toBe(true);
    expect((await client.fineTuning.list()).data.map((j) => j.id)).toEqual([created.id]);

    const openai = new OpenAI({ apiKey: "tg-test", baseURL: `${emu.url}/v1`, maxRetries: 0 });
    const reply = await openai.chat.completions.create({
      model: done.model_output_name!,
      messages: [{ role: "user", content: "hello" }],
    });
    expect(reply.model).toBe(done.model_output_name);
    expect(reply.choices[0]!.message.content).toBe(`echo(${done.model_output_name}): hello`);
    expect(emu.answers.at(-1)).toMatchObject({ kind: "fine-tune", baseModel: "Qwen/Qwen3-8B" });
    // Streamed, the same answer arrives piece by piece, with the usage in the last chunk.
    const stream = await openai.chat.completions.create({
      model: done.model_output_name!,
      messages: [{ role: "user", content: "hello" }],
      stream: true,
    });
    let streamed = "";
    let streamUsage: unknown;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta.content ?? "";
      streamUsage = chunk.usage ?? streamUsage;
    }
    expect(streamed).toBe(`echo(${done.model_output_name}): hello`);
    expect(streamUsage).toMatchObject({ completion_tokens: reply.usage!.completion_tokens });

    emu.setServerlessLora(false);
    const closed = await openai.chat.completions
      .create({ model: done.model_output_name!, messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(closed).toBeInstanceOf(OpenAI.BadRequestError);
    expect((closed as InstanceType<typeof OpenAI.BadRequestError>).code).toBe("model_not_available");
    const unknown = await openai.chat.completions
      .create({ model: "someone/else-model", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect((unknown as Error).message).toMatch(/^404 Unable to access model someone\/else-model\./);
  });

  it("defaults to LoRA rank 64 and bills tokens x epochs", async () => {
    const { emu, client } = await together();
    const { id, content } = await trainingFile(emu, 3);
    const job = await client.fineTuning.create({ model: "Qwen/Qwen3-8B", training_file: id, n_epochs: 2 });
    expect(job.training_type).toEqual({
      type: "Lora",
      lora_r: 64,
      lora_alpha: 16,
      lora_dropout: 0,
      lora_trainable_modules: "all-linear",
    });
    emu.runJobs();
    const lines = content
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const tokens = lines.reduce((sum, example) => sum + countExampleTokens(example), 0);
    const done = await client.fineTuning.retrieve(job.id);
    expect(done.token_count).toBe(tokens * 2);
    // 0.48 $/1M tokens, in nano-dollars.
    expect(done.total_price).toBe(Math.round(tokens * 2 * 0.48 * 1000));
  });

  it("fails a planned job with the reason in a job_error event, and bills nothing", async () => {
    const { emu, client } = await together();
    const { id } = await trainingFile(emu);
    emu.failNextJob("CUDA out of memory at step 3.");
    const job = await client.fineTuning.create({ model: "Qwen/Qwen3-8B", training_file: id });
    emu.runJobs();
    const failed = await client.fineTuning.retrieve(job.id);
    expect(failed).toMatchObject({ status: "error", total_price: 0 });
    const last = (await client.fineTuning.listEvents(job.id)).data.at(-1)!;
    expect(last).toMatchObject({
      type: "job_error",
      level: "error",
      message: "CUDA out of memory at step 3.",
    });

    const { body } = await upload(emu, "{not json}\n");
    const bad = await client.fineTuning.create({ model: "Qwen/Qwen3-8B", training_file: String(body.id) });
    emu.runJobs();
    expect((await client.fineTuning.retrieve(bad.id)).status).toBe("error");
    expect((await client.fineTuning.listEvents(bad.id)).data.at(-1)!.message).toMatch(
      /Invalid format on line 1/,
    );
  });

  it("cancels through cancel_requested, bills completed epochs only, and refuses a finished job", async () => {
    const { emu, client } = await together();
    const { id } = await trainingFile(emu, 8);
    const job = await client.fineTuning.create({ model: "Qwen/Qwen3-8B", training_file: id, n_epochs: 4 });
    // pending -> queued -> running -> first epoch done
    emu.tick();
    emu.tick();
    emu.tick();
    expect((await client.fineTuning.retrieve(job.id)).epochs_completed).toBe(1);
    expect((await client.fineTuning.cancel(job.id)).status).toBe("cancel_requested");
    expect((await client.fineTuning.cancel(job.id)).status).toBe("cancel_requested");
    emu.runJobs();
    const cancelled = await client.fineTuning.retrieve(job.id);
    expect(cancelled).toMatchObject({ status: "cancelled", epochs_completed: 1 });
    expect(cancelled.token_count).toBe(emu.files.get(id).check!.tokens);
    const again = await caught(client.fineTuning.cancel(job.id));
    expect(again.status).toBe(400);
    const missing = await caught(client.fineTuning.cancel("ft-missing"));
    expect(missing.status).toBe(404);
  });

  it("deletes a job, after which its model no longer answers", async () => {
    const { emu, client } = await together();
    const { id } = await trainingFile(emu);
    const job = await client.fineTuning.create({ model: "Qwen/Qwen3-8B", training_file: id });
    emu.runJobs();
    expect((await client.fineTuning.delete(job.id)).message).toContain(job.id);
    expect((await caught(client.fineTuning.retrieve(job.id))).status).toBe(404);
    const chat = await caught(
      client.chat.completions.create({
        model: job.model_output_name!,
        messages: [{ role: "user", content: "x" }],
      }),
    );
    expect(chat.status).toBe(404);
  });

  it("answers with injected faults and retry-after, and checks the API key", async () => {
    const { emu, client } = await together();
    emu.failNext(1, { status: 429, retryAfter: 3, match: "/fine-tunes" });
    const limited = await caught(client.fineTuning.list());
    expect(limited.status).toBe(429);
    expect(limited.headers?.get("retry-after")).toBe("3");
    expect(emu.requests.at(-1)?.fault).toBe("fail");
    expect((await client.fineTuning.list()).data).toEqual([]);
    const wrong = new TogetherClient({ apiKey: "tg-wrong", baseURL: `${emu.url}/v1`, maxRetries: 0 });
    const denied = await caught(wrong.fineTuning.list());
    expect(denied.status).toBe(401);
  });

  it("says when the account's credit limit would be exceeded, and reports model limits", async () => {
    const { emu, client } = await together({ creditLimitUsd: 0.000001 });
    const { id } = await trainingFile(emu, 5);
    expect(
      await client.fineTuning.estimatePrice({ training_file: id, model: "Qwen/Qwen3-8B" }),
    ).toMatchObject({
      estimation_available: true,
      allowed_to_proceed: false,
    });
    expect(
      (await client.fineTuning.modelLimits({ model_name: "deepseek-ai/DeepSeek-V3.1" })).lora_training,
    ).toMatchObject({ max_rank: 16 });
  });
});

describe("Together emulator: v2 deployment adapters", () => {
  async function setup(maxAdapters = 2) {
    const { emu, client } = await together();
    const beta = new TogetherClient({
      apiKey: "tg-test",
      baseURL: `${emu.url}/v2`,
      maxRetries: 0,
      projectID: "proj_emulator",
    });
    const where = { endpointId: "ep_1", deploymentId: "dep_1" };
    emu.addDeployment({
      projectId: "proj_emulator",
      ...where,
      endpointName: "emulator/qwen3-8b-lora",
      baseModel: "Qwen/Qwen3-8B",
      enableLora: true,
      maxAdapters,
    });
    const adapters: Array<{ id: string; name: string }> = [];
    for (let i = 0; i < 3; i++) {
      const { body } = await upload(emu, conversations(2 + i));
      const job = await client.fineTuning.create({
        model: "Qwen/Qwen3-8B",
        training_file: String(body.id),
        suffix: `u${i}`,
      });
      emu.runJobs();
      const done = await client.fineTuning.retrieve(job.id);
      adapters.push({ id: done.adapter_object_id!, name: `${done.model_output_name}-adapter` });
    }
    emu.setServerlessLora(false);
    const openai = new OpenAI({ apiKey: "tg-test", baseURL: `${emu.url}/v1`, maxRetries: 0 });
    return { emu, beta, where, adapters, openai };
  }

  it("attaches an adapter, loads it on the clock, serves it by name, and detaches it by etag", async () => {
    const { emu, beta, where, adapters, openai } = await setup();
    const attached = await beta.beta.endpoints.adapters.create({ ...where, adapterModelId: adapters[0]!.id });
    expect(attached.perCluster[0]!.state).toBe("ADAPTER_LOAD_STATE_PENDING");
    const chat = () =>
      openai.chat.completions.create({
        model: adapters[0]!.name,
        messages: [{ role: "user", content: "hi" }],
      });
    await expect(chat()).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    emu.runJobs();
    const ready = await beta.beta.endpoints.adapters.retrieve(adapters[0]!.id, where);
    expect(ready.perCluster[0]).toMatchObject({ state: "ADAPTER_LOAD_STATE_READY", readyPodCount: 1 });
    expect((await chat()).model).toBe(adapters[0]!.name);
    expect(emu.answers.at(-1)).toMatchObject({ kind: "adapter", baseModel: "Qwen/Qwen3-8B" });
    expect(
      (
        await openai.chat.completions.create({
          model: "emulator/qwen3-8b-lora",
          messages: [{ role: "user", content: "x" }],
        })
      ).model,
    ).toBe("emulator/qwen3-8b-lora");

    const page = await beta.beta.endpoints.adapters.list("ep_1", "dep_1");
    expect(page.data.map((a) => a.adapterModelId)).toEqual([adapters[0]!.id]);
    const stale = await caught(
      beta.beta.endpoints.adapters.delete(adapters[0]!.id, { ...where, etag: 'W/"old"' }),
    );
    expect(stale.status).toBe(409);
    expect(
      await beta.beta.endpoints.adapters.delete(adapters[0]!.id, { ...where, etag: ready.etag }),
    ).toEqual({});
    await expect(chat()).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect(
      emu.requests.filter((r) =>
        r.path.startsWith("/v2/projects/proj_emulator/endpoints/ep_1/deployments/dep_1/adapters"),
      ).length,
    ).toBe(5);
  });

  it("refuses duplicates, unknown adapters, other bases and a full deployment unless forced", async () => {
    const { emu, beta, where, adapters } = await setup(2);
    await beta.beta.endpoints.adapters.create({ ...where, adapterModelId: adapters[0]!.id });
    expect(
      (await caught(beta.beta.endpoints.adapters.create({ ...where, adapterModelId: adapters[0]!.id })))
        .status,
    ).toBe(409);
    expect(
      (await caught(beta.beta.endpoints.adapters.create({ ...where, adapterModelId: "ml_missing" }))).status,
    ).toBe(404);
    expect(
      (
        await caught(
          beta.beta.endpoints.adapters.create({
            ...where,
            deploymentId: "dep_x",
            adapterModelId: adapters[1]!.id,
          }),
        )
      ).status,
    ).toBe(404);
    await beta.beta.endpoints.adapters.create({ ...where, adapterModelId: adapters[1]!.id });
    expect(
      (await caught(beta.beta.endpoints.adapters.create({ ...where, adapterModelId: adapters[2]!.id })))
        .status,
    ).toBe(409);
    await beta.beta.endpoints.adapters.create({ ...where, adapterModelId: adapters[2]!.id, force: true });
    const ids = (await beta.beta.endpoints.adapters.list("ep_1", "dep_1")).data.map((a) => a.adapterModelId);
    expect(ids).toEqual([adapters[1]!.id, adapters[2]!.id]);

    emu.addDeployment({
      projectId: "proj_emulator",
      endpointId: "ep_2",
      deploymentId: "dep_2",
      endpointName: "emulator/llama",
      baseModel: "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
      enableLora: true,
    });
    const otherBase = await caught(
      beta.beta.endpoints.adapters.create({
        endpointId: "ep_2",
        deploymentId: "dep_2",
        adapterModelId: adapters[0]!.id,
      }),
    );
    expect(otherBase.status).toBe(400);
    emu.addDeployment({
      projectId: "proj_emulator",
      endpointId: "ep_3",
      deploymentId: "dep_3",
      endpointName: "emulator/nolora",
      baseModel: "Qwen/Qwen3-8B",
      enableLora: false,
    });
    const noLora = await caught(
      beta.beta.endpoints.adapters.create({
        endpointId: "ep_3",
        deploymentId: "dep_3",
        adapterModelId: adapters[0]!.id,
      }),
    );
    expect(noLora.message).toMatch(/enable_lora/);
  });
});
