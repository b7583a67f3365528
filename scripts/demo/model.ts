// The "language model" of the demo: the OpenAI emulator answers every chat completion with this
// function. It is deterministic and tiny, but it only knows what the bot put in the prompt it
// received: the memory block of the asker's past exchanges, their rated examples and their recent
// turns. So when an answer "remembers" Pixel, the bot really sent that memory, and when Ben asks
// the same question, his prompt really had no Pixel in it.
import { MEMORY_HEADER } from "../../src/core/prompt.ts";
import { messageText } from "../../test/emulators/openai/fine-tune-data.ts";
import type { ChatCompletionRequest } from "../../test/emulators/openai/index.ts";

/** What the model can tell about a person from their own words. */
export interface Facts {
  name?: string;
  dog?: string;
  breed?: string;
  cat?: string;
  learning?: string;
}

/** The parts of a prompt the demo shows the reader. */
export interface PromptView {
  model: string;
  /** "They said: ..." lines of the memory block (the asker's past exchanges found by search). */
  memory: string[];
  /** Earlier user turns in the prompt: rated examples and this channel's recent turns. */
  earlier: string[];
  question: string;
}

export function viewPrompt(body: ChatCompletionRequest): PromptView {
  const [system, ...rest] = body.messages;
  const systemText = messageText(system?.content);
  const block = systemText.includes(MEMORY_HEADER) ? systemText.slice(systemText.indexOf(MEMORY_HEADER)) : "";
  const memory = [...block.matchAll(/^- They said: (.*)$/gm)].map((m) => m[1]!.trim());
  const users = rest.filter((m) => m.role === "user").map((m) => messageText(m.content));
  return { model: body.model, memory, earlier: users.slice(0, -1), question: users.at(-1) ?? "" };
}

export function factsFrom(texts: string[]): Facts {
  const facts: Facts = {};
  const found = (key: keyof Facts, value: string | undefined) => {
    if (value) facts[key] = value;
  };
  for (const text of texts) {
    found("name", /\bI'?m ([A-Z][a-z]+)\b/.exec(text)?.[1]);
    found("dog", /\bdog is (?:called|named) ([A-Z][a-z]+)/.exec(text)?.[1]);
    found("breed", /\b(border collie|beagle|labrador|poodle)\b/i.exec(text)?.[1]?.toLowerCase());
    found("cat", /\bcat (?:called|named) ([A-Z][a-z]+)/.exec(text)?.[1]);
    found("learning", /\bI'?m learning ([A-Z][\w+#]*)/.exec(text)?.[1]);
  }
  return facts;
}

type Answer = (f: Facts) => string;

/** Scripted answers by topic; `f` holds what the prompt revealed about the asker. */
const TOPICS: Array<[RegExp, Answer]> = [
  [
    /exercise/i,
    (f) =>
      `${dogOf(f, true)} ${f.breed ? `is a ${f.breed}, so plan` : "needs"} at least 1-2 hours a day: walks plus a game that makes her think.`,
  ],
  [
    /pulls on the lead/i,
    (f) =>
      `Stop when ${f.dog ?? "your dog"} pulls and walk on when the lead is loose; reward her at your side. Short sessions, lots of treats.`,
  ],
  [
    /puzzle toy/i,
    (f) =>
      `A snuffle mat or a treat-dispensing ball. Clever ${f.breed ?? "dog"}s like ${f.dog ?? "yours"} love working for food.`,
  ],
  [
    /come back when called/i,
    (f) =>
      `Practise recall on a long line: call "${f.dog ?? "Here"}, come!" once, reward big, and never call her for something unpleasant.`,
  ],
  [
    /carrots/i,
    (f) =>
      `Yes, raw carrots are a healthy, crunchy treat. Cut them into sticks so ${f.dog ?? "your dog"} can't swallow them whole.`,
  ],
  [
    /brush/i,
    (f) =>
      `${f.breed ? `A ${f.breed}'s` : "A double"} coat needs brushing twice a week, daily when ${f.dog ?? "your dog"} sheds in spring and autumn.`,
  ],
  [
    /postman/i,
    (f) =>
      `Give ${f.dog ?? "your dog"} a job when the post comes: "go to your mat" and a treat there. Calm beats barking.`,
  ],
  [
    /trick/i,
    (f) =>
      `Try "spin": lure ${f.dog ?? "your dog"} in a circle with a treat, add the word, then fade the lure. Collies learn it in a day.`,
  ],
  [
    /training plan/i,
    (f) =>
      `I can't send email, but here is a plan for ${f.dog ?? "your dog"}: week 1 recall, week 2 loose lead, week 3 "settle", 10 minutes a day.`,
  ],
  [
    /build first/i,
    (f) =>
      `A small command-line tool, like a word counter or a to-do list: you'll meet ${f.learning ?? "the language"}'s ownership rules, Result and cargo in an afternoon.`,
  ],
  [/read a file in Rust/i, () => "Use std::fs::read_to_string(path)?; it returns a Result<String>."],
];

function dogOf(f: Facts, capital = false): string {
  return f.dog ?? (capital ? "Your dog" : "your dog");
}

/** The emulated model's answer to a chat completion request. */
export function demoReply(body: ChatCompletionRequest): string {
  const view = viewPrompt(body);
  const remembered = factsFrom([...view.memory, ...view.earlier]);
  const said = factsFrom([view.question]);
  const facts: Facts = { ...remembered, ...said };
  const answer = answerTo(view.question, facts, remembered, said);
  return view.model.startsWith("ft:") ? `${answer} 🐾 (your own model)` : answer;
}

function answerTo(question: string, facts: Facts, remembered: Facts, said: Facts): string {
  if (said.name) {
    const bits = [`Nice to meet you, ${said.name}!`];
    if (said.dog) bits.push(`${said.dog} sounds like a lovely ${said.breed ?? "dog"}. 🐕`);
    if (said.learning) bits.push(`Good luck with ${said.learning}!`);
    if (said.cat) bits.push(`Say hi to ${said.cat} for me. 🐱`);
    bits.push("What can I help you with?");
    return bits.join(" ");
  }
  if (/what(?:'s| is) my dog(?:'s name| called)/i.test(question)) {
    if (remembered.dog)
      return `Your dog is called ${remembered.dog}${remembered.breed ? `, your ${remembered.breed}` : ""}! 🐶 You told me when we first met.`;
    return `You haven't told me about a dog.${remembered.cat ? ` I do remember your cat, ${remembered.cat}. 🐱` : ""} What's their name?`;
  }
  for (const [re, answer] of TOPICS) if (re.test(question)) return answer(facts);
  return `Good question! Here is my short answer to "${question.slice(0, 60)}".`;
}
