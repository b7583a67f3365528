// Retrieval quality offline (issue 16 item 4): a multi-session conversation set the bench writes
// itself — people who state facts and preferences, change some of them later, chat about other
// things, and sessions later ask about them — and recall@k of the exchanges that hold the answer,
// for the bot's current retrieval (exact cosine over the person's own exchanges, what both the SQL
// path and the in-process index return) and alternatives: recency weighting, and a hybrid that
// fuses the vector ranking with a keyword ranking (BM25) by reciprocal rank.
//
// The embeddings are the emulators' deterministic stand-in (hashed words and bigrams), so the
// figures say how the methods behave on word overlap, not how a real embedding model ranks; run it
// with real embeddings before adopting a method. The keyword ranking is BM25 in JavaScript, a
// stand-in for Postgres full-text search (ts_rank) the bot would use.
//
//   npm run bench:retrieval
import { cosineSimilarity, embed, embeddingWords } from "../test/emulators/embedding.ts";
import { rng } from "./random.ts";
import { table } from "./stats.ts";

const WIDTH = 256;
const PEOPLE = 40;
const KS = [1, 3, 5];

interface Exchange {
  seq: number;
  text: string;
  vector: number[];
}

interface Question {
  person: number;
  text: string;
  /** The exchange that holds the current answer. */
  answer: number;
  /** Earlier statements of the same fact, now out of date. */
  stale: number[];
}

const SLOTS = [
  {
    ask: "What is my dog called?",
    say: (v: string) => `My dog is called ${v}.`,
    change: (v: string) => `We renamed the dog, my dog is called ${v} now.`,
    values: ["Pixel", "Biscuit", "Nova", "Pepper", "Juno", "Mochi"],
  },
  {
    ask: "Which city do I live in?",
    say: (v: string) => `I live in ${v}.`,
    change: (v: string) => `I moved last month, I live in ${v} now.`,
    values: ["Lisbon", "Porto", "Oslo", "Kyoto", "Quito", "Leeds"],
  },
  {
    ask: "What language do I prefer for work?",
    say: (v: string) => `For work I prefer ${v}.`,
    change: (v: string) => `I switched, for work I prefer ${v} these days.`,
    values: ["Rust", "Go", "Python", "Kotlin", "Elixir", "TypeScript"],
  },
  {
    ask: "What do I like to eat for breakfast?",
    say: (v: string) => `For breakfast I like to eat ${v}.`,
    change: (v: string) => `New habit: for breakfast I like to eat ${v}.`,
    values: ["porridge", "toast", "eggs", "yoghurt", "pancakes", "fruit"],
  },
  {
    ask: "What is my job?",
    say: (v: string) => `My job is ${v}.`,
    change: (v: string) => `I changed careers, my job is ${v} now.`,
    values: ["nurse", "teacher", "plumber", "designer", "pilot", "baker"],
  },
];

const FILLER = [
  "Can you explain how a binary search works?",
  "Write a haiku about the sea.",
  "What is the capital of Australia?",
  "Summarise the plot of Hamlet in two lines.",
  "How do I reverse a linked list?",
  "Give me three ideas for a team offsite.",
  "What is the difference between TCP and UDP?",
  "Translate good morning into Portuguese.",
  "How many minutes are in a week?",
  "Suggest a name for a chess club.",
  "Why is the sky blue?",
  "How do I centre a div?",
];

function conversationSet(seed: number): { people: Exchange[][]; questions: Question[] } {
  const random = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const people: Exchange[][] = [];
  const questions: Question[] = [];
  for (let p = 0; p < PEOPLE; p++) {
    const history: Exchange[] = [];
    const say = (text: string) => {
      history.push({ seq: history.length, text, vector: embed(text, WIDTH) });
      return history.length - 1;
    };
    const chat = (n: number) => {
      for (let i = 0; i < n; i++) say(pick(FILLER));
    };
    // Sessions 1-3: facts stated among other talk.
    const facts = SLOTS.map((slot) => {
      chat(3 + Math.floor(random() * 5));
      return { slot, at: [say(slot.say(pick(slot.values)))] };
    });
    // Sessions 4-7: some facts change (the newest statement holds the answer).
    for (const f of facts) {
      chat(4 + Math.floor(random() * 8));
      if (random() < 0.5) f.at.push(say(f.slot.change(pick(f.slot.values))));
    }
    // Sessions 8-10: more talk, then the questions.
    chat(20 + Math.floor(random() * 20));
    people.push(history);
    for (const f of facts)
      questions.push({ person: p, text: f.slot.ask, answer: f.at.at(-1)!, stale: f.at.slice(0, -1) });
  }
  return { people, questions };
}

type Ranker = (history: Exchange[], question: string) => number[];

