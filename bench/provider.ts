// In-process stand-ins for the outside world, answering at once so that only our own work is timed:
// an LlmProvider that keeps count of the time spent inside it, a fine-tune provider and a notifier.
import type {
  ChatMessage,
  ChatResult,
  FineTuneJobInfo,
  FineTuneProvider,
  LlmProvider,
  MessageRef,
  Notifier,
} from "../src/core/ports.ts";
import type { Vocabulary } from "./data.ts";

const REPLY =
  "Here is a short answer that reads like a real one: the usual approach works well for this, " +
  "with two caveats worth checking first. Tell me more about your setup if you want details.";

/** Chat and embeddings computed in-process; `spentMs` is the time spent inside its calls. */
export class TimedProvider implements LlmProvider {
  readonly name = "openai" as const;
  spentMs = 0;
  calls = 0;

  constructor(private readonly vocabulary: Vocabulary) {}

  async chat(request: { model: string; messages: ChatMessage[] }): Promise<ChatResult> {
    const start = performance.now();
    let chars = 0;
    for (const m of request.messages) chars += m.content.length;
    const result = {
      text: REPLY,
      model: request.model,
      promptTokens: Math.ceil(chars / 4),
      completionTokens: 40,
    };
    this.calls++;
    this.spentMs += performance.now() - start;
    return result;
  }

  async embed(request: { model: string; dimensions: number; inputs: string[] }): Promise<number[][]> {
    const start = performance.now();
    if (request.dimensions !== this.vocabulary.dims)
      throw new Error(`bench vocabulary is ${this.vocabulary.dims} wide, asked for ${request.dimensions}`);
    const vectors = request.inputs.map((text) => this.vocabulary.embed(text));
    this.calls++;
    this.spentMs += performance.now() - start;
    return vectors;
  }
}

/** Accepts everything at once; jobs never finish (the readiness job only proposes). */
export function benchFineTuneProvider(): FineTuneProvider {
  let n = 0;
  const job = (id: string): FineTuneJobInfo => ({ providerJobId: id, status: "queued" });
  return {
    name: "openai",
    minExamples: 10,
    uploadFile: async () => `file-${++n}`,
    createJob: async () => job(`ftjob-${++n}`),
    getJob: async (id) => job(id),
    findJobByTrainingFile: async () => undefined,
    cancelJob: async () => {},
    modelShutdownDate: async () => undefined,
    deleteFile: async () => {},
    deleteModel: async () => {},
  };
}

/** Delivers approval prompts nowhere, instantly, and counts them. */
export class CountingNotifier implements Notifier {
  prompts = 0;
  async sendApprovalPrompt(): Promise<MessageRef> {
    this.prompts++;
    return { channel: "bench", message: String(this.prompts) };
  }
  async closeApprovalPrompt(): Promise<void> {}
  async sendDirectMessage(): Promise<void> {}
  async sendFile(): Promise<void> {}
  async postReply(): Promise<string[]> {
    return [];
  }
}
