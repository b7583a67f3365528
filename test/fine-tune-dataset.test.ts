// Dataset curation, the JSONL formats and the cost estimate, checked against the emulators' reference
// rules (the ones they bill with) and, end to end, against the billed tokens of real emulator jobs.
import { afterEach, describe, expect, it } from "vitest";
import {
  countJsonlTokens,
  countOpenAIExampleTokens,
  DURATION_MODEL,
  estimateCost,
  resolveEpochs,
  VERTEX_AUTO_EPOCHS,
} from "../src/core/fine-tune/cost-estimate.ts";
import {
  buildDataset,
  type DatasetOptions,
  type DatasetSource,
  validateOpenAIJsonl,
  validateTogetherJsonl,
  validateVertexJsonl,
} from "../src/core/fine-tune/dataset.ts";
import { createPrivacyFilter } from "../src/core/privacy-filter.ts";
import { createOpenAIFineTuneProvider } from "../src/core/providers/openai-fine-tune.ts";
import { createVertexFineTuneProvider } from "../src/core/providers/vertex-fine-tune.ts";
import { startGcsEmulator } from "./emulators/google/gcs.ts";
import { startGeminiEmulator } from "./emulators/google/gemini.ts";
import { offlineVertexAuth } from "./emulators/google/vertex-auth.ts";
import { checkVertexJsonl, countVertexDatasetTokens } from "./emulators/google/vertex-data.ts";
import {
  checkChatJsonl,
  countChatMessagesTokens,
  estimateTrainedTokens,
  resolveAutoEpochs,
} from "./emulators/openai/fine-tune-data.ts";
import { startOpenAIEmulator } from "./emulators/openai/index.ts";
import { checkTogetherJsonl } from "./emulators/together/data.ts";

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

const T0 = Date.parse("2026-03-01T10:00:00Z");
const SYSTEM = "You are Ada's assistant. Answer in her style: short, friendly, precise.";

function source(id: number, userText: string, replyText: string | null, extra: Partial<DatasetSource> = {}) {
  return {
    id: BigInt(id),
    userText,
    replyText,
    status: "answered",
    rating: null,
    createdAt: new Date(T0 + id * 60_000),
    ...extra,
  } satisfies DatasetSource;
}

/** `n` distinct, realistic exchanges (some non-ASCII, one with special-token text). */
function exchanges(n: number, from = 1): DatasetSource[] {
  const topics = ["rust lifetimes", "café opening hours", "日本語の敬語", "SQL joins", "emoji 🎉 in URLs"];
  return Array.from({ length: n }, (_, i) => {
    const id = from + i;
    const topic = topics[i % topics.length];
    return source(
      id,
      `Question ${id}: can you explain ${topic} briefly?${id === 3 ? " <|endoftext|>" : ""}`,
      `Sure! Here is a short take on ${topic} (note ${id}): it mostly comes down to practice and reading the docs.`,
      { rating: i % 3 === 0 ? 1 : null },
    );
  });
}

function options(overrides: Partial<DatasetOptions> = {}): DatasetOptions {
  return {
    provider: "openai",
    systemPrompt: SYSTEM,
    minReplyChars: 20,
    privacy: createPrivacyFilter(),
    ...overrides,
  };
}

