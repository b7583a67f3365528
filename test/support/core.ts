// Builds the core the way the app does (createCore), on a test database and an LLM harness.
import { loadConfig } from "../../src/config.ts";
import { createCore } from "../../src/core/create-core.ts";
import type { Logger } from "../../src/core/ports.ts";
import type { PrismaClient } from "../../src/generated/prisma/client.ts";
import { createLogger } from "../../src/logger.ts";
import type { LlmHarness } from "./llm-harness.ts";

export class TestClock {
  constructor(public current = new Date("2026-11-21T12:00:00Z")) {}
  now = () => new Date(this.current);
  advance(ms: number) {
    this.current = new Date(this.current.getTime() + ms);
  }
}

/** Log lines, kept for assertions (and to check no message text reaches them). */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = createLogger("debug", (l) => lines.push(l));
  return Object.assign(log, { lines });
}

/**
 * The core as the bot builds it (createCore, providers chosen by the configuration), pointed at the
 * harness's emulator, with no platforms, no fine-tuning and short retry waits.
 */
export function buildCore(
  db: PrismaClient,
  llm: LlmHarness,
  clock = new TestClock(),
  env: Record<string, string> = {},
) {
  const log = memoryLogger();
  const config = loadConfig({
    ...llm.env,
    FINETUNE_PROVIDER: "none",
    CHAT_MODEL: llm.chatModel,
    EMBEDDING_MODEL: llm.embeddingModel,
    EMBEDDING_DIMENSIONS: String(llm.embeddingDimensions),
    SYSTEM_PROMPT: "You are a helpful assistant.",
    CHAT_PRICE_INPUT_PER_1M: "0.4",
    CHAT_PRICE_OUTPUT_PER_1M: "1.6",
    FINETUNE_THRESHOLD: "100",
    FINETUNE_MIN_RATING: "4",
    ...env,
  });
  const core = createCore({
    config,
    db,
    log,
    clock,
    notifiers: {},
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 20 },
  });
  return {
    conversation: core.conversation,
    ratings: core.ratings,
    status: core.status,
    memoryIndex: core.memoryIndex,
    log,
    clock,
  };
}
