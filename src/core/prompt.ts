// Builds the messages sent to the model: system prompt, a memory block of the user's relevant past
// exchanges, the visible conversation of the thread (thread-context.ts), few-shot pairs from their
// best-rated replies, then the recent turns of this channel or thread, then the new message.
// Everything but the system prompt and the new message is optional and is cut, least valuable
// first, to fit the token budget.
import type { ChatImage, ChatMessage } from "./ports.ts";
import { conversationBlock } from "./thread-context.ts";
import { cachedTokenCount } from "./token-cache.ts";

export interface PastExchange {
  userText: string;
  replyText: string;
  /**
   * Tokens of userText plus replyText, counted when the answer was stored (Exchange.textTokens);
   * absent for rows stored before that column: then they are counted here.
   */
  tokens?: number | null;
}

export interface PromptParts {
  systemPrompt: string;
  memory: PastExchange[];
  fewShot: PastExchange[];
  recent: PastExchange[];
  /**
   * The visible conversation's lines, oldest first (thread-context.ts: `conversationLines`). When
   * there are any they replace `recent`: the asker's recent turns in this thread are among them.
   */
  conversation?: string[];
  message: string;
  /** Images attached to the message (attachments.ts), sent with it; not counted against the budget. */
  images?: ChatImage[];
}

export interface PromptBudget {
  /** Tokens for the whole prompt. */
  total: number;
  /** Longest a single remembered text may be before it is shortened. */
  maxItemChars: number;
}

export const defaultBudget: PromptBudget = { total: 6_000, maxItemChars: 1_200 };

export const MEMORY_HEADER =
  "Things this person said to you before (for context; do not repeat them unless relevant):";

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

const ITEM_SAID = "- They said: ";
const ITEM_ANSWERED = "\n  You answered: ";

function memoryItem(m: PastExchange, maxChars: number): string {
  return `${ITEM_SAID}${clip(m.userText, maxChars)}${ITEM_ANSWERED}${clip(m.replyText, maxChars)}`;
}

function memoryBlock(memory: PastExchange[], maxChars: number): string {
  return [MEMORY_HEADER, ...memory.map((m) => memoryItem(m, maxChars))].join("\n");
}

function pairs(items: PastExchange[], maxChars: number): ChatMessage[] {
  return items.flatMap((p) => [
    { role: "user" as const, content: clip(p.userText, maxChars) },
    { role: "assistant" as const, content: clip(p.replyText, maxChars) },
  ]);
}

export interface BuiltPrompt {
  messages: ChatMessage[];
  tokens: number;
  used: { memory: number; fewShot: number; recent: number; conversation: number };
}

/** Tokens around each message's content (role and separators), and priming the model's reply. */
const MESSAGE_FRAME = 4;
const PRIMING = 3;
/** One token more where two separately counted texts meet (see buildPrompt). */
const SEAM = 1;
/** "\n\n" between the system message's paragraphs, and its two seams. */
const PARAGRAPH = 1 + 2 * SEAM;

export function buildPrompt(parts: PromptParts, budget: PromptBudget = defaultBudget): BuiltPrompt {
  const memory = [...parts.memory];
  const fewShot = [...parts.fewShot];
  const conversation = [...(parts.conversation ?? [])];
  const recent = conversation.length ? [] : [...parts.recent];
  const assemble = (): ChatMessage[] => {
    const system = [
      parts.systemPrompt,
      memory.length ? memoryBlock(memory, budget.maxItemChars) : "",
      conversationBlock(conversation),
    ]
      .filter(Boolean)
      .join("\n\n");
    return [
      { role: "system", content: system },
      ...pairs(fewShot, budget.maxItemChars),
      ...pairs(recent, budget.maxItemChars),
      { role: "user", content: parts.message, ...(parts.images?.length ? { images: parts.images } : {}) },
    ];
  };
  // The total is counted by parts and kept up to date as parts are dropped, instead of tokenising
  // the assembled messages: the system message (memory block included) is new text every reply, and
  // tokenising it was most of a prompt's CPU. A past exchange's count comes from when it was stored
  // (PastExchange.tokens), the other texts' from token-cache.ts. Where two parts meet, BPE can merge
  // across the seam or split differently, so each seam counts one token more: the total is an upper
  // bound of the exact count, a few tokens over it.
  const pastTokens = (p: PastExchange) =>
    p.tokens != null && p.userText.length <= budget.maxItemChars && p.replyText.length <= budget.maxItemChars
      ? p.tokens
      : cachedTokenCount(clip(p.userText, budget.maxItemChars)) +
        cachedTokenCount(clip(p.replyText, budget.maxItemChars));
  const pairTokens = (p: PastExchange) => 2 * MESSAGE_FRAME + pastTokens(p);
  // "\n", the two labels, and the seams between labels and texts.
  const itemTokens = (p: PastExchange) =>
    1 + cachedTokenCount(ITEM_SAID) + cachedTokenCount(ITEM_ANSWERED) + 4 * SEAM + pastTokens(p);
  const conversationTokens = () =>
    conversation.length ? PARAGRAPH + cachedTokenCount(conversationBlock(conversation)) : 0;
  const memoryHeaderTokens = PARAGRAPH + cachedTokenCount(MEMORY_HEADER);
  let tokens =
    PRIMING +
    MESSAGE_FRAME +
    cachedTokenCount(parts.systemPrompt) +
    (memory.length ? memoryHeaderTokens : 0) +
    memory.reduce((n, m) => n + itemTokens(m), 0) +
    conversationTokens() +
    [...fewShot, ...recent].reduce((n, p) => n + pairTokens(p), 0) +
    MESSAGE_FRAME +
    cachedTokenCount(parts.message);
  // Drop, in order: the oldest recent turn, the least relevant memory, the least relevant example,
  // the oldest message of the visible conversation. Recent turns go first because the memory block
  // already carries what matters most from the past; the conversation goes last because it is what
  // the person is asking about ("summarise this thread"), and has its own budget already.
  while (tokens > budget.total && (recent.length || memory.length || fewShot.length || conversation.length)) {
    if (recent.length) tokens -= pairTokens(recent.shift()!);
    else if (memory.length) {
      tokens -= itemTokens(memory.pop()!);
      if (!memory.length) tokens -= memoryHeaderTokens;
    } else if (fewShot.length) tokens -= pairTokens(fewShot.pop()!);
    else {
      const before = conversationTokens();
      conversation.shift();
      tokens += conversationTokens() - before;
    }
  }
  const messages = assemble();
  return {
    messages,
    tokens,
    used: {
      memory: memory.length,
      fewShot: fewShot.length,
      recent: recent.length,
      conversation: conversation.length,
    },
  };
}
