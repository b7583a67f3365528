import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  configurationTable,
  envExample,
  loadConfig,
  readEnvironment,
  settings,
} from "../src/config.ts";

function problems(env: Record<string, string>, options?: { requirePlatform?: boolean }): string[] {
  try {
    loadConfig(env, options);
  } catch (e) {
    if (e instanceof ConfigError) return e.message.split("\n");
    throw e;
  }
  return [];
}

const minimal = { DISCORD_TOKEN: "t", DISCORD_APPLICATION_ID: "123", OPENAI_API_KEY: "k" };

describe("configuration", () => {
  it("accepts a minimal Discord + OpenAI setup and fills the defaults", () => {
    const config = loadConfig(minimal, { requirePlatform: true });
    expect(config.discord).toMatchObject({
      token: "t",
      applicationId: "123",
      apiUrl: "https://discord.com/api",
    });
    expect(config.slack).toBeUndefined();
    expect(config.llm).toMatchObject({
      provider: "openai",
      chatModel: "gpt-4.1-mini",
      embeddingDimensions: 1536,
    });
    expect(config.fineTune).toMatchObject({
      threshold: 100,
      minRating: 4,
      epochs: "auto",
      proposalTtlHours: 72,
    });
    expect(config.database).toEqual({ url: undefined, dataDir: ".data" });
  });

  it("names every missing variable and says what to set, one line each", () => {
    const lines = problems({}, { requirePlatform: true });
    expect(lines.map((l) => l.split(":")[0])).toEqual(["DISCORD_TOKEN", "SLACK_BOT_TOKEN", "OPENAI_API_KEY"]);
    for (const line of lines) expect(line).toMatch(/set it to /);
  });

  it("names invalid values with the reason", () => {
    const lines = problems({
      ...minimal,
      FINETUNE_THRESHOLD: "lots",
      OPENAI_BASE_URL: "not a url",
      OPERATORS: "discord:1,bob",
      LLM_PROVIDER: "claude",
      SLACK_BOT_TOKEN: "xoxp-user-token",
      EMBEDDING_DIMENSIONS: "4096",
    });
    const byVar = Object.fromEntries(lines.map((l) => [l.split(":")[0], l]));
    expect(Object.keys(byVar).sort()).toEqual(
      [
        "EMBEDDING_DIMENSIONS",
        "FINETUNE_THRESHOLD",
        "LLM_PROVIDER",
        "OPENAI_BASE_URL",
        "OPERATORS",
        "SLACK_BOT_TOKEN",
      ].sort(),
    );
    expect(byVar.SLACK_BOT_TOKEN).toContain("xoxb-");
    expect(byVar.OPERATORS).toContain("discord:<userId>");
  });

  it("checks settings that depend on each other", () => {
    expect(problems({ DISCORD_TOKEN: "t", OPENAI_API_KEY: "k" })[0]).toMatch(
      /^DISCORD_APPLICATION_ID: is required/,
    );
    expect(problems({ SLACK_BOT_TOKEN: "xoxb-1", OPENAI_API_KEY: "k" })[0]).toMatch(/^SLACK_SIGNING_SECRET/);
    expect(problems({ SLACK_BOT_TOKEN: "xoxb-1", SLACK_APP_TOKEN: "xapp-1", OPENAI_API_KEY: "k" })).toEqual(
      [],
    );
    expect(problems({ ...minimal, FINETUNE_PROVIDER: "vertex" }).map((l) => l.split(":")[0])).toEqual([
      "GOOGLE_CLOUD_PROJECT",
      "GCS_BUCKET",
    ]);
    expect(
      problems({ ...minimal, LLM_PROVIDER: "gemini", OPENAI_API_KEY: "", FINETUNE_PROVIDER: "openai" }).map(
        (l) => l.split(":")[0],
      ),
    ).toEqual(["GEMINI_API_KEY", "OPENAI_API_KEY"]);
    expect(problems({ ...minimal, FINETUNE_PROVIDER: "together" })).toEqual([
      "TOGETHER_API_KEY: is required when FINETUNE_PROVIDER is together; set it to an API key from api.together.ai (Settings > API Keys)",
    ]);
    expect(
      problems({
        ...minimal,
        LORA_SERVER_URL: "http://vllm:8000/v1",
        TOGETHER_ADAPTER_DEPLOYMENT: "proj_1/endpoint-1/dep-1",
      }).map((l) => l.split(":")[0]),
    ).toEqual(["TOGETHER_ADAPTER_DEPLOYMENT"]);
    expect(problems({ ...minimal, TOGETHER_ADAPTER_DEPLOYMENT: "just-one-id" })[0]).toMatch(
      /^TOGETHER_ADAPTER_DEPLOYMENT: is invalid \(expected <projectId>\/<endpointId>\/<deploymentId>\)/,
    );
    expect(problems({ ...minimal, FINETUNE_PLATFORMS: "discord,telegram" })[0]).toMatch(
      /^FINETUNE_PLATFORMS: is invalid/,
    );
  });

  it("has no fine-tuning provider by default, and open weights when one is chosen", () => {
    const off = loadConfig(minimal);
    expect(off.fineTune.provider).toBe("none");
    expect(off.fineTune.platforms).toEqual([]);
    const on = loadConfig({
      ...minimal,
      FINETUNE_PROVIDER: "together",
      TOGETHER_API_KEY: "tg",
      FINETUNE_PLATFORMS: "Slack, discord",
      FINETUNE_LORA_RANK: "8",
      TOGETHER_ADAPTER_DEPLOYMENT: "proj_1/endpoint-1/dep-1",
    });
    expect(on.fineTune).toMatchObject({
      provider: "together",
      baseModel: "Qwen/Qwen3-8B",
      platforms: ["slack", "discord"],
      lora: { rank: 8, alpha: 16 },
      together: {
        apiKey: "tg",
        baseUrl: "https://api.together.ai/v1",
        deployment: { projectId: "proj_1", endpointId: "endpoint-1", deploymentId: "dep-1" },
      },
    });
    expect(on.fineTune.loraServer).toBeUndefined();
    const vllm = loadConfig({ ...minimal, LORA_SERVER_URL: "http://vllm:8000/v1", LORA_SERVER_API_KEY: "k" });
    expect(vllm.fineTune.loraServer).toEqual({
      url: "http://vllm:8000/v1",
      apiKey: "k",
      adapterDir: "/adapters",
    });
  });

  it("makes every external service's base URL configurable", () => {
    const config = loadConfig({
      ...minimal,
      SLACK_BOT_TOKEN: "xoxb-1",
      SLACK_APP_TOKEN: "xapp-1",
      DISCORD_API_URL: "http://127.0.0.1:1/api/",
      SLACK_API_URL: "http://127.0.0.1:2/api",
      OPENAI_BASE_URL: "http://127.0.0.1:3/v1",
      GEMINI_BASE_URL: "http://127.0.0.1:4",
      GCS_BASE_URL: "http://127.0.0.1:5",
    });
    expect(config.discord?.apiUrl).toBe("http://127.0.0.1:1/api");
    expect(config.slack?.apiUrl).toBe("http://127.0.0.1:2/api/");
    expect(config.llm.openai.baseUrl).toBe("http://127.0.0.1:3/v1");
    expect(config.llm.gemini.baseUrl).toBe("http://127.0.0.1:4");
    expect(config.fineTune.gcs.baseUrl).toBe("http://127.0.0.1:5");
  });

  it("treats empty values as unset and lets the real environment override .env", () => {
    const env = readEnvironment(
      { DISCORD_TOKEN: "", LOG_LEVEL: "debug", UNRELATED: "x" },
      "/nonexistent/.env",
    );
    expect(env).toEqual({ LOG_LEVEL: "debug" });
  });

  it("is documented: the README table and .env.example are generated from the schema", () => {
    const readme = readFileSync("README.md", "utf8");
    expect(readme).toContain(configurationTable());
    expect(readFileSync(".env.example", "utf8")).toBe(envExample());
    for (const name of Object.keys(settings)) expect(readme).toContain(`\`${name}\``);
  });
});
