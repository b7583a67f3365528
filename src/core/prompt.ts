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
  used: { memory: number; fewShot: number; recent: number; conversation: number };
}

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
  // Drop, in order: the oldest recent turn, the least relevant memory, the least relevant example,
  // the oldest message of the visible conversation. Recent turns go first because the memory block
  // already carries what matters most from the past; the conversation goes last because it is what
  // the person is asking about ("summarise this thread"), and has its own budget already.
  while (tokens > budget.total && (recent.length || memory.length || fewShot.length || conversation.length)) {
    if (recent.length) recent.shift();
    else if (memory.length) memory.pop();
    else if (fewShot.length) fewShot.pop();
    else conversation.shift();
    messages = assemble();
    tokens = count(messages);
  }
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
