// Message bodies as the REST routes receive them: the fields read, an edit built from a PATCH body
// (attachments listed by id are kept, uploaded files added), uploaded files stored as attachments
// (their bytes served under /attachments/...), and embeds given Discord's defaults.
import type { APIAttachment, APIEmbed } from "discord.js";
import { snowflake } from "../ids.ts";
import type { RecordedFile } from "../router.ts";
import type { DiscordState, StoredMessage } from "../state.ts";

export type MessageBody = {
  content?: unknown;
  embeds?: unknown;
  components?: unknown;
  flags?: unknown;
  attachments?: unknown;
  allowed_mentions?: unknown;
  message_reference?: unknown;
  sticker_ids?: unknown;
  poll?: unknown;
  tts?: unknown;
  nonce?: unknown;
};

/** What a posted message (a new message, a follow-up) takes from its body: text, embeds, components, files. */
export function postedFields(s: DiscordState, channelId: string, body: MessageBody, files: RecordedFile[]) {
  return {
    content: typeof body.content === "string" ? body.content : "",
    embeds: normaliseEmbeds(body.embeds),
    components: Array.isArray(body.components) ? body.components : [],
    attachments: storeAttachments(s, channelId, body.attachments, files),
  };
}

/** Builds an edit from a PATCH body: attachments listed by id are kept, uploaded files added. */
export function messagePatch(
  s: DiscordState,
  stored: StoredMessage,
  body: MessageBody,
  files: RecordedFile[],
) {
  const patch: {
    content?: string;
    embeds?: APIEmbed[];
    components?: unknown[];
    flags?: number;
    attachments?: APIAttachment[];
  } = {};
  if (typeof body.content === "string") patch.content = body.content;
  else if (body.content === null) patch.content = "";
  if (body.embeds !== undefined) patch.embeds = normaliseEmbeds(body.embeds);
  if (body.components !== undefined) patch.components = Array.isArray(body.components) ? body.components : [];
  if (body.flags !== undefined && body.flags !== null) patch.flags = Number(body.flags);
  if (body.attachments !== undefined || files.length > 0) {
    const listed = Array.isArray(body.attachments)
      ? (body.attachments as Array<{ id?: unknown }>)
      : undefined;
    const kept = listed
      ? stored.message.attachments.filter((a) => listed.some((l) => String(l.id) === a.id))
      : stored.message.attachments;
    patch.attachments = [...kept, ...storeAttachments(s, stored.message.channel_id, body.attachments, files)];
  }
  return patch;
}

/** Turns uploaded files into attachment objects (bytes served under /attachments/...). */
export function storeAttachments(
  s: DiscordState,
  channelId: string,
  described: unknown,
  files: RecordedFile[],
): APIAttachment[] {
  const descriptions = Array.isArray(described)
    ? (described as Array<{ id?: unknown; filename?: string; description?: string }>)
    : [];
  return files.map((file, index) => {
    const fieldIndex = /\[(\d+)\]/.exec(file.field)?.[1] ?? String(index);
    const description = descriptions.find((d) => String(d.id) === fieldIndex);
    const filename = description?.filename ?? file.filename;
    const id = snowflake();
    const path = `/attachments/${channelId}/${id}/${filename}`;
    s.files.set(path, { data: file.data, contentType: file.contentType });
    const url = `${s.config.baseUrl()}${path}`;
    return {
      id,
      filename,
      size: file.size,
      url,
      proxy_url: url,
      content_type: file.contentType,
      ...(description?.description ? { description: description.description } : {}),
    };
  });
}

export function normaliseEmbeds(embeds: unknown): APIEmbed[] {
  if (!Array.isArray(embeds)) return [];
  return embeds.map((embed: APIEmbed) => ({ type: "rich", ...embed }) as APIEmbed);
}
