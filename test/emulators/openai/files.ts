// /v1/files: multipart uploads kept byte for byte (fine-tune files get their format check at
// upload, as OpenAI validates them), listing with purpose/order/after, metadata, content, delete.
import { type EmuResponse, parseMultipart, type RecordedRequest } from "../http-recorder.ts";
import { openaiFail } from "./errors.ts";
import { checkChatJsonl } from "./fine-tune-data.ts";
import type { StoredFile } from "./fine-tuning.ts";

const FILE_PURPOSES = ["fine-tune", "assistants", "batch", "user_data", "vision", "evals"];

export interface FileContext {
  files: Map<string, StoredFile>;
  newId: (prefix: string, length?: number) => string;
  /** Emulator clock, milliseconds. */
  now: () => number;
}

/** The /v1/files routes; undefined for any other route. */
export function fileRoute(
  req: RecordedRequest,
  route: string,
  id: string | undefined,
  ctx: FileContext,
): EmuResponse | undefined {
  switch (route) {
    case "POST files":
      return uploadFile(req, ctx);
    case "GET files": {
      const order = req.query.order === "asc" ? 1 : -1;
      const all = [...ctx.files.values()]
        .filter((f) => !req.query.purpose || f.purpose === req.query.purpose)
        .sort((a, b) => order * (a.createdAt - b.createdAt));
      const start = req.query.after ? all.findIndex((f) => f.id === req.query.after) + 1 : 0;
      const data = all.slice(start, start + Number(req.query.limit ?? 10_000)).map(fileJson);
      return {
        json: {
          object: "list",
          data,
          has_more: start + data.length < all.length,
          first_id: data[0]?.id ?? null,
          last_id: data.at(-1)?.id ?? null,
        },
      };
    }
    case "GET files/:id":
      return { json: fileJson(fileById(ctx.files, id!)) };
    case "GET files/:id/content":
      return {
        headers: { "content-type": "application/octet-stream" },
        body: fileById(ctx.files, id!).bytes,
      };
    case "DELETE files/:id":
      fileById(ctx.files, id!);
      ctx.files.delete(id!);
      return { json: { id, object: "file", deleted: true } };
  }
  return undefined;
}

function uploadFile(req: RecordedRequest, ctx: FileContext): EmuResponse {
  const contentType = String(req.headers["content-type"] ?? "");
  if (!contentType.startsWith("multipart/form-data"))
    openaiFail(400, "Expected a multipart/form-data request with a 'file' and a 'purpose'.");
  const parts = parseMultipart(req.rawBody, contentType);
  const file = parts.find((p) => p.name === "file");
  const purpose = parts.find((p) => p.name === "purpose")?.data.toString("utf8");
  if (!file)
    openaiFail(400, "Missing required parameter: 'file'.", {
      param: "file",
      code: "missing_required_parameter",
    });
  if (!purpose)
    openaiFail(400, "Missing required parameter: 'purpose'.", {
      param: "purpose",
      code: "missing_required_parameter",
    });
  if (!FILE_PURPOSES.includes(purpose))
    openaiFail(400, `'${purpose}' is not one of ${JSON.stringify(FILE_PURPOSES)} - 'purpose'`, {
      param: "purpose",
    });
  const filename = file.filename ?? "upload";
  if (purpose === "fine-tune" && !filename.endsWith(".jsonl"))
    openaiFail(400, "Invalid file format for Fine-Tuning API. Must be .jsonl", { param: "file" });
  const stored: StoredFile = {
    id: ctx.newId("file-", 22),
    filename,
    purpose,
    bytes: Buffer.from(file.data),
    createdAt: Math.floor(ctx.now() / 1000),
    check: purpose === "fine-tune" ? checkChatJsonl(file.data) : undefined,
  };
  ctx.files.set(stored.id, stored);
  return { json: fileJson(stored) };
}

function fileById(files: Map<string, StoredFile>, id: string): StoredFile {
  const file = files.get(id);
  if (!file) openaiFail(404, `No such File object: ${id}`, { param: "id" });
  return file;
}

function fileJson(file: StoredFile) {
  return {
    object: "file",
    id: file.id,
    purpose: file.purpose,
    filename: file.filename,
    bytes: file.bytes.length,
    created_at: file.createdAt,
    expires_at: null,
    status: "processed",
    status_details: null,
  };
}
