// Files people share in Slack, as the emulator serves them to the app: `share` makes the file
// object Slack puts in a message event's `files` (id, name, mimetype, filetype, size, url_private,
// url_private_download), and GET on those URLs answers the bytes, only with
// `Authorization: Bearer <bot token>` (Slack's rule for url_private, which needs files:read). A
// request without the token, or with another, is redirected to the sign-in page, which answers
// 200 with HTML, as files.slack.com does. Every download is recorded.
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomId } from "./state.ts";

export interface SharedFileSpec {
  name: string;
  mimetype: string;
  content: Buffer | string;
  /** Who shared it (the `user` of the file object). */
  userId: string;
  /** Overrides the size Slack reports (default: the content's length). */
  size?: number;
  /** "check_file_info": a Slack Connect file the app must look up first; no URLs are given. */
  fileAccess?: "check_file_info";
}

export interface FileDownload {
  path: string;
  authorization: string | undefined;
  status: number;
  at: number;
}

interface Shared {
  id: string;
  spec: SharedFileSpec;
  content: Buffer;
}

const FILETYPES: Record<string, string> = {
  "text/plain": "text",
  "text/markdown": "markdown",
  "text/csv": "csv",
  "application/json": "json",
  "image/png": "png",
  "image/jpeg": "jpg",
  "application/pdf": "pdf",
};

export class UserFiles {
  readonly downloads: FileDownload[] = [];
  private readonly byId = new Map<string, Shared>();

  constructor(
    private readonly baseUrl: () => string,
    private readonly teamId: string,
    private readonly botToken: string,
  ) {}

  /** The file object a message event carries. */
  share(spec: SharedFileSpec): Record<string, unknown> {
    const id = randomId("F", 10);
    const content = typeof spec.content === "string" ? Buffer.from(spec.content) : spec.content;
    this.byId.set(id, { id, spec, content });
    const now = Math.floor(Date.now() / 1000);
    const base = `${this.baseUrl()}/files-pri/${this.teamId}-${id}`;
    const name = encodeURIComponent(spec.name);
    return {
      id,
      created: now,
      timestamp: now,
      name: spec.name,
      title: spec.name,
      mimetype: spec.mimetype,
      filetype: FILETYPES[spec.mimetype] ?? "binary",
      pretty_type: FILETYPES[spec.mimetype] ?? "Binary",
      user: spec.userId,
      user_team: this.teamId,
      editable: false,
      size: spec.size ?? content.length,
      mode: "hosted",
      is_external: false,
      external_type: "",
      is_public: false,
      public_url_shared: false,
      display_as_bot: false,
      username: "",
      ...(spec.fileAccess
        ? { file_access: spec.fileAccess }
        : { url_private: `${base}/${name}`, url_private_download: `${base}/download/${name}` }),
    };
  }

  /** Answers GET /files-pri/... and /signin; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (path === "/signin") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end("<!DOCTYPE html><html><body>Sign in to Slack</body></html>");
      return true;
    }
    const m = /^\/files-pri\/[A-Z0-9]+-(F[A-Z0-9]+)\/(?:download\/)?[^/]+$/.exec(path);
    if (!m?.[1] || req.method !== "GET") return false;
    const authorization = req.headers.authorization;
    const record = (status: number) => this.downloads.push({ path, authorization, status, at: Date.now() });
    const file = this.byId.get(m[1]);
    if (authorization !== `Bearer ${this.botToken}`) {
      record(302);
      res.writeHead(302, { location: `${this.baseUrl()}/signin?redir=${encodeURIComponent(path)}` });
      res.end();
      return true;
    }
    if (!file) {
      record(404);
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("file_not_found");
      return true;
    }
    record(200);
    res.writeHead(200, { "content-type": file.spec.mimetype, "content-length": file.content.length });
    res.end(file.content);
    return true;
  }
}
