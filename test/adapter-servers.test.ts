// The AdapterServer clients against their emulators over real HTTP: vLLM's runtime LoRA routes and
// Together's v2 deployment adapters. Chat goes through the product's own OpenAI-compatible
// LlmProvider, as it will when the next phase answers with an adapter.
import { afterEach, describe, expect, it } from "vitest";
import { type AdapterServer, ProviderError } from "../src/core/ports.ts";
import { createOpenAIProvider } from "../src/core/providers/openai-llm.ts";
import { createTogetherAdapterHost } from "../src/core/providers/together-adapter-host.ts";
import { createTogetherFineTuneProvider } from "../src/core/providers/together-fine-tune.ts";
import { createVllmLoraServer } from "../src/core/providers/vllm-lora-server.ts";
import { startTogetherEmulator, type TogetherEmulator } from "./emulators/together/index.ts";
import { startVllmEmulator } from "./emulators/vllm/index.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

const hello = [{ role: "user" as const, content: "hello" }];

describe("vLLM LoRA server client", () => {
  async function setup(options: Parameters<typeof startVllmEmulator>[0] = {}) {
    const emu = await startVllmEmulator({ apiKey: "vllm-key", maxLoraRank: 16, ...options });
    closers.push(() => emu.close());
    emu.addAdapterSource("/srv/adapters/u-1", { rank: 16 });
    emu.addAdapterSource("/srv/adapters/u-1-v2", { rank: 16 });
    emu.addAdapterSource("/srv/adapters/big", { rank: 64 });
    const server = createVllmLoraServer({ baseUrl: `${emu.url}/v1`, apiKey: "vllm-key" });
    const llm = createOpenAIProvider({ apiKey: "vllm-key", baseUrl: `${emu.url}/v1` });
    const loads = () => emu.requests.filter((r) => r.path === "/v1/load_lora_adapter");
    return { emu, server, llm, loads };
  }

  it("loads an adapter that chat then answers with, and lists it", async () => {
    const { emu, server, llm } = await setup();
    await server.load({ name: "u-1", source: "/srv/adapters/u-1" });
    const reply = await llm.chat({ model: "u-1", messages: hello });
    expect(reply).toMatchObject({ model: "u-1", text: "echo(lora:u-1): hello" });
    expect(emu.answers.at(-1)?.adapter).toEqual({ name: "u-1", path: "/srv/adapters/u-1" });
    expect(await server.list()).toEqual([
      { name: "u-1", source: "/srv/adapters/u-1", parent: "Qwen/Qwen3-8B" },
    ]);
    expect(emu.requests[0]!.headers.authorization).toBe("Bearer vllm-key");
    expect(emu.requests[0]!.body).toEqual({ lora_name: "u-1", lora_path: "/srv/adapters/u-1" });
  });

  it("is idempotent: loading again from the same place reloads nothing; a new place replaces in place", async () => {
    const { emu, server, loads } = await setup();
    await server.load({ name: "u-1", source: "/srv/adapters/u-1" });
    await server.load({ name: "u-1", source: "/srv/adapters/u-1" });
    expect(loads()).toHaveLength(2);
    expect(emu.adapters.loaded.get("u-1")).toMatchObject({ path: "/srv/adapters/u-1", intId: 1 });
    await server.load({ name: "u-1", source: "/srv/adapters/u-1-v2" });
    expect(loads().at(-1)!.body).toEqual({
      lora_name: "u-1",
      lora_path: "/srv/adapters/u-1-v2",
      load_inplace: true,
    });
    expect(emu.adapters.loaded.get("u-1")).toMatchObject({ path: "/srv/adapters/u-1-v2", intId: 1 });
  });

  it("recognises 'not loaded' after a restart, and serves again once reloaded", async () => {
    const { emu, server, llm } = await setup();
    const adapter = { name: "u-1", source: "/srv/adapters/u-1" };
    await server.load(adapter);
    emu.restart();
    const lost = await rejection(llm.chat({ model: "u-1", messages: hello }));
    expect(lost.status).toBe(404);
    expect(server.isNotLoadedError(lost)).toBe(true);
    await server.load(adapter);
    expect((await llm.chat({ model: "u-1", messages: hello })).model).toBe("u-1");

    emu.failNext(1, { status: 503, match: "/chat/completions" });
    const down = await rejection(llm.chat({ model: "u-1", messages: hello }));
    expect(server.isNotLoadedError(down)).toBe(false);
    const wrongKey = createOpenAIProvider({ apiKey: "nope", baseUrl: `${emu.url}/v1` });
    expect(server.isNotLoadedError(await rejection(wrongKey.chat({ model: "u-1", messages: hello })))).toBe(
      false,
    );
    expect(server.isNotLoadedError(new Error("The model `u-1` does not exist."))).toBe(false);
  });

  it("refuses adapters vLLM cannot load, without inviting a retry", async () => {
    const { server } = await setup();
    const missing = await rejection(server.load({ name: "u-9", source: "/srv/adapters/none" }));
    expect(missing).toMatchObject({ status: 404, code: "NotFoundError" });
    expect(missing.message).toBe("vLLM: Loading lora u-9 failed: No adapter found for /srv/adapters/none");
    expect(missing.retryable).toBe(false);
    const big = await rejection(server.load({ name: "big", source: "/srv/adapters/big" }));
    expect(big).toMatchObject({
      status: 400,
      message: "vLLM: LoRA rank 64 is greater than max_lora_rank 16.",
    });
  });

  it("unloads, idempotently", async () => {
    const { emu, server, llm } = await setup();
    const adapter = { name: "u-1", source: "/srv/adapters/u-1" };
    await server.load(adapter);
    await server.unload(adapter);
    await server.unload(adapter);
    expect(emu.adapters.loaded.size).toBe(0);
    expect(server.isNotLoadedError(await rejection(llm.chat({ model: "u-1", messages: hello })))).toBe(true);
  });

  it("explains a server without runtime LoRA updating, a wrong key, and an outage", async () => {
    const { emu, server } = await setup({ runtimeLoraUpdating: false });
    const off = await rejection(server.load({ name: "u-1", source: "/srv/adapters/u-1" }));
    expect(off).toMatchObject({ status: 404, code: "runtime_lora_disabled" });
    expect(off.message).toMatch(/VLLM_ALLOW_RUNTIME_LORA_UPDATING=True/);
    await expect(server.unload({ name: "u-1", source: "" })).rejects.toMatchObject({
      code: "runtime_lora_disabled",
    });

    const wrong = createVllmLoraServer({ baseUrl: `${emu.url}/v1`, apiKey: "nope" });
    const denied = await rejection(wrong.list());
    expect(denied).toMatchObject({ status: 401, message: "vLLM: Unauthorized" });
    expect(denied.retryable).toBe(false);

    emu.failNext(1, { status: 503, retryAfter: 4 });
    const busy = await rejection(server.list());
    expect(busy).toMatchObject({ status: 503, retryAfterMs: 4_000 });
    expect(busy.retryable).toBe(true);
    const gone = createVllmLoraServer({ baseUrl: "http://127.0.0.1:9/v1" });
    expect((await rejection(gone.list())).retryable).toBe(true);
  });

  it("reads the older flat error shape too", async () => {
    const { server } = await setup({ legacyErrors: true });
    const big = await rejection(server.load({ name: "big", source: "/srv/adapters/big" }));
    expect(big).toMatchObject({
      status: 400,
      code: "BadRequestError",
      message: "vLLM: LoRA rank 64 is greater than max_lora_rank 16.",
    });
    await server.load({ name: "u-1", source: "/srv/adapters/u-1" });
    await server.load({ name: "u-1", source: "/srv/adapters/u-1" });
  });
});

