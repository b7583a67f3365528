// What the Notifier contract (notifier.test.ts) needs from each platform: the real adapter's
// Notifier, pointed at that platform's emulator, and a way to read back what reached the emulator,
// in one shape for every platform.
import type { ConversationPlace, Notifier } from "../../src/core/ports.ts";

/** A message as a person sees it, whatever the platform. */
export interface Delivered {
  id: string;
  /** The text shown (Slack: the message text, which carries the whole prompt too). */
  text: string;
  /** Buttons under it, in order: their ids (what a click sends back) and labels. */
  buttons: Array<{ id: string; label: string }>;
  /** The message it answers (Discord: the replied-to message; Slack: the thread it is in). */
  replyTo?: string;
}

export interface DeliveredFile {
  name: string;
  /** Exactly the bytes that arrived, as UTF-8. */
  content: string;
  /** The text sent with it. */
  text: string;
}

export interface NotifierDriver {
  readonly platform: "discord" | "slack";
  readonly notifier: Notifier;
  /** The most characters one message of an answer may carry on the platform. */
  readonly messageLimit: number;
  /** The opaque identity (`discord:…`, `slack:…:…`) of a person the bot can DM. */
  person(n: number): string;
  /** An identity the other platform issued: this notifier must refuse it. */
  readonly foreignPerson: string;
  /** The bot's DMs to a person, oldest first, as they are now (edits applied). */
  dm(person: string): Promise<Delivered[]>;
  /** Files DMed to a person, oldest first. */
  files(person: string): Promise<DeliveredFile[]>;
  /** A person's message in a channel, as the core stores where it was. */
  personSays(person: string, text: string): Promise<ConversationPlace>;
  /** The bot's messages with these ids, as they are now, in the given order. */
  messages(place: ConversationPlace, ids: string[]): Promise<Delivered[]>;
  /** The platform refuses the next DM to this person (DMs closed, the person gone). */
  refuseDmsTo(person: string): void;
  stop(): Promise<void>;
}