function lines(jsonl: string | undefined): unknown[] {
  return (jsonl ?? "")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("buildDataset curation", () => {
  it("drops failed, empty and too-short exchanges and merges near-duplicate prompts", () => {
    const long = "This is a perfectly reasonable answer.";
    const sources = [
      source(1, "What's the capital of France?", "Paris, of course — the capital since 987.", { rating: 1 }),
      source(2, "what's   the CAPITAL of france", "It's Paris, a city on the Seine river.", { rating: -1 }),
      source(3, "Whats the capital of France!!", "Paris is the capital city of France.", { rating: 1 }),
      source(4, "Tell me a joke", long, { status: "failed" }),
      source(5, "Tell me another joke", null),
      source(6, "And another", "   "),
      source(7, "   ", long),
      source(8, "?!…", long),
      source(9, "How are you?", "Fine!"),
      source(10, "Which HTTP status means rate limited?", "429 Too Many Requests, usually with Retry-After."),
    ];
    const dataset = buildDataset(sources, options());

    expect(dataset.stats.drops).toEqual({
      failed_reply: 3,
      empty: 2,
      too_short: 1,
      duplicate: 2,
      personal_data: 0,
    });
    // Among the three France prompts, the best-rated ones tie; the newer (3) wins.
    expect(dataset.usedIds).toEqual([3n, 10n]);
    const examples = lines(dataset.trainJsonl) as Array<{ messages: Array<{ content: string }> }>;
    expect(examples.map((e) => e.messages[2]?.content)).toEqual([
      "Paris is the capital city of France.",
      "429 Too Many Requests, usually with Retry-After.",
    ]);
    expect(dataset.stats).toMatchObject({ examples: 2, trainExamples: 2, validationExamples: 0 });
    expect(dataset.validationJsonl).toBeUndefined();
  });

  it("prefers a rated answer over a newer unrated one", () => {
    const dataset = buildDataset(
      [
        source(1, "Best pizza topping?", "Mushrooms, without any doubt at all.", { rating: 1 }),
        source(2, "best pizza topping", "Pineapple is a controversial choice."),
      ],
      options(),
    );
    expect(dataset.usedIds).toEqual([1n]);
    expect(dataset.stats.drops.duplicate).toBe(1);
  });

  it("redacts an email and a card number, leaving neither in the file", () => {
    const email = "ada.lovelace@example.org";
    const card = "4242 4242 4242 4242";
    const dataset = buildDataset(
      [
        source(
          1,
          `Mail the invoice to ${email} and charge ${card} please`,
          `Done: sent to ${email}, card ok.`,
        ),
        source(2, "Anything else today?", "Nothing else, the invoice is sent."),
      ],
      options(),
    );
    for (const jsonl of [dataset.trainJsonl]) {
      expect(jsonl).not.toContain(email);
      expect(jsonl).not.toContain(card);
      expect(jsonl).not.toContain("4242424242424242");
      expect(jsonl).toContain("[EMAIL]");
      expect(jsonl).toContain("[CARD]");
    }
    expect(dataset.stats.redactions).toBe(3);
    expect(dataset.usedIds).toEqual([1n, 2n]);
  });

  it("redacts fragments that fail their checksum too: a cut-off IBAN, a Luhn-failing card", () => {
    const iban = "DE89 3704 0044 0532 013"; // the textbook IBAN, cut short: mod-97 fails
    const card = "4242 4242 4242 4241"; // Luhn fails
    const reply = `I noted your account ${iban} and the card ${card} for the refund.`;
    const dataset = buildDataset(
      [
        source(1, `Refund to ${iban} please, or to card ${card}`, reply),
        source(2, "Anything else today?", "Nothing else, the refund is on its way."),
      ],
      options(),
    );
    expect(dataset.trainJsonl).not.toContain("3704 0044");
    expect(dataset.trainJsonl).not.toContain("4242");
    const [first] = lines(dataset.trainJsonl) as Array<{ messages: Array<{ content: string }> }>;
    expect(first!.messages.slice(1).map((m) => m.content)).toEqual([
      "Refund to [IBAN] please, or to card [CARD]",
      "I noted your account [IBAN] and the card [CARD] for the refund.",
    ]);
    expect(dataset.stats.redactions).toBe(4);
    // Outside training files the same reply stays as the person got it.
    expect(createPrivacyFilter().redact(reply).text).toBe(reply);
  });

  it("drops an example whose redacted text still contains personal data", () => {
    // An operator pattern that matches the phone placeholder: redaction can never make the text clean.
    const privacy = createPrivacyFilter({ extraPatterns: [{ name: "word-phone", pattern: "\\bPHONE\\b" }] });
    const dataset = buildDataset(
      [
        source(1, "Call me on +44 20 7946 0958 tomorrow", "Sure, I will call tomorrow morning."),
        source(2, "What time is it in Tokyo?", "It is nine hours ahead of London."),
      ],
      options({ privacy }),
    );
    expect(dataset.stats.drops.personal_data).toBe(1);
    expect(dataset.usedIds).toEqual([2n]);
    expect(dataset.trainJsonl).not.toContain("7946");
  });
});

describe("buildDataset split and formats", () => {
  it("splits deterministically, whatever the input order", () => {
    const sources = exchanges(50);
    const a = buildDataset(sources, options());
    const b = buildDataset(shuffled(sources, 7), options());
    const c = buildDataset(shuffled(sources, 99), options());
    expect(b.trainJsonl).toBe(a.trainJsonl);
    expect(c.validationJsonl).toBe(a.validationJsonl);
    expect(c.sha256).toBe(a.sha256);
    expect(a.stats).toMatchObject({ examples: 50, trainExamples: 45, validationExamples: 5 });
    expect(lines(a.validationJsonl)).toHaveLength(5);
    // Every example lands in exactly one file.
    const all = [...lines(a.trainJsonl), ...lines(a.validationJsonl)].map((l) => JSON.stringify(l));
    expect(new Set(all).size).toBe(50);
    // Files are in chronological order.
    const ids = (lines(a.trainJsonl) as Array<{ messages: Array<{ content: string }> }>).map((e) =>
      Number(/Question (\d+)/.exec(e.messages[1]!.content)?.[1]),
    );
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(a.usedIds).toEqual(sources.map((s) => s.id));
  });

  it("keeps every example for training when there are too few to hold some out", () => {
    const dataset = buildDataset(exchanges(19), options());
    expect(dataset.validationJsonl).toBeUndefined();
    expect(dataset.stats).toMatchObject({ trainExamples: 19, validationExamples: 0 });
    const custom = buildDataset(exchanges(19), options({ minForValidation: 10, validationFraction: 0.2 }));
    expect(custom.stats).toMatchObject({ trainExamples: 15, validationExamples: 4 });
  });

  it("writes files both our validators and the emulators' reference checks accept", () => {
    const sources = exchanges(30);
    const openai = buildDataset(sources, options());
    const vertex = buildDataset(sources, options({ provider: "vertex" }));
    for (const jsonl of [openai.trainJsonl, openai.validationJsonl!]) {
      expect(validateOpenAIJsonl(jsonl)).toEqual([]);
      expect(checkChatJsonl(jsonl).errors).toEqual([]);
      expect(validateVertexJsonl(jsonl)).not.toEqual([]);
    }
    for (const jsonl of [vertex.trainJsonl, vertex.validationJsonl!]) {
      expect(validateVertexJsonl(jsonl)).toEqual([]);
      expect(checkVertexJsonl(jsonl).errors).toEqual([]);
      expect(validateOpenAIJsonl(jsonl)).not.toEqual([]);
    }
    // Exchange 1 hashes into the training side (the split depends only on ids).
    expect(lines(openai.trainJsonl)[0]).toEqual({
      messages: [
        { role: "system", content: SYSTEM },
        { role: "user", content: "Question 1: can you explain rust lifetimes briefly?" },
        {
          role: "assistant",
          content:
            "Sure! Here is a short take on rust lifetimes (note 1): it mostly comes down to practice and reading the docs.",
        },
      ],
    });
    expect(lines(vertex.trainJsonl)[0]).toEqual({
      systemInstruction: { role: "system", parts: [{ text: SYSTEM }] },
      contents: [
        { role: "user", parts: [{ text: "Question 1: can you explain rust lifetimes briefly?" }] },
        {
          role: "model",
          parts: [
            {
              text: "Sure! Here is a short take on rust lifetimes (note 1): it mostly comes down to practice and reading the docs.",
            },
          ],
        },
      ],
    });
    // Same exchanges, same split, whichever provider.
    expect(vertex.usedIds).toEqual(openai.usedIds);
    expect(vertex.stats.validationExamples).toBe(openai.stats.validationExamples);
    expect(openai.stats.tokens).toBe(countJsonlTokens(openai.trainJsonl, "openai"));
  });

  it("writes Together files as OpenAI's lines, which Together's rules and the emulator accept", () => {
    const sources = exchanges(30);
    const together = buildDataset(sources, options({ provider: "together" }));
    const openai = buildDataset(sources, options());
    // The same `{"messages": [...]}` lines: Together's conversational format is OpenAI's.
    expect(together.trainJsonl).toBe(openai.trainJsonl);
    expect(together.sha256).toBe(openai.sha256);
    for (const jsonl of [together.trainJsonl, together.validationJsonl!]) {
      expect(validateTogetherJsonl(jsonl)).toEqual([]);
      expect(checkTogetherJsonl(Buffer.from(jsonl))).toMatchObject({ valid: true });
    }
    expect(together.stats.tokens).toBe(countJsonlTokens(together.trainJsonl, "together"));
    const noSystem = buildDataset(exchanges(3), options({ provider: "together", systemPrompt: "" }));
    expect(validateTogetherJsonl(noSystem.trainJsonl)).toEqual([]);
  });

  it("leaves out the system message when there is no system prompt", () => {
    const openai = buildDataset(exchanges(3), options({ systemPrompt: "" }));
    const vertex = buildDataset(exchanges(3), options({ systemPrompt: "", provider: "vertex" }));
    expect((lines(openai.trainJsonl)[0] as { messages: unknown[] }).messages).toHaveLength(2);
    expect(lines(vertex.trainJsonl)[0]).not.toHaveProperty("systemInstruction");
    expect(validateOpenAIJsonl(openai.trainJsonl)).toEqual([]);
    expect(validateVertexJsonl(vertex.trainJsonl)).toEqual([]);
  });

  it("returns an empty training file when nothing survives curation", () => {
    const dataset = buildDataset([source(1, "hi", null)], options());
    expect(dataset).toMatchObject({ trainJsonl: "", usedIds: [], stats: { examples: 0, tokens: 0 } });
  });
});

describe("JSONL validators", () => {
  const ok = {
    messages: [
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello" },
    ],
  };
  const openaiCases: Array<[string, string]> = [
    ["not json", "not valid JSON"],
    ["[1,2]", "must be a JSON object"],
    [JSON.stringify({ messages: [] }), "`messages` must be a non-empty array"],
    [JSON.stringify({ messages: [{ role: "user", content: "hi" }] }), "no assistant message"],
    [JSON.stringify({ ...ok, extra: 1 }), "unexpected keys: extra"],
    [JSON.stringify({ messages: [{ role: "robot", content: "x" }, ok.messages[1]] }), "role must be one of"],
    [JSON.stringify({ messages: [{ role: "user", content: 42 }, ok.messages[1]] }), "content must be"],
    [JSON.stringify({ messages: [{ role: "user", content: "" }, ok.messages[1]] }), "content must be"],
    [JSON.stringify({ messages: [{ role: "user", content: "x", weight: 1 }, ok.messages[1]] }), "weight"],
    [JSON.stringify({ messages: [{ role: "user", content: "x", mood: "happy" }, ok.messages[1]] }), "mood"],
    [JSON.stringify({ messages: [{ role: "user", content: "x", name: "a b" }, ok.messages[1]] }), "name"],
  ];
  it.each(openaiCases)("OpenAI: %s", (line, problem) => {
    const problems = validateOpenAIJsonl(`${JSON.stringify(ok)}\n${line}\n`);
    expect(problems.join("\n")).toContain(problem);
    expect(problems.every((p) => p.startsWith("line 2:"))).toBe(true);
  });

  const togetherCases: Array<[string, string]> = [
    [JSON.stringify({ messages: [] }), "must not be empty"],
    [JSON.stringify({ messages: [{ role: "user", content: "hi" }] }), "assistant role must be present"],
    [JSON.stringify({ messages: [ok.messages[1], ok.messages[0]] }), "alternate user/assistant"],
    [
      JSON.stringify({ messages: [ok.messages[0], ok.messages[0], ok.messages[1]] }),
      "alternate user/assistant",
    ],
    [JSON.stringify({ messages: [...ok.messages, { role: "system", content: "late" }] }), "only open"],
    [JSON.stringify({ messages: [{ role: "user", content: "x", weight: 2 }, ok.messages[1]] }), "0 or 1"],
    [JSON.stringify({ messages: [{ role: "user", content: "x", name: "ada" }, ok.messages[1]] }), "name"],
    [JSON.stringify({ ...ok, text: "two formats" }), "unexpected keys: text"],
  ];
  it.each(togetherCases)("Together: %s", (line, problem) => {
    const problems = validateTogetherJsonl(`${JSON.stringify(ok)}\n${line}\n`);
    expect(problems.join("\n")).toContain(problem);
    expect(problems.every((p) => p.startsWith("line 2:"))).toBe(true);
    // The emulator's reference check (Together's rules) rejects the same lines, except the
    // product's extra strictness about keys it never writes.
    if (!/name|text/.test(problem)) expect(checkTogetherJsonl(Buffer.from(`${line}\n`)).valid).toBe(false);
  });

  it("OpenAI: accepts a valid file, rejects blank lines inside and empty files", () => {
    expect(validateOpenAIJsonl(`${JSON.stringify(ok)}\n${JSON.stringify(ok)}\n\n`)).toEqual([]);
    expect(validateOpenAIJsonl(`${JSON.stringify(ok)}\n\n${JSON.stringify(ok)}`)).toEqual([
      "line 2: not valid JSON",
    ]);
    expect(validateOpenAIJsonl("")).toEqual(["the file has no examples"]);
  });

  const turn = (role: string, text = "t") => ({ role, parts: [{ text }] });
  const vertexCases: Array<[string, unknown, string]> = [
    ["OpenAI format", ok, "OpenAI's `messages` format"],
    ["no contents", { contents: [] }, "`contents` must be a non-empty array"],
    [
      "ends with user",
      { contents: [turn("user"), turn("model"), turn("user")] },
      "last turn must be the model's",
    ],
    ["starts with model", { contents: [turn("model")] }, 'contents[0].role must be "user"'],
    [
      "not alternating",
      { contents: [turn("user"), turn("user"), turn("model")] },
      'contents[1].role must be "model"',
    ],
    ["assistant role", { contents: [turn("user"), turn("assistant")] }, 'contents[1].role must be "model"'],
    ["empty text", { contents: [turn("user"), turn("model", "")] }, "text must be a non-empty string"],
    [
      "no parts",
      { contents: [turn("user"), { role: "model", parts: [] }] },
      "parts must be a non-empty array",
    ],
    [
      "inline data",
      { contents: [turn("user"), { role: "model", parts: [{ inlineData: {} }] }] },
      "unexpected keys: inlineData",
    ],
    [
      "bad system instruction",
      { systemInstruction: { parts: "x" }, contents: [turn("user"), turn("model")] },
      "systemInstruction.parts",
    ],
  ];
  it.each(vertexCases)("Vertex: %s", (_name, value, problem) => {
    const good = { systemInstruction: { parts: [{ text: "s" }] }, contents: [turn("user"), turn("model")] };
    expect(validateVertexJsonl(`${JSON.stringify(good)}\n`)).toEqual([]);
    const problems = validateVertexJsonl(`${JSON.stringify(good)}\n${JSON.stringify(value)}\n`);
    expect(problems.join("\n")).toContain(problem);
  });
});

describe("cost estimate", () => {
  it("counts Together tokens close to, not exactly as, Together's tokenizer (the emulator's stand-in)", () => {
    const dataset = buildDataset(exchanges(40), options({ provider: "together" }));
    const ours = countJsonlTokens(dataset.trainJsonl, "together");
    const theirs = checkTogetherJsonl(Buffer.from(dataset.trainJsonl)).tokens;
    expect(ours).not.toBe(theirs);
    expect(Math.abs(ours - theirs) / theirs).toBeLessThan(0.15);
    expect(resolveEpochs("auto", 40, "together")).toBe(3);
    expect(resolveEpochs(7, 40, "together")).toBe(7);
    expect(() => resolveEpochs(21, 40, "together")).toThrow(/1 to 20 for together/);
  });

  it("counts example tokens exactly like the emulator's reference", () => {
    const messages = [
      { role: "system", content: SYSTEM },
      { role: "user", content: "Ünïcödé, emoji 🎉🎉 and <|endoftext|> text", name: "ada_l" },
      { role: "assistant", content: "Fine. ".repeat(50) },
    ];
    expect(countOpenAIExampleTokens(messages)).toBe(countChatMessagesTokens(messages));
    const dataset = buildDataset(exchanges(40), options());
    const reference = estimateTrainedTokens(checkChatJsonl(dataset.trainJsonl).examples);
    expect(countJsonlTokens(dataset.trainJsonl, "openai")).toBe(reference.tokensPerEpoch);
    const vertex = buildDataset(exchanges(40), options({ provider: "vertex" }));
    expect(countJsonlTokens(vertex.trainJsonl, "vertex")).toBe(
      countVertexDatasetTokens(checkVertexJsonl(vertex.trainJsonl).examples),
    );
  });

  it("resolves auto epochs like the emulator's reference", () => {
    for (const n of [1, 10, 12, 33, 34, 50, 200, 8_333, 8_334, 10_000, 30_000]) {
      expect(resolveEpochs("auto", n, "openai")).toBe(resolveAutoEpochs(n));
    }
    expect([12, 50, 200, 10_000].map((n) => resolveEpochs("auto", n, "openai"))).toEqual([8, 3, 3, 2]);
    expect(resolveEpochs("auto", 12, "vertex")).toBe(VERTEX_AUTO_EPOCHS);
    expect(resolveEpochs(4, 12, "openai")).toBe(4);
    expect(() => resolveEpochs(0, 12, "openai")).toThrow(RangeError);
    expect(() => resolveEpochs(2.5, 12, "vertex")).toThrow(RangeError);
  });

  it("prices the trained tokens in micro-dollars and estimates a duration", () => {
    const dataset = buildDataset(exchanges(12), options());
    const estimate = estimateCost({
      provider: "openai",
      trainJsonl: dataset.trainJsonl,
      examples: dataset.stats.trainExamples,
      epochs: "auto",
      pricePer1MTokens: 1.5,
    });
    expect(estimate.epochs).toBe(8);
    expect(estimate.tokensPerEpoch).toBe(dataset.stats.tokens);
    expect(estimate.trainedTokens).toBe(dataset.stats.tokens * 8);
    expect(estimate.costUsd).toBe(Math.round(estimate.trainedTokens * 1.5) / 1e6);
    expect(Number.isInteger(Math.round(estimate.costUsd * 1e6))).toBe(true);
    const { overheadSeconds, tokensPerSecond } = DURATION_MODEL.openai;
    expect(estimate.estimatedSeconds).toBe(
      Math.round(overheadSeconds + estimate.trainedTokens / tokensPerSecond),
    );
  });

  it("matches the trained_tokens the OpenAI emulator bills for the uploaded files", async () => {
    const emu = await startOpenAIEmulator();
    closers.push(() => emu.close());
    const provider = createOpenAIFineTuneProvider({ apiKey: "sk-test", baseUrl: `${emu.url}/v1` });
    const email = "someone@example.com";
    const sources = [
      ...exchanges(24),
      source(100, `Forward this to ${email}`, `Forwarded to ${email} just now, all good.`),
    ];
    const dataset = buildDataset(sources, options());
    expect(dataset.stats.validationExamples).toBeGreaterThan(0);

    const trainingFile = await provider.uploadFile({ filename: "train.jsonl", content: dataset.trainJsonl });
    const validationFile = await provider.uploadFile({
      filename: "validation.jsonl",
      content: dataset.validationJsonl!,
    });
    const estimate = estimateCost({
      provider: "openai",
      trainJsonl: dataset.trainJsonl,
      examples: dataset.stats.trainExamples,
      epochs: "auto",
      pricePer1MTokens: 5,
    });
    const job = await provider.createJob({
      baseModel: "gpt-4.1-mini",
      trainingFile,
      validationFile,
      epochs: estimate.epochs,
      suffix: "u-1234",
    });
    emu.runJobs();
    const done = await provider.getJob(job.providerJobId);
    expect(done.status).toBe("succeeded");
    expect(done.trainedTokens).toBe(estimate.trainedTokens);
    // And the emulator's own "auto" would have chosen the same epochs for this file.
    expect(estimate.epochs).toBe(resolveAutoEpochs(dataset.stats.trainExamples));
    expect(emu.files.get(trainingFile)?.bytes.toString("utf8")).not.toContain(email);
  });

  it("matches the tokens x epochs the Vertex emulator bills", async () => {
    const storage = await startGcsEmulator();
    closers.push(() => storage.close());
    const emu = await startGeminiEmulator({ gcs: storage });
    closers.push(() => emu.close());
    const provider = createVertexFineTuneProvider({
      project: "test-project",
      location: "us-central1",
      bucket: "tuning",
      baseUrl: emu.url,
      gcsBaseUrl: storage.url,
      googleAuthOptions: offlineVertexAuth("test-token"),
    });
    const dataset = buildDataset(exchanges(30), options({ provider: "vertex" }));
    const estimate = estimateCost({
      provider: "vertex",
      trainJsonl: dataset.trainJsonl,
      examples: dataset.stats.trainExamples,
      epochs: "auto",
      pricePer1MTokens: 5,
    });
    const trainingFile = await provider.uploadFile({ filename: "train.jsonl", content: dataset.trainJsonl });
    const job = await provider.createJob({
      baseModel: "gemini-2.5-flash",
      trainingFile,
      epochs: estimate.epochs,
      suffix: "u-1234",
    });
    emu.runJobs();
    const done = await provider.getJob(job.providerJobId);
    expect(done.status).toBe("succeeded");
    expect(done.trainedTokens).toBe(estimate.trainedTokens);
    expect(emu.tuning.billedTokens(job.providerJobId.split("/").at(-1)!)).toBe(estimate.trainedTokens);
  });
});