const byScore = (scores: number[]) =>
  scores
    .map((s, i) => [s, i] as const)
    .sort((a, b) => b[0] - a[0])
    .map(([, i]) => i);

/** What the bot does today: exact cosine over the person's exchanges. */
const vector: Ranker = (history, question) => {
  const q = embed(question, WIDTH);
  return byScore(history.map((x) => cosineSimilarity(q, x.vector)));
};

/** Cosine plus a small bonus for recent exchanges (newer statements of a fact win ties). */
const recency =
  (weight: number): Ranker =>
  (history, question) => {
    const q = embed(question, WIDTH);
    const n = history.length;
    return byScore(history.map((x, i) => cosineSimilarity(q, x.vector) + weight * (i / Math.max(1, n - 1))));
  };

/** BM25 over the person's exchanges (k1 1.2, b 0.75). */
function bm25(history: Exchange[], question: string): number[] {
  const docs = history.map((x) => embeddingWords(x.text));
  const avg = docs.reduce((s, d) => s + d.length, 0) / Math.max(1, docs.length);
  const df = new Map<string, number>();
  for (const d of docs) for (const w of new Set(d)) df.set(w, (df.get(w) ?? 0) + 1);
  const terms = embeddingWords(question);
  return docs.map((d) => {
    let score = 0;
    for (const t of terms) {
      const f = d.filter((w) => w === t).length;
      if (!f) continue;
      const idf = Math.log(1 + (docs.length - (df.get(t) ?? 0) + 0.5) / ((df.get(t) ?? 0) + 0.5));
      score += (idf * f * 2.2) / (f + 1.2 * (1 - 0.75 + (0.75 * d.length) / avg));
    }
    return score;
  });
}

/** Reciprocal rank fusion of the vector ranking and BM25 (k = 60), optionally with recency. */
const hybrid =
  (recencyWeight: number): Ranker =>
  (history, question) => {
    const v = (recencyWeight > 0 ? recency(recencyWeight) : vector)(history, question);
    const k = byScore(bm25(history, question));
    const fused = new Array<number>(history.length).fill(0);
    v.forEach((i, r) => {
      fused[i]! += 1 / (60 + r + 1);
    });
    k.forEach((i, r) => {
      fused[i]! += 1 / (60 + r + 1);
    });
    return byScore(fused);
  };

export function retrievalSuite(seed = 7) {
  const { people, questions } = conversationSet(seed);
  const methods: Array<[string, Ranker]> = [
    ["vector (current)", vector],
    ["vector + recency 0.05", recency(0.05)],
    ["vector + recency 0.15", recency(0.15)],
    ["hybrid vector + BM25 (RRF)", hybrid(0)],
    ["hybrid + recency 0.05", hybrid(0.05)],
  ];
  const rows = methods.map(([name, rank]) => {
    const found = KS.map(() => 0);
    let staleFirst = 0;
    let changed = 0;
    let ms = 0;
    for (const q of questions) {
      const started = performance.now();
      const order = rank(people[q.person]!, q.text);
      ms += performance.now() - started;
      KS.forEach((k, j) => {
        if (order.slice(0, k).includes(q.answer)) found[j]! += 1;
      });
      if (q.stale.length) {
        changed++;
        // An out-of-date statement ranked above the current one: the prompt would say the old fact first.
        if (q.stale.some((s) => order.indexOf(s) < order.indexOf(q.answer))) staleFirst++;
      }
    }
    return {
      name,
      recall: found.map((f) => f / questions.length),
      staleFirst: changed ? staleFirst / changed : 0,
      msPerQuery: ms / questions.length,
    };
  });
  const sizes = people.map((h) => h.length);
  return {
    people: people.length,
    questions: questions.length,
    changedFacts: questions.filter((q) => q.stale.length).length,
    exchangesPerPerson: { min: Math.min(...sizes), max: Math.max(...sizes) },
    rows,
  };
}

export function formatRetrieval(r: ReturnType<typeof retrievalSuite>): string {
  return [
    `Retrieval quality on a written conversation set: ${r.people} people, ${r.exchangesPerPerson.min}-${r.exchangesPerPerson.max} exchanges each, ${r.questions} questions asked sessions later (${r.changedFacts} about facts changed since); stand-in embeddings (hashed words), width ${WIDTH}`,
    table(
      ["method", ...KS.map((k) => `recall@${k}`), "stale ranked first", "ms/query (JS)"],
      r.rows.map((x) => [
        x.name,
        ...x.recall.map((v) => v.toFixed(3)),
        x.staleFirst.toFixed(3),
        x.msPerQuery.toFixed(2),
      ]),
    ),
    "recall@k: the exchange holding the current answer is among the k retrieved. stale ranked first: share of changed facts whose out-of-date statement ranks above the current one.",
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${formatRetrieval(retrievalSuite())}\n`);
}
