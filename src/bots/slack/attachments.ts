// Files shared with a message (`files` on app_mention and file_share messages) as the core reads
// them: each downloaded, only if read, from its `url_private_download` with the bot token (the
// `files:read` scope). Files Slack does not hand over (Slack Connect's `check_file_info`, external
// files) have no URL: their download fails and the core says so.
import type { IncomingAttachment } from "../../core/ports.ts";
import { DownloadError, downloadLimited } from "../shared/download.ts";

/** The fields of a Slack file object read here. */
export interface SlackFile {
  id?: string;
  name?: string | null;
  title?: string | null;
  mimetype?: string;
  filetype?: string;
  size?: number;
  url_private?: string;
  url_private_download?: string;
}

export function slackAttachments(
  files: readonly SlackFile[] | undefined,
  token: string | undefined,
): IncomingAttachment[] {
  return (files ?? []).map((f) => ({
    name: f.name || f.title || `${f.id ?? "file"}${f.filetype ? `.${f.filetype}` : ""}`,
    ...(f.mimetype ? { contentType: f.mimetype } : {}),
    size: f.size ?? 0,
    download: async (maxBytes, signal) => {
      const url = f.url_private_download ?? f.url_private;
      if (!url || !token) throw new DownloadError("Slack gave no download address for the file");
      return downloadLimited(url, {
        maxBytes,
        signal,
        headers: { authorization: `Bearer ${token}` },
        refuseHtml: !/^text\/html\b/i.test(f.mimetype ?? ""),
      });
    },
  }));
}
