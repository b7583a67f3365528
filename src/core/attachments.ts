// Files attached to a person's message, read when it is answered. Text files (text/*, JSON, CSV,
// logs, code...) up to ATTACHMENT_MAX_BYTES become part of the message, each under a
// "[file: name]" header: they are the person's own words as much as what they typed, so they are
// stored with it (Exchange.userText), remembered, exported, deleted and, after the privacy filter,
// trained on like the rest of it. Images go to the model as images when it can see them
// (VISION_MODELS), and stay a "[image: name]" line in the stored text; the bytes are never stored.
// Everything else (too big, binary, PDFs, images for a model that cannot see) gets a note before the
// answer, and what the person typed is answered regardless.
import { attachmentNotices } from "./messages.ts";
import type { ChatImage, ChatMessage, IncomingAttachment, Logger } from "./ports.ts";
import { clipStorable, storableText } from "./storable-text.ts";
import { countTokens } from "./tokens.ts";

export interface AttachmentSettings {
  /** Largest text file read (ATTACHMENT_MAX_BYTES). */
  maxBytes: number;
  /** Tokens all of one message's text files may bring together (ATTACHMENT_MAX_TOKENS). */
  maxTokens: number;
  /** Largest image sent to the model (IMAGE_MAX_BYTES). */
  imageMaxBytes: number;
  /** Model name prefixes that accept images (VISION_MODELS). */
  visionModels: string[];
  /** How long all of one message's downloads may take together. */
  downloadTimeoutMs: number;
}

export const defaultAttachmentSettings: AttachmentSettings = {
  maxBytes: 100_000,
  maxTokens: 50_000,
  imageMaxBytes: 5_000_000,
  visionModels: ["gpt-4o", "gpt-4.1", "gpt-5", "o3", "o4", "gemini-"],
  downloadTimeoutMs: 15_000,
};

/** What a message's attachments added to it. */
export interface ReadAttachments {
  /** "[file: name]" blocks and "[image: name]" lines, appended to what the person typed. */
  text: string;
  /** Images for the model (empty when it cannot see them). */
  images: ChatImage[];
  /** Sentences for the person, shown before the answer. */
  notes: string[];
  /** Whether any file was read (text, or an image the model will see). */
  readSome: boolean;
}

/**
 * Whether `model` accepts images: its name (a fine-tune's base, after `ft:`) starts with one of
 * the VISION_MODELS prefixes.
 */
export function acceptsImages(model: string, visionModels: string[]): boolean {
  const name = model.replace(/^ft:/, "").replace(/^models\//, "");
  return visionModels.some((prefix) => prefix !== "" && name.startsWith(prefix));
}

/** Images both providers accept (OpenAI image_url, Gemini inlineData). */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const TEXT_TYPES = new Set([
  "application/json",
  "application/x-ndjson",
  "application/xml",
  "application/yaml",
  "application/x-yaml",
  "application/toml",
  "application/csv",
  "application/javascript",
  "application/typescript",
  "application/x-sh",
  "application/sql",
]);
const TEXT_EXTENSIONS = new Set(
  (
    "txt md markdown rst csv tsv json jsonl ndjson log yaml yml toml ini cfg conf xml html htm css " +
    "js mjs cjs ts tsx jsx py rb go rs java kt c h cpp hpp cs php sh bash zsh sql r swift scala lua " +
    "pl diff patch tex srt vtt env properties gradle dockerfile makefile"
  ).split(" "),
);
const IMAGE_EXTENSIONS: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
};

function kindOf(
  a: IncomingAttachment,
): { kind: "text" } | { kind: "image"; mimeType: string } | { kind: "other" } {
  const type = (a.contentType ?? "").split(";")[0]!.trim().toLowerCase();
  const dot = a.name.lastIndexOf(".");
  const ext = dot >= 0 ? a.name.slice(dot + 1).toLowerCase() : a.name.toLowerCase();
  if (IMAGE_TYPES.has(type)) return { kind: "image", mimeType: type };
  if (type.startsWith("text/") || TEXT_TYPES.has(type) || type.endsWith("+json") || type.endsWith("+xml"))
    return { kind: "text" };
  // Platforms often send no type, or application/octet-stream, for plain files: the name decides.
  if (type === "" || type === "application/octet-stream") {
    if (TEXT_EXTENSIONS.has(ext)) return { kind: "text" };
    const image = IMAGE_EXTENSIONS[ext];
    if (image) return { kind: "image", mimeType: image };
  }
  return { kind: "other" };
}

/** UTF-8 text, or undefined for bytes that are not (invalid sequences, NUL, other control bytes). */
function decodeText(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
  // Text has no NUL and few control characters; a binary file renamed .txt has many.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for exactly these
  const controls = text.match(/[\u0000-\u0008\u000E-\u001F]/g)?.length ?? 0;
  if (text.includes("\u0000") || controls > text.length / 100) return undefined;
  return storableText(text.replace(/^\uFEFF/, ""));
}

