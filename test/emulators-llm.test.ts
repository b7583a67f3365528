// The LLM-provider emulators, driven by the real SDKs (openai 6, @google/genai 2) through their base
// URLs, plus the Cloud Storage emulator over plain HTTP. These tests pin the emulators' wire behaviour
// so product tests can trust them.
import { GoogleGenAI } from "@google/genai";
import OpenAI, { toFile } from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { cosineSimilarity, embed } from "./emulators/embedding.ts";
import { type GcsEmulator, startGcsEmulator } from "./emulators/google/gcs.ts";
import { type GeminiEmulator, startGeminiEmulator } from "./emulators/google/gemini.ts";
import { offlineVertexAuth } from "./emulators/google/vertex-auth.ts";
import { countVertexDatasetTokens, type VertexExample } from "./emulators/google/vertex-data.ts";
import {
  countChatMessagesTokens,
  estimateTrainedTokens,
  resolveAutoEpochs,
} from "./emulators/openai/fine-tune-data.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "./emulators/openai/index.ts";
import { countTokens } from "./emulators/tokens.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function openai(options: Parameters<typeof startOpenAIEmulator>[0] = {}) {
  const emu = await startOpenAIEmulator(options);
  closers.push(() => emu.close());
  const client = new OpenAI({ apiKey: "sk-test", baseURL: `${emu.url}/v1`, maxRetries: 0 });
  return { emu, client };
}

async function gemini(options: Parameters<typeof startGeminiEmulator>[0] = {}) {
  const emu = await startGeminiEmulator(options);
  closers.push(() => emu.close());
  return emu;
}

async function gcs() {
  const emu = await startGcsEmulator();
  closers.push(() => emu.close());
  return emu;
}

function vertexClient(emu: GeminiEmulator) {
  return new GoogleGenAI({
    vertexai: true,
    project: "test-project",
    location: "us-central1",
    httpOptions: { baseUrl: emu.url },
    googleAuthOptions: offlineVertexAuth("test-token"),
  });
}

/** `n` chat examples, distinct so their token counts differ. */
function chatExamples(n: number, broken = false): string {
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      messages: [
        { role: "system", content: "You are a terse assistant." },
        { role: "user", content: `Question number ${i}: what is ${i} plus ${i}?` },
        ...(broken ? [] : [{ role: "assistant", content: `${i + i}.` }]),
      ],
    }),
  ).join("\n");
}

async function uploadTrainingFile(client: OpenAI, jsonl: string, name = "train.jsonl") {
  return client.files.create({ file: await toFile(Buffer.from(jsonl), name), purpose: "fine-tune" });
}

/** Ticks the emulator clock until the job is terminal, returning every status seen. */
async function followJob(emu: OpenAIEmulator, client: OpenAI, id: string): Promise<string[]> {
  const seen = [(await client.fineTuning.jobs.retrieve(id)).status as string];
  while (emu.tick()) {
    const status = (await client.fineTuning.jobs.retrieve(id)).status;
    if (status !== seen.at(-1)) seen.push(status);
  }
  return seen;
}

describe("embedding", () => {
  it("is a deterministic unit vector whose similarity tracks shared words", () => {
    const a = embed("I love pizza with extra cheese", 256);
    expect(embed("I love pizza with extra cheese", 256)).toEqual(a);
    expect(Math.hypot(...a)).toBeCloseTo(1, 10);
    const near = embed("Pizza with cheese, please!", 256);
    const far = embed("The train leaves at noon", 256);
    expect(cosineSimilarity(a, near)).toBeGreaterThan(cosineSimilarity(a, far));
    expect(cosineSimilarity(a, embed("i LOVE pizza, with extra cheese.", 256))).toBeCloseTo(1, 10);
  });
});

