// Files attached to a message as the core reads them: each downloaded, only if read, from its CDN
// `url` (signed by Discord; no token needed). Their metadata arrives with the message only with the
// Message Content intent, which the bot asks for.
import type { Message } from "discord.js";
import type { IncomingAttachment } from "../../core/ports.ts";
import { downloadLimited } from "../shared/download.ts";

export function discordAttachments(message: Message): IncomingAttachment[] {
  return [...message.attachments.values()].map((a) => ({
    name: a.name,
    ...(a.contentType ? { contentType: a.contentType } : {}),
    size: a.size,
    download: (maxBytes, signal) => downloadLimited(a.url, { maxBytes, signal }),
  }));
}
