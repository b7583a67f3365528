// A Notifier that records what the core asked a platform to deliver, for core-level tests (the
// Discord and Slack suites cover the real adapters).
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
  async sendApprovalPrompt(to: string, prompt: ApprovalPrompt) {
    this.prompts.push({ to, prompt });
    return { dm: `dm-${this.prompts.length}` };
  }
  async closeApprovalPrompt(ref: MessageRef, text: string) {
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