describe("OpenAI emulator", () => {
  it("answers chat completions with the configured reply and o200k usage", async () => {
    const { emu, client } = await openai();
    const messages = [
      { role: "system" as const, content: "Be brief." },
      { role: "user" as const, content: "What is the capital of France?" },
    ];
    const completion = await client.chat.completions.create({ model: "gpt-4.1-mini", messages });
    const content = "echo(gpt-4.1-mini): What is the capital of France?";
    expect(completion.object).toBe("chat.completion");
    expect(completion.choices[0]?.message).toMatchObject({ role: "assistant", content, refusal: null });
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    // 3 per message + role + content tokens, + 3 reply priming (cookbook num_tokens_from_messages).
    const expectedPrompt = 3 + 3 + countTokens("system") + countTokens("Be brief.") + 3 + countTokens("user");
    expect(completion.usage?.prompt_tokens).toBe(
      expectedPrompt + countTokens("What is the capital of France?"),
    );
    expect(completion.usage?.prompt_tokens).toBe(countChatMessagesTokens(messages));
    expect(completion.usage?.completion_tokens).toBe(countTokens(content));
    expect(completion.usage?.total_tokens).toBe(
      completion.usage!.prompt_tokens + completion.usage!.completion_tokens,
    );

    emu.setReply((body) => `custom for ${body.messages.length} messages`);
    const custom = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages,
      max_completion_tokens: 2,
    });
    expect(custom.choices[0]?.finish_reason).toBe("length");
    expect(custom.usage?.completion_tokens).toBe(2);
    expect(emu.requests.at(-1)).toMatchObject({ method: "POST", path: "/v1/chat/completions" });
    const recorded = emu.requests.at(-1)!;
    expect(recorded.headers.authorization).toBe("Bearer sk-test");
    expect(recorded.body).toMatchObject({ model: "gpt-4o-mini", max_completion_tokens: 2 });
  });

  it("streams chat completions with usage when asked", async () => {
    const { client } = await openai();
    const stream = await client.chat.completions.create({
      model: "gpt-4.1-mini",
      messages: [{ role: "user", content: "stream me a reply" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let completionTokens: number | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
    }
    expect(text).toBe("echo(gpt-4.1-mini): stream me a reply");
    expect(completionTokens).toBe(countTokens(text));
  });

  it("refuses unknown models and missing keys with OpenAI's error shapes", async () => {
    const { emu, client } = await openai();
    const error = await client.chat.completions
      .create({ model: "gpt-nonexistent", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect(error).toMatchObject({ status: 404, code: "model_not_found", type: "invalid_request_error" });

    const anonymous = await fetch(`${emu.url}/v1/models`);
    expect(anonymous.status).toBe(401);
    const body = (await anonymous.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: "invalid_request_error", param: null, code: null });
    expect(String(body.error.message)).toContain("Authorization");
  });

  it("serves float embeddings whose similarity ranks shared words first, honouring dimensions", async () => {
    const { client } = await openai();
    const response = await client.embeddings.create({
      model: "text-embedding-3-small",
      input: ["How do I reset my password?", "I forgot my password, how to reset it", "Best pizza toppings"],
      dimensions: 512,
      encoding_format: "float",
    });
    const [query, related, unrelated] = response.data.map((d) => d.embedding);
    expect(query).toHaveLength(512);
    expect(cosineSimilarity(query!, related!)).toBeGreaterThan(cosineSimilarity(query!, unrelated!));
    expect(query).toEqual(embed("How do I reset my password?", 512));
    expect(response.usage.prompt_tokens).toBeGreaterThan(0);

    const full = await client.embeddings.create({
      model: "text-embedding-3-small",
      input: "x",
      encoding_format: "float",
    });
    expect(full.data[0]?.embedding).toHaveLength(1536);
  });

  it("answers the SDK's default base64 embedding request, which the SDK decodes", async () => {
    const { emu, client } = await openai();
    // No encoding_format: openai v6 asks for base64 on the wire and decodes it itself.
    const response = await client.embeddings.create({
      model: "text-embedding-3-small",
      input: "hello world",
    });
    expect(emu.requests.at(-1)!.body).toMatchObject({ encoding_format: "base64" });
    const vector = Array.from(response.data[0]!.embedding);
    const expected = Array.from(new Float32Array(embed("hello world", 1536)));
    expect(vector).toEqual(expected);
  });

  it("injects a 429 with retry-after that the SDK surfaces, and 500s it retries past", async () => {
    const { emu, client } = await openai();
    emu.failNext(1, { status: 429, retryAfter: 7 });
    const error = await client.models.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).status).toBe(429);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get("retry-after")).toBe("7");
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).code).toBe("rate_limit_exceeded");

    const retrying = new OpenAI({ apiKey: "sk-test", baseURL: `${emu.url}/v1`, maxRetries: 2 });
    emu.failNext(1, { status: 500, retryAfterMs: 5 });
    const before = emu.requests.length;
    const models = await retrying.models.list();
    expect(models.data.length).toBeGreaterThan(0);
    expect(emu.requests.slice(before).map((r) => r.fault ?? "ok")).toEqual(["fail", "ok"]);
  });

  it("hangs requests until the client times out, and releases them on close", async () => {
    const { emu } = await openai();
    const client = new OpenAI({ apiKey: "sk-test", baseURL: `${emu.url}/v1`, maxRetries: 0, timeout: 200 });
    emu.hangNext(1);
    const error = await client.models.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(emu.requests.at(-1)?.fault).toBe("hang");

    emu.hangNext(1);
    const pending = fetch(`${emu.url}/v1/models`, { headers: { authorization: "Bearer x" } }).then(
      () => "answered",
      () => "dropped",
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    await emu.close();
    expect(await pending).toBe("dropped");
  });

  it("uploads a training file and runs a fine-tune through its transitions to a served model", async () => {
    const { emu, client } = await openai({ organization: "acme" });
    const jsonl = `${chatExamples(12)}\n`;
    const file = await uploadTrainingFile(client, jsonl);
    expect(file).toMatchObject({
      object: "file",
      purpose: "fine-tune",
      filename: "train.jsonl",
      bytes: Buffer.byteLength(jsonl),
    });
    expect(emu.files.get(file.id)?.bytes.equals(Buffer.from(jsonl))).toBe(true);
    expect(emu.files.get(file.id)?.check?.errors).toEqual([]);
    expect(await (await client.files.content(file.id)).text()).toBe(jsonl);

    const job = await client.fineTuning.jobs.create({
      model: "gpt-4.1-mini-2025-04-14",
      training_file: file.id,
      suffix: "user-42",
      seed: 7,
      method: { type: "supervised", supervised: { hyperparameters: { n_epochs: "auto" } } },
    });
    expect(job).toMatchObject({
      status: "validating_files",
      seed: 7,
      user_provided_suffix: "user-42",
      trained_tokens: null,
    });

    const statuses = await followJob(emu, client, job.id);
    expect(statuses).toEqual(["validating_files", "queued", "running", "succeeded"]);

    const done = await client.fineTuning.jobs.retrieve(job.id);
    // 12 examples: "auto" means floor(100 / 12) = 8 epochs (cookbook rule).
    expect(resolveAutoEpochs(12)).toBe(8);
    expect(done.hyperparameters.n_epochs).toBe(8);
    expect(done.method?.supervised?.hyperparameters?.n_epochs).toBe(8);
    const examples = jsonl
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const perEpoch = examples.reduce((sum, ex) => sum + countChatMessagesTokens(ex.messages), 0);
    expect(done.trained_tokens).toBe(perEpoch * 8);
    expect(done.trained_tokens).toBe(estimateTrainedTokens(examples).trainedTokens);
    expect(done.fine_tuned_model).toMatch(/^ft:gpt-4\.1-mini-2025-04-14:acme:user-42:[A-Za-z0-9]{8}$/);
    expect(done.finished_at).toBeGreaterThanOrEqual(done.created_at);

    const events = await client.fineTuning.jobs.listEvents(job.id, { limit: 100 });
    const messages = events.data.map((e) => e.message);
    expect(messages[0]).toBe("The job has successfully completed");
    expect(messages).toContain(`New fine-tuned model created: ${done.fine_tuned_model}`);
    expect(messages.at(-1)).toBe(`Validating training file: ${file.id}`);
    expect(events.data.some((e) => e.type === "metrics")).toBe(true);
    const checkpoints = await client.fineTuning.jobs.checkpoints.list(job.id);
    expect(checkpoints.data).toHaveLength(3);

    const ftModel = done.fine_tuned_model!;
    const chat = await client.chat.completions.create({
      model: ftModel,
      messages: [{ role: "user", content: "hi" }],
    });
    expect(chat.choices[0]?.message.content).toBe(`echo(${ftModel}): hi`);
    emu.setShutdownDate(ftModel, "2027-01-14");
    expect(await client.models.retrieve(ftModel)).toMatchObject({
      id: ftModel,
      owned_by: "acme",
      shutdown_date: "2027-01-14",
    });
    expect(await client.models.delete(ftModel)).toMatchObject({ id: ftModel, deleted: true });
    const gone = await client.models.retrieve(ftModel).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("stops serving a model once its shutdown date has passed on the emulator clock", async () => {
    const { emu, client } = await openai();
    emu.setShutdownDate("gpt-4o-mini", new Date(emu.clock.now() + 60_000).toISOString());
    const ask = () =>
      client.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    await expect(ask()).resolves.toBeTruthy();
    emu.clock.advance(60_000);
    await expect(ask()).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("rejects a suffix longer than 64 characters with a 400", async () => {
    const { client } = await openai();
    const file = await uploadTrainingFile(client, chatExamples(10));
    const error = await client.fineTuning.jobs
      .create({ model: "gpt-4.1-mini", training_file: file.id, suffix: "x".repeat(65) })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect(error).toMatchObject({ status: 400, param: "suffix", code: "string_above_max_length" });
    const ok = await client.fineTuning.jobs.create({
      model: "gpt-4.1-mini",
      training_file: file.id,
      suffix: "x".repeat(64),
    });
    expect(ok.model).toBe("gpt-4.1-mini-2025-04-14");
  });

  it("refuses new jobs once fine-tuning closes on the emulator clock", async () => {
    const { emu, client } = await openai({ fineTuningClosedFrom: "2027-01-06T00:00:00Z" });
    emu.clock.advance(Date.parse("2027-01-06T00:00:00Z") - emu.clock.now());
    const file = await uploadTrainingFile(client, chatExamples(10));
    const error = await client.fineTuning.jobs
      .create({ model: "gpt-4.1-mini", training_file: file.id })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 400, code: "model_not_available" });
  });

  it("fails jobs in validation for too few examples or malformed data, and on request", async () => {
    const { emu, client } = await openai();
    const small = await uploadTrainingFile(client, chatExamples(5));
    const smallJob = await client.fineTuning.jobs.create({ model: "gpt-4o-mini", training_file: small.id });
    const broken = await uploadTrainingFile(
      client,
      `${chatExamples(11)}\n${chatExamples(1, true)}\nnot json`,
    );
    expect(emu.files.get(broken.id)?.check?.errors.map((e) => e.code)).toEqual([
      "example_missing_assistant_message",
      "invalid_json",
    ]);
    const brokenJob = await client.fineTuning.jobs.create({ model: "gpt-4o-mini", training_file: broken.id });
    const good = await uploadTrainingFile(client, chatExamples(10));
    emu.failNextJob("Training diverged.", { code: "internal_error" });
    const doomed = await client.fineTuning.jobs.create({ model: "gpt-4o-mini", training_file: good.id });
    const cancelled = await client.fineTuning.jobs.create({ model: "gpt-4o-mini", training_file: good.id });
    expect((await client.fineTuning.jobs.cancel(cancelled.id)).status).toBe("cancelled");
    emu.runJobs();

    const smallDone = await client.fineTuning.jobs.retrieve(smallJob.id);
    expect(smallDone.status).toBe("failed");
    expect(smallDone.error).toMatchObject({
      code: "invalid_n_examples",
      param: "training_file",
      message: "Training file has 5 example(s), but must have at least 10 examples",
    });
    const brokenDone = await client.fineTuning.jobs.retrieve(brokenJob.id);
    expect(brokenDone.status).toBe("failed");
    expect(brokenDone.error?.code).toBe("invalid_training_file");
    expect(brokenDone.error?.message).toContain("line 12");
    const doomedDone = await client.fineTuning.jobs.retrieve(doomed.id);
    expect(doomedDone).toMatchObject({
      status: "failed",
      fine_tuned_model: null,
      error: { code: "internal_error", message: "Training diverged." },
    });
    expect((await client.fineTuning.jobs.retrieve(cancelled.id)).status).toBe("cancelled");
    await expect(client.fineTuning.jobs.cancel(cancelled.id)).rejects.toBeInstanceOf(OpenAI.BadRequestError);

    // Newest first, paginated with `after`, which the SDK's auto-pagination follows.
    const firstPage = await client.fineTuning.jobs.list({ limit: 3 });
    expect(firstPage.data.map((j) => j.id)).toEqual([cancelled.id, doomed.id, brokenJob.id]);
    expect(firstPage.has_more).toBe(true);
    const all: string[] = [];
    for await (const j of client.fineTuning.jobs.list({ limit: 3 })) all.push(j.id);
    expect(all).toEqual([cancelled.id, doomed.id, brokenJob.id, smallJob.id]);
  });

  it("rejects non-JSONL fine-tune uploads and manages files", async () => {
    const { client } = await openai();
    const error = await client.files
      .create({ file: await toFile(Buffer.from("a,b"), "train.csv"), purpose: "fine-tune" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const file = await uploadTrainingFile(client, chatExamples(10));
    expect((await client.files.retrieve(file.id)).filename).toBe("train.jsonl");
    expect((await client.files.list({ purpose: "fine-tune" })).data.map((f) => f.id)).toEqual([file.id]);
    expect(await client.files.delete(file.id)).toMatchObject({ id: file.id, deleted: true });
    await expect(client.files.retrieve(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe("Gemini emulator: Developer API", () => {
  it("generates content with usage metadata and records the SDK's request", async () => {
    const emu = await gemini();
    const ai = new GoogleGenAI({ apiKey: "gemini-key", httpOptions: { baseUrl: emu.url } });
    const response = await ai.models.generateContent({
      model: "gemini-2.5-flash",
      contents: "Tell me about otters",
      config: { systemInstruction: "Be brief." },
    });
    expect(response.text).toBe("echo(gemini-2.5-flash): Tell me about otters");
    expect(response.candidates?.[0]?.finishReason).toBe("STOP");
    const prompt = countTokens("Be brief.") + countTokens("Tell me about otters");
    expect(response.usageMetadata).toMatchObject({
      promptTokenCount: prompt,
      candidatesTokenCount: countTokens(response.text!),
      totalTokenCount: prompt + countTokens(response.text!),
    });
    const request = emu.requests.at(-1)!;
    expect(request.path).toBe("/v1beta/models/gemini-2.5-flash:generateContent");
    expect(request.headers["x-goog-api-key"]).toBe("gemini-key");

    emu.setReply((body, context) => `${context.api}:${body.contents.length}`);
    const custom = await ai.models.generateContent({ model: "gemini-2.5-flash-lite", contents: "x" });
    expect(custom.text).toBe("gemini:1");
  });

  it("streams generateContent over SSE", async () => {
    const emu = await gemini();
    const ai = new GoogleGenAI({ apiKey: "gemini-key", httpOptions: { baseUrl: emu.url } });
    let text = "";
    let usage: number | undefined;
    for await (const chunk of await ai.models.generateContentStream({
      model: "gemini-2.5-flash",
      contents: "one two three",
    })) {
      text += chunk.text ?? "";
      usage = chunk.usageMetadata?.candidatesTokenCount ?? usage;
    }
    expect(text).toBe("echo(gemini-2.5-flash): one two three");
    expect(usage).toBe(countTokens(text));
    expect(emu.requests.at(-1)?.query.alt).toBe("sse");
  });

  it("embeds through batchEmbedContents, honouring outputDimensionality", async () => {
    const emu = await gemini();
    const ai = new GoogleGenAI({ apiKey: "gemini-key", httpOptions: { baseUrl: emu.url } });
    const response = await ai.models.embedContent({
      model: "gemini-embedding-001",
      contents: ["reset my password", "how to reset a password", "weather in Paris"],
      config: { outputDimensionality: 768 },
    });
    expect(emu.requests.at(-1)?.path).toBe("/v1beta/models/gemini-embedding-001:batchEmbedContents");
    const [a, b, c] = response.embeddings!.map((e) => e.values!);
    expect(a).toHaveLength(768);
    expect(cosineSimilarity(a!, b!)).toBeGreaterThan(cosineSimilarity(a!, c!));
    const native = await ai.models.embedContent({ model: "gemini-embedding-001", contents: "x" });
    expect(native.embeddings?.[0]?.values).toHaveLength(3072);
  });

  it("answers unknown models with 404 and injected faults with Google's error shape", async () => {
    const emu = await gemini();
    const ai = new GoogleGenAI({ apiKey: "gemini-key", httpOptions: { baseUrl: emu.url } });
    const missing = await ai.models
      .generateContent({ model: "gemini-0.1", contents: "x" })
      .catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 404 });
    emu.failNext(1, { status: 429, retryAfter: 3 });
    const limited = await ai.models
      .generateContent({ model: "gemini-2.5-flash", contents: "x" })
      .catch((e: unknown) => e);
    expect(limited).toMatchObject({ status: 429 });
    expect(String((limited as Error).message)).toContain("RESOURCE_EXHAUSTED");
    const raw = await fetch(`${emu.url}/v1beta/models/gemini-2.5-flash:generateContent`, {
      method: "POST",
      body: "{}",
    });
    expect(raw.status).toBe(403);
    expect(await raw.json()).toMatchObject({ error: { code: 403, status: "PERMISSION_DENIED" } });
  });
});

describe("Gemini emulator: Vertex AI", () => {
  it("generates and embeds with offline auth on project/location paths", async () => {
    const emu = await gemini();
    const ai = vertexClient(emu);
    const response = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: "Hola" });
    expect(response.text).toBe("echo(gemini-2.5-flash): Hola");
    const generate = emu.requests.at(-1)!;
    expect(generate.path).toBe(
      "/v1beta1/projects/test-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
    );
    expect(generate.headers.authorization).toBe("Bearer test-token");

    const embedded = await ai.models.embedContent({
      model: "text-embedding-005",
      contents: ["the cat sat on the mat", "a cat on a mat", "stock market news"],
      config: { outputDimensionality: 256 },
    });
    expect(emu.requests.at(-1)?.path).toMatch(/publishers\/google\/models\/text-embedding-005:predict$/);
    expect(emu.requests.at(-1)?.body).toMatchObject({ parameters: { outputDimensionality: 256 } });
    const [a, b, c] = embedded.embeddings!.map((e) => e.values!);
    expect(a).toHaveLength(256);
    expect(cosineSimilarity(a!, b!)).toBeGreaterThan(cosineSimilarity(a!, c!));
    expect(embedded.embeddings?.[0]?.statistics?.tokenCount).toBe(countTokens("the cat sat on the mat"));

    const anonymous = await fetch(`${emu.url}${generate.path}`, { method: "POST", body: "{}" });
    expect(anonymous.status).toBe(401);
  });

  it("also serves the other offline modes: express (API key, no project) and googleAuthOptions.apiKey", async () => {
    const emu = await gemini();
    const express = new GoogleGenAI({
      vertexai: true,
      apiKey: "vertex-key",
      httpOptions: { baseUrl: emu.url },
    });
    const hi = await express.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" });
    expect(hi.text).toBe("echo(gemini-2.5-flash): hi");
    expect(emu.requests.at(-1)?.path).toBe(
      "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent",
    );
    expect(emu.requests.at(-1)?.headers["x-goog-api-key"]).toBe("vertex-key");

    const keyed = new GoogleGenAI({
      vertexai: true,
      project: "p",
      location: "europe-west4",
      httpOptions: { baseUrl: emu.url },
      // Without projectId, GoogleAuth would first look the project up (gcloud, metadata server).
      googleAuthOptions: { apiKey: "vertex-key", projectId: "p" },
    });
    await keyed.models.generateContent({ model: "gemini-2.5-flash", contents: "hi" });
    expect(emu.requests.at(-1)?.path).toBe(
      "/v1beta1/projects/p/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent",
    );
    expect(emu.requests.at(-1)?.headers["x-goog-api-key"]).toBe("vertex-key");
  });

  it("runs a tuning job on a GCS-uploaded dataset to a served tuned model", async () => {
    const storage = await gcs();
    const emu = await gemini({ gcs: storage });
    const examples: VertexExample[] = Array.from({ length: 16 }, (_, i) => ({
      systemInstruction: { role: "system", parts: [{ text: "Answer like a pirate." }] },
      contents: [
        { role: "user", parts: [{ text: `How are you on day ${i}?` }] },
        { role: "model", parts: [{ text: `Arr, fine on day ${i}!` }] },
      ],
    }));
    const jsonl = `${examples.map((e) => JSON.stringify(e)).join("\n")}\n`;
    const upload = await fetch(
      `${storage.url}/upload/storage/v1/b/tuning-data/o?uploadType=media&name=${encodeURIComponent("users/42/train.jsonl")}`,
      {
        method: "POST",
        headers: { authorization: "Bearer t", "content-type": "application/jsonl" },
        body: jsonl,
      },
    );
    expect(upload.status).toBe(200);
    expect(await upload.json()).toMatchObject({
      name: "users/42/train.jsonl",
      bucket: "tuning-data",
      size: String(jsonl.length),
    });
    expect(storage.readGsUri("gs://tuning-data/users/42/train.jsonl")?.bytes.toString()).toBe(jsonl);

    const ai = vertexClient(emu);
    const created = await ai.tunings.tune({
      baseModel: "gemini-2.5-flash",
      trainingDataset: { gcsUri: "gs://tuning-data/users/42/train.jsonl" },
      config: { epochCount: 2, tunedModelDisplayName: "user-42" },
    });
    expect(created.state).toBe("JOB_STATE_PENDING");
    expect(created.name).toMatch(/^projects\/123456789012\/locations\/us-central1\/tuningJobs\/\d{19}$/);
    expect(emu.requests.at(-1)?.body).toMatchObject({
      supervisedTuningSpec: {
        trainingDatasetUri: "gs://tuning-data/users/42/train.jsonl",
        hyperParameters: { epochCount: 2 },
      },
    });

    const states = [created.state];
    while (emu.tick()) {
      const state = (await ai.tunings.get({ name: created.name! })).state;
      if (state !== states.at(-1)) states.push(state);
    }
    expect(states).toEqual(["JOB_STATE_PENDING", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"]);
    const job = await ai.tunings.get({ name: created.name! });
    const stats = job.tuningDataStats?.supervisedTuningDataStats;
    expect(stats?.tuningDatasetExampleCount).toBe("16");
    expect(stats?.totalBillableTokenCount).toBe(String(countVertexDatasetTokens(examples)));
    expect(emu.tuning.billedTokens(created.name!.split("/").at(-1)!)).toBe(
      countVertexDatasetTokens(examples) * 2,
    );
    expect(job.tunedModel?.endpoint).toMatch(
      /^projects\/123456789012\/locations\/us-central1\/endpoints\/\d+$/,
    );

    const tuned = await ai.models.generateContent({ model: job.tunedModel!.endpoint!, contents: "Ahoy" });
    expect(tuned.text).toBe(`echo(${job.tunedModel!.endpoint}): Ahoy`);
    expect(emu.requests.at(-1)?.path).toBe(`/v1beta1/${job.tunedModel!.endpoint}:generateContent`);

    const listed = await ai.tunings.list({ config: { pageSize: 10 } });
    expect(listed.page.map((j) => j.name)).toEqual([created.name]);
  });

  it("fails tuning jobs whose dataset is missing or in OpenAI's format", async () => {
    const storage = await gcs();
    const emu = await gemini({ gcs: storage, minTrainingExamples: 1 });
    storage.putObject("b", "openai.jsonl", chatExamples(3));
    const ai = vertexClient(emu);
    const wrongFormat = await ai.tunings.tune({
      baseModel: "gemini-2.5-flash",
      trainingDataset: { gcsUri: "gs://b/openai.jsonl" },
    });
    const missing = await ai.tunings.tune({
      baseModel: "gemini-2.5-flash",
      trainingDataset: { gcsUri: "gs://b/nope.jsonl" },
    });
    emu.runJobs();
    const wrong = await ai.tunings.get({ name: wrongFormat.name! });
    expect(wrong.state).toBe("JOB_STATE_FAILED");
    expect(wrong.error?.message).toContain("OpenAI's `messages` format");
    const gone = await ai.tunings.get({ name: missing.name! });
    expect(gone.state).toBe("JOB_STATE_FAILED");
    expect(gone.error?.message).toContain("gs://b/nope.jsonl");
    const badModel = await ai.tunings
      .tune({ baseModel: "gemini-1.0-ultra", trainingDataset: { gcsUri: "gs://b/openai.jsonl" } })
      .catch((e: unknown) => e);
    expect(badModel).toMatchObject({ status: 400 });
  });
});

describe("GCS emulator", () => {
  it("handles multipart and resumable uploads, downloads, deletes and auth", async () => {
    const storage: GcsEmulator = await gcs();
    const auth = { authorization: "Bearer t" };
    const boundary = "b0undary";
    const media = Buffer.from('{"contents":[]}\n');
    const multipart = Buffer.concat([
      Buffer.from(`--${boundary}\r\ncontent-type: application/json\r\n\r\n`),
      Buffer.from(
        JSON.stringify({ name: "dir/a.jsonl", contentType: "application/jsonl", metadata: { user: "42" } }),
      ),
      Buffer.from(`\r\n--${boundary}\r\ncontent-type: application/jsonl\r\n\r\n`),
      media,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const created = await fetch(`${storage.url}/upload/storage/v1/b/bkt/o?uploadType=multipart`, {
      method: "POST",
      headers: { ...auth, "content-type": `multipart/related; boundary=${boundary}` },
      body: multipart,
    });
    expect(await created.json()).toMatchObject({
      name: "dir/a.jsonl",
      contentType: "application/jsonl",
      metadata: { user: "42" },
    });
    expect(storage.readObject("bkt", "dir/a.jsonl")?.bytes.equals(media)).toBe(true);

    const session = await fetch(`${storage.url}/upload/storage/v1/b/bkt/o?uploadType=resumable`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ name: "big.bin" }),
    });
    const location = session.headers.get("location")!;
    const part1 = await fetch(location, {
      method: "PUT",
      headers: { ...auth, "content-range": "bytes 0-3/*" },
      body: "1234",
    });
    expect(part1.status).toBe(308);
    const part2 = await fetch(location, {
      method: "PUT",
      headers: { ...auth, "content-range": "bytes 4-8/9" },
      body: "56789",
    });
    expect(part2.status).toBe(200);

    const object = encodeURIComponent("big.bin");
    const download = await fetch(`${storage.url}/storage/v1/b/bkt/o/${object}?alt=media`, { headers: auth });
    expect(await download.text()).toBe("123456789");
    const meta = (await (
      await fetch(`${storage.url}/storage/v1/b/bkt/o/${object}`, { headers: auth })
    ).json()) as {
      size: string;
      crc32c: string;
      md5Hash: string;
    };
    // The CRC-32C check value: CRC32C("123456789") = 0xE3069283.
    expect(meta).toMatchObject({ size: "9", crc32c: Buffer.from("e3069283", "hex").toString("base64") });
    expect(
      (await fetch(`${storage.url}/storage/v1/b/bkt/o/${object}`, { method: "DELETE", headers: auth }))
        .status,
    ).toBe(204);
    const missing = await fetch(`${storage.url}/storage/v1/b/bkt/o/${object}`, { headers: auth });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 404, errors: [{ reason: "notFound" }] } });
    expect((await fetch(`${storage.url}/storage/v1/b/bkt/o`)).status).toBe(401);
  });
});