describe("Together adapter host client", () => {
  const where = { projectId: "proj_emulator", endpointId: "ep_1", deploymentId: "dep_1" };

  /** An emulator with a LoRA deployment on Qwen3-8B and `n` completed fine-tunes' adapters. */
  async function setup(n = 1, deployment: { maxAdapters?: number } = {}) {
    const emu = await startTogetherEmulator({ apiKey: "tg-test", serverlessLora: false });
    closers.push(() => emu.close());
    emu.addDeployment({
      ...where,
      endpointName: "emulator/qwen3-8b",
      baseModel: "Qwen/Qwen3-8B",
      enableLora: true,
      ...(deployment.maxAdapters ? { maxAdapters: deployment.maxAdapters } : {}),
    });
    const trainer = createTogetherFineTuneProvider({ apiKey: "tg-test", baseUrl: `${emu.url}/v1` });
    const adapters = [];
    for (let i = 0; i < n; i++) {
      const content = `${JSON.stringify({
        messages: [
          { role: "user", content: `q${i}` },
          { role: "assistant", content: `a${i}` },
        ],
      })}\n`;
      const trainingFile = await trainer.uploadFile({ filename: `u-${i}.jsonl`, content });
      const job = await trainer.createJob({
        baseModel: "Qwen/Qwen3-8B",
        trainingFile,
        epochs: 1,
        suffix: `u-${i}`,
      });
      emu.runJobs();
      const record = emu.fineTunes.records.get(job.providerJobId)!;
      adapters.push({ name: record.adapterObjectName!, source: record.adapterObjectId! });
    }
    const host = hostFor(emu);
    const llm = createOpenAIProvider({ apiKey: "tg-test", baseUrl: `${emu.url}/v1` });
    return { emu, host, llm, adapters };
  }

  const hostFor = (
    emu: TogetherEmulator,
    extra: Partial<Parameters<typeof createTogetherAdapterHost>[0]> = {},
  ) =>
    createTogetherAdapterHost({
      apiKey: "tg-test",
      baseUrl: `${emu.url}/v2`,
      ...where,
      // Waiting moves the emulator's clock, so adapters load in no real time.
      sleep: async (ms) => emu.clock.advance(ms),
      ...extra,
    });

  const v2 = (emu: TogetherEmulator, method: string) =>
    emu.requests.filter((r) => r.method === method && r.path.startsWith("/v2/"));

  it("attaches an adapter and waits until every cluster has loaded it; chat then reaches it", async () => {
    const { emu, host, llm, adapters } = await setup();
    const adapter = adapters[0]!;
    const before = await rejection(llm.chat({ model: adapter.name, messages: hello }));
    expect(host.isNotLoadedError(before)).toBe(true);
    await host.load(adapter);
    expect(v2(emu, "POST")[0]!.body).toEqual({ adapterModelId: adapter.source });
    expect(v2(emu, "POST")[0]!.path).toBe(
      "/v2/projects/proj_emulator/endpoints/ep_1/deployments/dep_1/adapters",
    );
    expect(v2(emu, "GET").length).toBeGreaterThan(0);
    expect((await llm.chat({ model: adapter.name, messages: hello })).model).toBe(adapter.name);
    expect(emu.answers.at(-1)).toMatchObject({ kind: "adapter", baseModel: "Qwen/Qwen3-8B" });

    // Loading again: the 409 is read back as "already attached and ready", nothing new is attached.
    await host.load(adapter);
    expect(v2(emu, "POST")).toHaveLength(2);
    expect(emu.deployments.deployments[0]!.adapters).toHaveLength(1);
  });

  it("detaches with the current etag, idempotently, after which chat says 'not loaded'", async () => {
    const { emu, host, llm, adapters } = await setup();
    await host.load(adapters[0]!);
    await host.unload(adapters[0]!);
    await host.unload(adapters[0]!);
    expect(v2(emu, "DELETE")).toHaveLength(1);
    expect(v2(emu, "DELETE")[0]!.query.etag).toMatch(/^W\/"[0-9a-f]{12}"$/);
    expect(
      host.isNotLoadedError(await rejection(llm.chat({ model: adapters[0]!.name, messages: hello }))),
    ).toBe(true);
  });

  it("reports an adapter that fails to load, a load that never finishes, and a full deployment", async () => {
    const { emu, host, adapters } = await setup(3, { maxAdapters: 2 });
    emu.deployments.adapterModels.get(adapters[0]!.source)!.broken = true;
    const broken = await rejection(host.load(adapters[0]!));
    expect(broken).toMatchObject({ status: 422, code: "adapter_load_failed" });
    expect(broken.message).toMatch(/adapter_model\.safetensors is missing/);
    expect(broken.retryable).toBe(false);

    const impatient = hostFor(emu, { readyTimeoutMs: 1_000, pollIntervalMs: 500, sleep: async () => {} });
    const slow = await rejection(impatient.load(adapters[1]!));
    expect(slow).toMatchObject({ code: "adapter_load_timeout" });
    expect(slow.retryable).toBe(true);

    // Two attached (one failed, one loading): a third is refused unless eviction is allowed.
    const full = await rejection(host.load(adapters[2]!));
    expect(full.status).toBe(409);
    await hostFor(emu, { evictOldest: true }).load(adapters[2]!);
    expect(emu.deployments.deployments[0]!.adapters.map((a) => a.adapterModelId)).toEqual([
      adapters[1]!.source,
      adapters[2]!.source,
    ]);
  });

  it("refuses a deployment created without LoRA, and unknown adapters", async () => {
    const { emu, host, adapters } = await setup(1);
    const unknown = await rejection(host.load({ name: "x", source: "ml_unknown" }));
    expect(unknown.status).toBe(404);
    emu.addDeployment({
      ...where,
      deploymentId: "dep_plain",
      endpointName: "emulator/qwen3-8b-plain",
      baseModel: "Qwen/Qwen3-8B",
      enableLora: false,
    });
    const plain = hostFor(emu, { deploymentId: "dep_plain" });
    const noLora = await rejection(plain.load(adapters[0]!));
    expect(noLora.status).toBe(400);
    expect(noLora.message).toMatch(/enable_lora/);
  });

  it("shares one port with the vLLM client", async () => {
    const { host } = await setup(0);
    const vllm: AdapterServer = createVllmLoraServer({ baseUrl: "http://127.0.0.1:9/v1" });
    const servers: AdapterServer[] = [host, vllm];
    expect(servers.map((s) => s.name)).toEqual(["together", "vllm"]);
    expect(
      host.isNotLoadedError(
        new ProviderError("Unable to access model a/b.", 404, undefined, "model_not_found"),
      ),
    ).toBe(true);
    expect(host.isNotLoadedError(new ProviderError("Rate limited", 429))).toBe(false);
  });
});
