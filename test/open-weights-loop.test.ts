// The open-weights loop end to end, through the core as the app builds it: a person passes the
// threshold, gets the DM with Together's quoted price, approves, Together trains a LoRA adapter,
// the adapter server (a self-hosted vLLM, or a LoRA-enabled Together deployment) loads it, and the
// next reply asks for it by name; rollback and forget unload it; a restarted vLLM gets one reload,
// then the base model. Every assertion is on what reached an emulator or the database.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { createCore } from "../src/core/create-core.ts";
import { adapterNameFor } from "../src/core/fine-tune/adapters.ts";
import { formatUsd } from "../src/core/messages.ts";
import { type OpenAIEmulator, startOpenAIEmulator } from "./emulators/openai/index.ts";
import { startTogetherEmulator, type TogetherEmulator } from "./emulators/together/index.ts";
import { startVllmEmulator, type VllmEmulator } from "./emulators/vllm/index.ts";
import { memoryLogger, TestClock } from "./support/core.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { rateReplies } from "./support/rate-replies.ts";
import { RecordingNotifier } from "./support/recording-notifier.ts";

const THRESHOLD = 12;
const BASE_CHAT = "gpt-4.1-mini";
const ALICE = { externalId: "discord:2001", platform: "discord" as const };

describe("open-weights fine-tuning, end to end", () => {
  let t: TestDatabase;
  let openai: OpenAIEmulator;
  let together: TogetherEmulator;
  let vllm: VllmEmulator;
  let clock: TestClock;
  let notifier: RecordingNotifier;
  let log: ReturnType<typeof memoryLogger>;
  let seq = 0;

  beforeAll(async () => {
    openai = await startOpenAIEmulator();
    vllm = await startVllmEmulator({ baseModel: "Qwen/Qwen3-8B", apiKey: "vllm-key" });
  });
  afterAll(async () => {
    await openai.close();
    await vllm.close();
  });
  beforeEach(async () => {
    t = await createTestDatabase();
    together = await startTogetherEmulator({ apiKey: "tg-test" });
    clock = new TestClock();
    notifier = new RecordingNotifier();
    log = memoryLogger();
  });
  afterEach(async () => {
    await together.close();
    await t.close();
  });

  function build(extra: Record<string, string>) {
    return createCore({
      config: loadConfig({
        DISCORD_TOKEN: "t",
        DISCORD_APPLICATION_ID: "1",
        OPENAI_API_KEY: "test",
        OPENAI_BASE_URL: `${openai.url}/v1`,
        CHAT_MODEL: BASE_CHAT,
        EMBEDDING_DIMENSIONS: "64",
        FINETUNE_PROVIDER: "together",
        // A new version takes over at once here (no trial): test/canary.test.ts covers trials.
        CANARY_SHARE: "0",
        FINETUNE_PLATFORMS: "discord",
        TOGETHER_API_KEY: "tg-test",
        TOGETHER_BASE_URL: `${together.url}/v1`,
        FINETUNE_THRESHOLD: String(THRESHOLD),
        FINETUNE_MIN_REPLY_CHARS: "5",
        FINETUNE_EPOCHS: "2",
        FINETUNE_PRICE_PER_1M_TOKENS: "0.48",
        ...extra,
      }),
      db: t.db,
      log,
      clock,
      notifiers: { discord: notifier },
      // Polls for a Together adapter's READY move the emulator's clock instead of waiting.
      sleep: async () => {
        together.tick();
      },
    });
  }

  async function rateMany(core: ReturnType<typeof build>, n: number) {
    await rateReplies(
      core.assistant,
      ALICE,
      n,
      (i, n) => `Question ${n} about growing tomatoes in zone ${i}`,
    );
  }

  const at = (emu: { requests: Array<{ method: string; path: string }> }, method: string, path: string) =>
    emu.requests.filter((r) => r.method === method && r.path === path);

  /** Threshold, the DM with Together's price, Approve; returns the proposal's reserved amount. */
  async function offerAndApprove(core: ReturnType<typeof build>) {
    await rateMany(core, THRESHOLD);
    expect((await core.lifecycle.readiness()).proposed).toBe(1);
    const quotes = at(together, "POST", "/v1/fine-tunes/estimate-price");
    expect(quotes).toHaveLength(1);
    const proposal = await t.db.fineTuneProposal.findFirstOrThrow();
    const { prompt } = notifier.prompts[0]!;
    const quoted = Number(proposal.quotedUsd);
    expect(quoted).toBeGreaterThan(0);
    expect(prompt.text).toContain(`Price quoted by Together: ${formatUsd(quoted)}`);
    expect(prompt.text).toContain("Our own count:");
    expect(prompt.text).toContain("Base model: Qwen/Qwen3-8B");
    // The higher of the two is what is reserved.
    expect(Number(proposal.estimatedCostUsd)).toBeGreaterThanOrEqual(quoted);
    const uploadsAtOffer = at(together, "POST", "/v1/files/upload").length;
    expect(uploadsAtOffer).toBeGreaterThanOrEqual(1);

    const click = await core.assistant.approvalClick({
      user: ALICE,
      proposalId: prompt.proposalId,
      action: "approve",
      eventKey: "approve-1",
    });
    expect(click.promptText).toMatch(/^Approved/);
    // The launch trains on the files uploaded for the quote: no second upload.
    expect(at(together, "POST", "/v1/files/upload")).toHaveLength(uploadsAtOffer);
    const created = at(together, "POST", "/v1/fine-tunes");
    expect(created).toHaveLength(1);
    const body = (created[0] as unknown as { body: Record<string, unknown> }).body;
    expect(body).toMatchObject({
      model: "Qwen/Qwen3-8B",
      training_file: proposal.quoteFileId,
      n_epochs: 2,
      training_type: { type: "Lora", lora_r: 16, lora_alpha: 32 },
    });
    expect(String(body.suffix)).toMatch(/^u[0-9a-f]{16}$/);
    return proposal;
  }

  async function tunedJob() {
    const job = await t.db.fineTuneJob.findFirstOrThrow({ where: { provider: "together" } });
    const res = await fetch(`${together.url}/v1/fine-tunes/${job.providerJobId}`, {
      headers: { authorization: "Bearer tg-test" },
    });
    return (await res.json()) as { model_output_name: string; total_price: number; status: string };
  }

  async function ask(core: ReturnType<typeof build>, text: string) {
    const r = await core.assistant.mention({ user: ALICE, messageId: `q${++seq}`, channelId: "c", text });
    if (r.kind !== "reply") throw new Error(`no reply: ${r.kind}`);
    return r;
  }

  it("vLLM: a version on trial has its adapter loaded beside the base model, answers its share, and is unloaded when it loses", async () => {
    const core = build({
      LORA_SERVER_URL: `${vllm.url}/v1`,
      LORA_SERVER_API_KEY: "vllm-key",
      CANARY_SHARE: "0.3",
    });
    await offerAndApprove(core);
    together.runJobs();
    const name = adapterNameFor((await tunedJob()).model_output_name);
    vllm.addAdapterSource(`/adapters/${name}`, { rank: 16 });
    await core.lifecycle.monitor();
    const version = await t.db.modelVersion.findFirstOrThrow();
    expect(version.canaryState).toBe("running");
    // Not active, yet loaded: the trial's share of replies asks vLLM for it.
    expect((await t.db.user.findFirstOrThrow()).activeModelVersionId).toBeNull();
    expect(vllm.adapters.loaded.has(name)).toBe(true);

    const arms = { candidate: 0, incumbent: 0 };
    for (let i = 0; i < 60 && (await t.db.modelVersion.findFirstOrThrow()).canaryState === "running"; i++) {
      const reply = await ask(core, `Trial question ${i} on peppers`);
      const x = await t.db.exchange.findUniqueOrThrow({ where: { id: reply.exchangeId! } });
      if (x.arm === "candidate") {
        expect(reply.model).toBe(name);
        expect(vllm.answers.at(-1)).toMatchObject({ model: name, adapter: { name } });
        expect(x.modelVersionId).toBe(version.id);
      } else expect(reply.model).toBe(BASE_CHAT);
      arms[x.arm as "candidate" | "incumbent"]++;
      await core.assistant.recordReplyMessages(reply.exchangeId!, [`rt${i}`]);
      await core.assistant.reaction({
        platform: "discord",
        messageId: `rt${i}`,
        reactorExternalId: ALICE.externalId,
        emoji: x.arm === "candidate" ? "👎" : "👍",
        action: "add",
      });
    }
    expect(arms.candidate).toBeGreaterThanOrEqual(10);
    expect((await t.db.modelVersion.findFirstOrThrow()).canaryState).toBe("rolled_back");
    // The adapter that lost leaves the server.
    expect(vllm.adapters.loaded.has(name)).toBe(false);
    expect(at(vllm, "POST", "/v1/unload_lora_adapter").length).toBeGreaterThanOrEqual(1);
    expect(notifier.dms.at(-1)!.text).toMatch(/v1 did not do better than the base model/);
    // Some 35 replies and ratings: longer than the default 30 s on a loaded machine.
  }, 120_000);

  it("vLLM: trains on Together, loads the adapter, answers with it, reloads once after a restart, then falls back; rollback and forget unload", async () => {
    const core = build({ LORA_SERVER_URL: `${vllm.url}/v1`, LORA_SERVER_API_KEY: "vllm-key" });
    await offerAndApprove(core);

    together.runJobs();
    const done = await tunedJob();
    expect(done.status).toBe("completed");
    // The operator's side: the adapter, downloaded from Together, is in LORA_ADAPTER_DIR.
    const name = adapterNameFor(done.model_output_name);
    vllm.addAdapterSource(`/adapters/${name}`, { rank: 16 });
    const loadsBefore = at(vllm, "POST", "/v1/load_lora_adapter").length;
    await core.lifecycle.monitor();

    const job = await t.db.fineTuneJob.findFirstOrThrow();
    expect(job.state).toBe("succeeded");
    // What Together billed is what the ledger settles (total_price is nano-dollars).
    expect(Number(job.actualCostUsd)).toBeCloseTo(done.total_price / 1e9, 6);
    const version = await t.db.modelVersion.findFirstOrThrow();
    expect(version).toMatchObject({
      provider: "together",
      modelId: done.model_output_name,
      adapterName: name,
      adapterSource: `/adapters/${name}`,
      adapterServer: "vllm",
    });
    const loads = at(vllm, "POST", "/v1/load_lora_adapter");
    expect(loads).toHaveLength(loadsBefore + 1);
    expect((loads.at(-1) as unknown as { body: unknown }).body).toEqual({
      lora_name: name,
      lora_path: `/adapters/${name}`,
    });
    expect(vllm.adapters.loaded.has(name)).toBe(true);
    expect(notifier.dms.at(-1)!.text).toMatch(/Your own model \(v1\) is ready/);

    // The next reply names the adapter as its model, at vLLM.
    const reply = await ask(core, "How deep should I plant them?");
    expect(reply.model).toBe(name);
    expect(vllm.answers.at(-1)).toMatchObject({ model: name, adapter: { name } });
    const stored = await t.db.exchange.findUniqueOrThrow({ where: { id: reply.exchangeId! } });
    expect(stored.model).toBe(name);

    // vLLM restarts and forgets the adapter: one reload, then the adapter answers again.
    vllm.restart();
    expect(vllm.adapters.loaded.has(name)).toBe(false);
    const reloadsBefore = at(vllm, "POST", "/v1/load_lora_adapter").length;
    const afterRestart = await ask(core, "And how often should I water?");
    expect(at(vllm, "POST", "/v1/load_lora_adapter")).toHaveLength(reloadsBefore + 1);
    expect(afterRestart.model).toBe(name);
    expect(vllm.answers.at(-1)).toMatchObject({ model: name, adapter: { name } });
    expect(log.lines.some((l) => l.includes("adapter was missing at the server; loaded it again"))).toBe(
      true,
    );

    // Restarted again, and the adapter's files are gone too: one reload attempt, then the base model
    // answers (at the OpenAI emulator, with memory and few-shot in the prompt).
    vllm.restart();
    vllm.adapters.sources.delete(`/adapters/${name}`);
    const loadsThen = at(vllm, "POST", "/v1/load_lora_adapter").length;
    const openaiChats = at(openai, "POST", "/v1/chat/completions").length;
    const fallback = await ask(core, "What about fertiliser?");
    expect(fallback.kind === "reply" && !fallback.failed).toBe(true);
    expect(at(vllm, "POST", "/v1/load_lora_adapter")).toHaveLength(loadsThen + 1);
    const baseCall = at(openai, "POST", "/v1/chat/completions");
    expect(baseCall).toHaveLength(openaiChats + 1);
    const baseBody = (baseCall.at(-1) as unknown as { body: { model: string; messages: unknown[] } }).body;
    expect(baseBody.model).toBe(BASE_CHAT);
    // Memory and few-shot: earlier exchanges are in the prompt, not only the question.
    expect(JSON.stringify(baseBody.messages)).toContain("growing tomatoes");
    expect(fallback.model).toBe(BASE_CHAT);
    expect((await t.db.exchange.findUniqueOrThrow({ where: { id: fallback.exchangeId! } })).model).toBe(
      BASE_CHAT,
    );
    expect(log.lines.some((l) => l.includes("answered with the base model"))).toBe(true);

    // Rollback to the base model unloads the adapter; back to v1 loads it again.
    vllm.addAdapterSource(`/adapters/${name}`, { rank: 16 });
    await core.assistant.rollback(ALICE, "v1");
    expect(vllm.adapters.loaded.has(name)).toBe(true);
    const unloadsBefore = at(vllm, "POST", "/v1/unload_lora_adapter").length;
    expect((await core.assistant.rollback(ALICE, "base")).text).toMatch(/base model answers you/);
    const unloads = at(vllm, "POST", "/v1/unload_lora_adapter");
    expect(unloads).toHaveLength(unloadsBefore + 1);
    expect((unloads.at(-1) as unknown as { body: unknown }).body).toEqual({ lora_name: name });
    expect(vllm.adapters.loaded.has(name)).toBe(false);

    // Opting out unloads it too: nothing trained on the person is served while they are out.
    await core.assistant.rollback(ALICE, "v1");
    expect(vllm.adapters.loaded.has(name)).toBe(true);
    await core.assistant.optOut(ALICE);
    expect(vllm.adapters.loaded.has(name)).toBe(false);
    expect((at(vllm, "POST", "/v1/unload_lora_adapter").at(-1) as unknown as { body: unknown }).body).toEqual(
      {
        lora_name: name,
      },
    );
    await core.assistant.optIn(ALICE);

    // Forget unloads it at the server too (it is loaded again first, by choosing v1).
    await core.assistant.rollback(ALICE, "v1");
    expect(vllm.adapters.loaded.has(name)).toBe(true);
    const request = await core.assistant.forgetRequest(ALICE);
    await core.assistant.forgetConfirm({ user: ALICE, buttonId: request.confirmButtonId, eventKey: "f-1" });
    expect(vllm.adapters.loaded.has(name)).toBe(false);
    expect(await t.db.modelVersion.count()).toBe(0);
  });

  it("Together deployment: attaches the adapter on activation, answers with it, detaches it on rollback and forget", async () => {
    together.addDeployment({
      projectId: "proj_emulator",
      endpointId: "endpoint-1",
      deploymentId: "dep-1",
      endpointName: "emulator/qwen3-8b",
      baseModel: "Qwen/Qwen3-8B",
      enableLora: true,
    });
    together.setServerlessLora(false);
    const core = build({ TOGETHER_ADAPTER_DEPLOYMENT: "proj_emulator/endpoint-1/dep-1" });
    await offerAndApprove(core);
    together.runJobs();
    await core.lifecycle.monitor();

    const version = await t.db.modelVersion.findFirstOrThrow();
    expect(version.adapterServer).toBe("together");
    expect(version.adapterSource).toMatch(/^ml_/);
    const adaptersPath = "/v2/projects/proj_emulator/endpoints/endpoint-1/deployments/dep-1/adapters";
    const attached = at(together, "POST", adaptersPath);
    expect(attached).toHaveLength(1);
    expect((attached[0] as unknown as { body: unknown }).body).toMatchObject({
      adapterModelId: version.adapterSource,
    });
    expect(together.deployments.deployments[0]!.adapters[0]!.state).toBe("ADAPTER_LOAD_STATE_READY");

    const reply = await ask(core, "Which variety is best for a balcony?");
    expect(reply.model).toBe(version.adapterName);
    expect(together.answers.at(-1)).toMatchObject({ model: version.adapterName, kind: "adapter" });

    await core.assistant.rollback(ALICE, "base");
    expect(together.deployments.deployments[0]!.adapters).toHaveLength(0);
    expect(
      together.requests.filter((r) => r.method === "DELETE" && r.path.startsWith(`${adaptersPath}/`)),
    ).toHaveLength(1);
    const base = await ask(core, "And for a garden?");
    expect(base.model).toBe(BASE_CHAT);

    await core.assistant.rollback(ALICE, "v1");
    expect(together.deployments.deployments[0]!.adapters).toHaveLength(1);
    const request = await core.assistant.forgetRequest(ALICE);
    await core.assistant.forgetConfirm({ user: ALICE, buttonId: request.confirmButtonId, eventKey: "f-2" });
    expect(together.deployments.deployments[0]!.adapters).toHaveLength(0);
  });

  it("an OpenAI model's shutdown date brings an offer to retrain on Together from the same examples; both versions stay", async () => {
    const before = build({ FINETUNE_PROVIDER: "openai", FINETUNE_PRICE_PER_1M_TOKENS: "5" });
    await rateMany(before, THRESHOLD);
    expect((await before.lifecycle.readiness()).proposed).toBe(1);
    await before.assistant.approvalClick({
      user: ALICE,
      proposalId: notifier.prompts[0]!.prompt.proposalId,
      action: "approve",
    });
    openai.runJobs();
    await before.lifecycle.monitor();
    const v1 = await t.db.modelVersion.findFirstOrThrow();
    expect(v1).toMatchObject({ provider: "openai", version: 1, baseModel: "gpt-4.1-mini-2025-04-14" });
    const firstExamples = (
      await t.db.proposalExample.findMany({ where: { proposalId: notifier.prompts[0]!.prompt.proposalId } })
    ).map((e) => e.exchangeId);

    // The operator moves to Together; 25 days before OpenAI's 2027-01-14 shutdown the daily check runs.
    const after = build({ LORA_SERVER_URL: `${vllm.url}/v1`, LORA_SERVER_API_KEY: "vllm-key" });
    clock.current = new Date("2026-12-20T03:30:00Z");
    await after.lifecycle.retirement();
    expect(notifier.prompts).toHaveLength(2);
    expect(notifier.prompts[1]!.prompt.text).toContain("Price quoted by Together:");
    expect(notifier.dms.at(-1)!.text).toMatch(
      /openai will stop serving your model v1 on 2027-01-14\. I've sent you an offer to train a new one on together from the same examples/,
    );
    const retrain = await t.db.fineTuneProposal.findUniqueOrThrow({
      where: { id: notifier.prompts[1]!.prompt.proposalId },
      include: { examplesUsed: true },
    });
    expect(retrain).toMatchObject({ origin: "retrain", provider: "together", baseModel: "Qwen/Qwen3-8B" });
    expect(retrain.examplesUsed.map((e) => e.exchangeId).sort()).toEqual([...firstExamples].sort());
    // A second daily run offers nothing more.
    await after.lifecycle.retirement();
    expect(notifier.prompts).toHaveLength(2);

    await after.assistant.approvalClick({ user: ALICE, proposalId: retrain.id, action: "approve" });
    together.runJobs();
    const done = await tunedJob();
    vllm.addAdapterSource(`/adapters/${adapterNameFor(done.model_output_name)}`, { rank: 16 });
    await after.lifecycle.monitor();
    const versions = await t.db.modelVersion.findMany({ orderBy: { version: "asc" } });
    expect(versions.map((v) => [v.version, v.provider])).toEqual([
      [1, "openai"],
      [2, "together"],
    ]);
    const listed = (await after.assistant.models(ALICE)).text;
    expect(listed).toMatch(/v1: ft:gpt-4\.1-mini/);
    expect(listed).toMatch(
      /v2: emulator-user\/Qwen\/Qwen3-8B-u[0-9a-f]{16}-\w+ \(available\) ← answering you/,
    );
  });

  it("an offer's files uploaded for Together's quote are deleted when it is declined, and on forget", async () => {
    const core = build({});
    await rateMany(core, THRESHOLD);
    await core.lifecycle.readiness();
    const offer = await t.db.fineTuneProposal.findFirstOrThrow();
    expect(offer.quoteFileId).toBeTruthy();
    const quoteFiles = [offer.quoteFileId, offer.quoteValidationFileId].filter((f): f is string => !!f);
    await core.assistant.approvalClick({ user: ALICE, proposalId: offer.id, action: "decline" });
    await core.lifecycle.monitor();
    const deleted = () =>
      together.requests
        .filter((r) => r.method === "DELETE" && r.path.startsWith("/v1/files/"))
        .map((r) => r.path);
    expect(deleted().sort()).toEqual(quoteFiles.map((f) => `/v1/files/${f}`).sort());
    expect(
      (await t.db.fineTuneProposal.findUniqueOrThrow({ where: { id: offer.id } })).quoteFileId,
    ).toBeNull();
    expect(await t.db.deletionRecord.count()).toBe(0);

    // A pending offer's files go with a forget.
    const second = await core.assistant.train(ALICE);
    expect(second.ok).toBe(true);
    const pending = await t.db.fineTuneProposal.findFirstOrThrow({ where: { state: "pending" } });
    const request = await core.assistant.forgetRequest(ALICE);
    await core.assistant.forgetConfirm({ user: ALICE, buttonId: request.confirmButtonId, eventKey: "f-3" });
    expect(deleted()).toContain(`/v1/files/${pending.quoteFileId}`);
  });

  it("no offer when Together cannot price the job: a passing fault is asked again, a refusal is reported and its files deleted", async () => {
    const core = build({});
    await rateMany(core, THRESHOLD);
    // Two 503s: asked again (after a wait), then quoted.
    together.failNext(2, { status: 503, match: "/v1/fine-tunes/estimate-price" });
    expect((await core.assistant.train(ALICE)).ok).toBe(true);
    expect(at(together, "POST", "/v1/fine-tunes/estimate-price")).toHaveLength(3);
    const first = await t.db.fineTuneProposal.findFirstOrThrow();
    await core.assistant.approvalClick({ user: ALICE, proposalId: first.id, action: "decline" });

    // A 400 is not asked again: no offer, the person is told, the files just uploaded are deleted.
    together.failNext(1, { status: 400, message: "Invalid model", match: "/v1/fine-tunes/estimate-price" });
    const uploadsBefore = at(together, "POST", "/v1/files/upload").length;
    const refused = await core.assistant.train(ALICE);
    expect(refused.ok).toBe(false);
    expect(refused.text).toMatch(/^I couldn't get a price for your training from the provider/);
    expect(at(together, "POST", "/v1/files/upload").length).toBeGreaterThan(uploadsBefore);
    const deletes = together.requests.filter((r) => r.method === "DELETE" && r.path.startsWith("/v1/files/"));
    expect(deletes.length).toBe(at(together, "POST", "/v1/files/upload").length - uploadsBefore);
    expect(await t.db.fineTuneProposal.count({ where: { state: "pending" } })).toBe(0);
    expect(notifier.prompts).toHaveLength(1);
  });
});
