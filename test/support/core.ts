// Builds the personalisation core the way the app does, on a test database and an LLM harness.
import { createConversation } from "../../src/core/conversation.ts";
import type { Logger } from "../../src/core/ports.ts";
import { DEFAULT_RATING_EMOJI } from "../../src/core/rating-emoji.ts";
import { createRatings } from "../../src/core/ratings.ts";
import { createStatus } from "../../src/core/status.ts";
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

export function buildCore(db: PrismaClient, llm: LlmHarness, clock = new TestClock()) {
  const log = memoryLogger();
  const settings = {
    systemPrompt: "You are a helpful assistant.",
    chatModel: llm.chatModel,
    embeddingModel: llm.embeddingModel,
    embeddingDimensions: llm.embeddingDimensions,
    priceInputPer1M: 0.4,
    priceOutputPer1M: 1.6,
    fewShotMinRating: 4,
  };
  const conversation = createConversation({
    db,
    clock,
    log,
    llm: llm.provider,
    settings,
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 20 },
  });
  const ratings = createRatings({ db, clock, log, ratingMap: DEFAULT_RATING_EMOJI, minRating: 4 });
  const status = createStatus({ db, settings: { threshold: 100, chatModel: llm.chatModel } });
  return { conversation, ratings, status, log, clock };
}
