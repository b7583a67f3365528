// A Notifier that records what the core asked a platform to deliver, for core-level tests (the
// Notifier contract, test/contracts/notifier.test.ts, covers the real adapters). It stands in for
// the Discord notifier and keeps to what the core may count on from a real one: prompt references
// of the Discord shape ({channelId, messageId}), and only its own references close a prompt.
import type { ApprovalPrompt, ConversationPlace, MessageRef, Notifier } from "../../src/core/ports.ts";

export class RecordingNotifier implements Notifier {
  prompts: Array<{ to: string; prompt: ApprovalPrompt }> = [];
  closed: Array<{ ref: MessageRef; text: string }> = [];
  dms: Array<{ to: string; text: string }> = [];
  files: Array<{ to: string; text: string; file: { name: string; content: string } }> = [];
  replies: Array<{ place: ConversationPlace; text: string }> = [];
  async postReply(place: ConversationPlace, text: string) {
    this.replies.push({ place, text });
    return [`reply-${this.replies.length}`];
  }
  async sendApprovalPrompt(to: string, prompt: ApprovalPrompt): Promise<MessageRef> {
    this.prompts.push({ to, prompt });
    return { channelId: `dm:${to}`, messageId: `prompt-${this.prompts.length}` };
  }
  async closeApprovalPrompt(ref: MessageRef, text: string) {
    const known = this.prompts.some(
      ({ to }, i) => ref.channelId === `dm:${to}` && ref.messageId === `prompt-${i + 1}`,
    );
    if (!known) throw new Error("not a message reference this notifier gave out");
    this.closed.push({ ref, text });
  }
  async sendDirectMessage(to: string, text: string) {
    this.dms.push({ to, text });
  }
  async sendFile(to: string, text: string, file: { name: string; content: string }) {
    this.files.push({ to, text, file });
    this.dms.push({ to, text });
  }
}
