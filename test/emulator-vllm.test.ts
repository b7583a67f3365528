// The vLLM emulator: runtime LoRA loading over plain HTTP (as vLLM's docs show it with curl) and chat
// through the `openai` SDK with the server's base URL. These tests pin the wire behaviour that the
// adapter-server client relies on.
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { startVllmEmulator, type VllmEmulator } from "./emulators/vllm/index.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function vllm(options: Parameters<typeof startVllmEmulator>[0] = {}) {
  const emu = await startVllmEmulator({ apiKey: "vllm-key", maxLoraRank: 64, ...options });
  closers.push(() => emu.close());
  const openai = new OpenAI({ apiKey: "vllm-key", baseURL: `${emu.url}/v1`, maxRetries: 0 });
  return { emu, openai };
}

async function post(emu: VllmEmulator, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${emu.url}${path}`, {
    method: "POST",
    headers: { authorization: "Bearer vllm-key", "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, contentType: response.headers.get("content-type"), text };
}

const ask = (openai: OpenAI, model: string) =>
  openai.chat.completions.create({ model, messages: [{ role: "user", content: "hello" }] });

describe("vLLM emulator", () => {
  it("loads an adapter at run time, lists it with its parent, and answers with it", async () => {
    const { emu, openai } = await vllm();
    emu.addAdapterSource("/adapters/u-1", { rank: 64 });
    const loaded = await post(emu, "/v1/load_lora_adapter", { lora_name: "u-1", lora_path: "/adapters/u-1" });
    expect(loaded).toEqual({
      status: 200,
      contentType: null,
      text: "Success: LoRA adapter 'u-1' added successfully.",
    });
    const models = (await openai.models.list()).data as unknown as Array<Record<string, unknown>>;
    expect(models.map((m) => [m.id, m.parent, m.root])).toEqual([
      ["Qwen/Qwen3-8B", null, "Qwen/Qwen3-8B"],
      ["u-1", "Qwen/Qwen3-8B", "/adapters/u-1"],
    ]);
    const byAdapter = await ask(openai, "u-1");
    expect(byAdapter.model).toBe("u-1");
    expect(byAdapter.choices[0]!.message.content).toBe("echo(lora:u-1): hello");
    expect((await ask(openai, "Qwen/Qwen3-8B")).model).toBe("Qwen/Qwen3-8B");
    expect(emu.answers.map((a) => a.adapter?.name ?? null)).toEqual(["u-1", null]);
  });

  it("streams an adapter's answer as SSE chunks, with usage when asked, as vLLM does", async () => {
    const { emu, openai } = await vllm();
    emu.addAdapterSource("/adapters/u-2", { rank: 16 });
    await post(emu, "/v1/load_lora_adapter", { lora_name: "u-2", lora_path: "/adapters/u-2" });
    const stream = await openai.chat.completions.create({
      model: "u-2",
      messages: [{ role: "user", content: "hello there" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let chunks = 0;
    let usage: { completion_tokens: number } | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe("echo(lora:u-2): hello there");
    expect(chunks).toBeGreaterThan(3);
    expect(finish).toBe("stop");
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("answers an unknown model with vLLM's 404, in the nested or the legacy shape", async () => {
    const { openai } = await vllm();
    const error = await ask(openai, "u-404").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as Error).message).toBe("404 The model `u-404` does not exist.");
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({
      type: "NotFoundError",
      param: "model",
      code: 404,
    });
    const legacy = await vllm({ legacyErrors: true });
    const response = await fetch(`${legacy.emu.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer vllm-key", "content-type": "application/json" },
      body: JSON.stringify({ model: "u-404", messages: [{ role: "user", content: "x" }] }),
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      object: "error",
      message: "The model `u-404` does not exist.",
      type: "NotFoundError",
      param: "model",
      code: 404,
    });
  });

  it("refuses what vLLM refuses when loading, with its status codes and wording", async () => {
    const { emu } = await vllm({ maxLoraRank: 16 });
    emu.addAdapterSource("/adapters/r8", { rank: 8 });
    emu.addAdapterSource("/adapters/r64", { rank: 64 });
    const load = (body: unknown, headers?: Record<string, string>) =>
      post(emu, "/v1/load_lora_adapter", body, headers);
    const json = (r: { text: string }) => JSON.parse(r.text) as { error: Record<string, unknown> };

    const empty = await load({ lora_name: "", lora_path: "/adapters/r8" });
    expect(empty.status).toBe(400);
    expect(json(empty).error).toEqual({
      message: "Both 'lora_name' and 'lora_path' must be provided.",
      type: "InvalidUserInput",
      param: null,
      code: 400,
    });
    const missing = await load({ lora_name: "x", lora_path: "/adapters/none" });
    expect(missing.status).toBe(404);
    expect(json(missing).error.message).toBe("Loading lora x failed: No adapter found for /adapters/none");
    const tooBig = await load({ lora_name: "x", lora_path: "/adapters/r64" });
    expect(tooBig.status).toBe(400);
    expect(json(tooBig).error).toMatchObject({
      type: "BadRequestError",
      message: "LoRA rank 64 is greater than max_lora_rank 16.",
    });
    expect((await load("lora_name=x", { "content-type": "application/x-www-form-urlencoded" })).status).toBe(
      400,
    );
    expect((await load({ lora_name: "x" })).status).toBe(400);

    expect((await load({ lora_name: "a", lora_path: "/adapters/r8" })).status).toBe(200);
    const again = await load({ lora_name: "a", lora_path: "/adapters/r8" });
    expect(again.status).toBe(400);
    expect(json(again).error.message).toMatch(
      /has already been loaded\. If you want to load the adapter in place/,
    );
    const inplace = await load({ lora_name: "a", lora_path: "/adapters/r8", load_inplace: true });
    expect(inplace.status).toBe(200);
    expect(emu.adapters.loaded.get("a")?.intId).toBe(1);
  });

  it("unloads, with a 404 for an adapter that is not loaded", async () => {
    const { emu, openai } = await vllm();
    emu.addAdapterSource("/adapters/u-2");
    await post(emu, "/v1/load_lora_adapter", { lora_name: "u-2", lora_path: "/adapters/u-2" });
    const unloaded = await post(emu, "/v1/unload_lora_adapter", { lora_name: "u-2" });
    expect(unloaded).toMatchObject({
      status: 200,
      text: "Success: LoRA adapter 'u-2' removed successfully.",
    });
    const again = await post(emu, "/v1/unload_lora_adapter", { lora_name: "u-2" });
    expect(again.status).toBe(404);
    expect(JSON.parse(again.text).error).toMatchObject({
      type: "NotFoundError",
      message: "The lora adapter 'u-2' cannot be found.",
    });
    await expect(ask(openai, "u-2")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("forgets runtime adapters on restart but keeps --lora-modules", async () => {
    const { emu, openai } = await vllm({
      staticAdapters: [{ name: "house-style", path: "/adapters/house" }],
    });
    emu.addAdapterSource("/adapters/u-3");
    await post(emu, "/v1/load_lora_adapter", { lora_name: "u-3", lora_path: "/adapters/u-3" });
    expect((await ask(openai, "u-3")).model).toBe("u-3");
    emu.restart();
    expect(emu.restarts).toBe(1);
    await expect(ask(openai, "u-3")).rejects.toThrow("404 The model `u-3` does not exist.");
    expect((await ask(openai, "house-style")).model).toBe("house-style");
    expect((await openai.models.list()).data.map((m) => m.id)).toEqual(["Qwen/Qwen3-8B", "house-style"]);
  });

  it("checks the API key on /v1 only, and has no load route without runtime updating", async () => {
    const { emu } = await vllm({ runtimeLoraUpdating: false });
    const wrong = new OpenAI({ apiKey: "nope", baseURL: `${emu.url}/v1`, maxRetries: 0 });
    const denied = await wrong.models.list().catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
    const bare = await fetch(`${emu.url}/v1/models`);
    expect(bare.status).toBe(401);
    expect(await bare.json()).toEqual({ error: "Unauthorized" });
    expect((await fetch(`${emu.url}/health`)).status).toBe(200);
    const noRoute = await post(emu, "/v1/load_lora_adapter", { lora_name: "x", lora_path: "/x" });
    expect(noRoute).toMatchObject({ status: 404, text: '{"detail":"Not Found"}' });
  });

  it("injects faults and records every request", async () => {
    const { emu } = await vllm();
    emu.failNext(1, { status: 503, match: "/v1/load_lora_adapter", retryAfter: 2 });
    const down = await fetch(`${emu.url}/v1/load_lora_adapter`, {
      method: "POST",
      headers: { authorization: "Bearer vllm-key", "content-type": "application/json" },
      body: JSON.stringify({ lora_name: "x", lora_path: "/x" }),
    });
    expect(down.status).toBe(503);
    expect(down.headers.get("retry-after")).toBe("2");
    expect(emu.requests.map((r) => [r.method, r.path, r.fault ?? null])).toEqual([
      ["POST", "/v1/load_lora_adapter", "fail"],
    ]);
  });
});