/**
 * Reads `attachments` in order, for an answer by `chatModel`. Never throws: a file that cannot be
 * read becomes a note. All downloads share `downloadTimeoutMs`.
 */
export async function readAttachments(
  attachments: IncomingAttachment[],
  settings: AttachmentSettings,
  chatModel: string,
  log: Logger,
): Promise<ReadAttachments> {
  const blocks: string[] = [];
  const images: ChatImage[] = [];
  const notes: string[] = [];
  let tokensLeft = settings.maxTokens;
  let imagesRefused = false;
  const signal = AbortSignal.timeout(settings.downloadTimeoutMs);
  const vision = acceptsImages(chatModel, settings.visionModels);

  const download = async (
    a: IncomingAttachment,
    max: number,
  ): Promise<Uint8Array | "too_big" | undefined> => {
    try {
      const bytes = await a.download(max, signal);
      return bytes.length > max ? "too_big" : bytes;
    } catch (e) {
      log.warn("an attachment could not be downloaded", {
        error: e instanceof Error ? e.name : typeof e,
        ...(e instanceof Error && "status" in e && typeof e.status === "number" ? { status: e.status } : {}),
      });
      notes.push(attachmentNotices.failed(a.name));
      return undefined;
    }
  };

  for (const a of attachments) {
    const name =
      storableText(a.name)
        .replace(/[\r\n\]]/g, " ")
        .trim() || "a file";
    const kind = kindOf(a);
    if (kind.kind === "image") {
      blocks.push(`[image: ${name}]`);
      if (!vision) {
        imagesRefused = true;
        continue;
      }
      if (a.size > settings.imageMaxBytes) {
        notes.push(attachmentNotices.imageTooBig(name, settings.imageMaxBytes));
        continue;
      }
      const bytes = await download(a, settings.imageMaxBytes);
      if (bytes === "too_big") notes.push(attachmentNotices.imageTooBig(name, settings.imageMaxBytes));
      else if (bytes) images.push({ mimeType: kind.mimeType, base64: Buffer.from(bytes).toString("base64") });
      continue;
    }
    if (kind.kind === "other") {
      notes.push(attachmentNotices.unsupported(name));
      continue;
    }
    if (a.size > settings.maxBytes) {
      notes.push(attachmentNotices.tooBig(name, settings.maxBytes));
      continue;
    }
    const bytes = await download(a, settings.maxBytes);
    if (bytes === undefined) continue;
    if (bytes === "too_big") {
      notes.push(attachmentNotices.tooBig(name, settings.maxBytes));
      continue;
    }
    const text = decodeText(bytes);
    if (text === undefined) {
      notes.push(attachmentNotices.notText(name));
      continue;
    }
    const block = `[file: ${name}]\n${text.trimEnd()}`;
    const tokens = countTokens(block);
    if (tokens > tokensLeft) {
      notes.push(attachmentNotices.overTokens(name, settings.maxTokens, tokensLeft === settings.maxTokens));
      continue;
    }
    tokensLeft -= tokens;
    blocks.push(block);
  }
  if (imagesRefused) notes.unshift(attachmentNotices.noVision(chatModel));
  const readSome = images.length > 0 || blocks.some((b) => b.startsWith("[file: "));
  return { text: blocks.join("\n\n"), images, notes, readSome };
}

/**
 * The answer to a message with no text of its own whose files gave nothing to answer: the notes
 * (an image the model cannot see gets the sentence that says what to do instead).
 */
export function nothingReadText(read: ReadAttachments, chatModel: string): string {
  const notes = read.notes.map((n) =>
    n === attachmentNotices.noVision(chatModel) ? attachmentNotices.noVisionNoText(chatModel) : n,
  );
  return notes.join("\n");
}

/** What the person typed, then what their files added. */
export function withAttachedText(typed: string, read: ReadAttachments | undefined): string {
  if (!read?.text) return typed;
  return typed ? `${typed}\n\n${read.text}` : read.text;
}

/** What is embedded for memory: embedding models take a few thousand tokens, so the start of a long message stands for it. */
export function embeddingText(text: string): string {
  return clipStorable(text, 4_000);
}

/**
 * The messages as `model` can take them: unchanged for a model that sees images, without the
 * images otherwise (a person's own open-weights model answering a message that had some).
 */
export function imagesForModel(
  messages: ChatMessage[],
  model: string,
  visionModels: string[],
): ChatMessage[] {
  if (!messages.some((m) => m.images?.length) || acceptsImages(model, visionModels)) return messages;
  return messages.map(({ images: _dropped, ...m }) => m);
}
