// Builds the messages sent to the model: system prompt, a memory block of the user's relevant past
// exchanges, few-shot pairs from their best-rated replies, then the recent turns of this channel or
// thread, then the new message. Everything but the system prompt and the new message is optional
// and is cut, least valuable first, to fit the token budget.
import type { ChatMessage } from "./ports.ts";
import { cachedTokenCount } from "./token-cache.ts";

export interface PastExchange {
  userText: string;
  replyText: string;
}

export interface PromptParts {
  systemPrompt: string;
  memory: PastExchange[];
  fewShot: PastExchange[];
  recent: PastExchange[];
  message: string;
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

function memoryBlock(memory: PastExchange[], maxChars: number): string {
  return [
    MEMORY_HEADER,
    ...memory.map(
      (m) => `- They said: ${clip(m.userText, maxChars)}\n  You answered: ${clip(m.replyText, maxChars)}`,
    ),
  ].join("\n");
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
  used: { memory: number; fewShot: number; recent: number };
}

export function buildPrompt(parts: PromptParts, budget: PromptBudget = defaultBudget): BuiltPrompt {
  const memory = [...parts.memory];
  const fewShot = [...parts.fewShot];
  const recent = [...parts.recent];
  const assemble = (): ChatMessage[] => {
    const system = memory.length
      ? `${parts.systemPrompt}\n\n${memoryBlock(memory, budget.maxItemChars)}`
      : parts.systemPrompt;
    return [
      { role: "system", content: system },
      ...pairs(fewShot, budget.maxItemChars),
      ...pairs(recent, budget.maxItemChars),
      { role: "user", content: parts.message },
    ];
  };
  // Each message's text is counted once: dropping a part re-assembles the prompt, but only the
  // system message (when memory shrinks) has new text; and texts of earlier replies' prompts (the
  // recent turns, the examples) are remembered across replies. Tokenising is most of a prompt's CPU.
  const counted = new Map<string, number>();
  const tokensOf = (text: string) => {
    let n = counted.get(text);
    if (n === undefined) {
      n = cachedTokenCount(text);
      counted.set(text, n);
    }
    return n;
  };
  const count = (messages: ChatMessage[]) => messages.reduce((n, m) => n + 4 + tokensOf(m.content), 3);
  let messages = assemble();
  let tokens = count(messages);
  // Drop, in order: the oldest recent turn, the least relevant memory, the least relevant example.
  // Recent turns go first because the memory block already carries what matters most from the past.
  while (tokens > budget.total && (recent.length || memory.length || fewShot.length)) {
    if (recent.length) recent.shift();
    else if (memory.length) memory.pop();
    else fewShot.pop();
    messages = assemble();
    tokens = count(messages);
  }
  return {
    messages,
    tokens,
    used: { memory: memory.length, fewShot: fewShot.length, recent: recent.length },
  };
}
