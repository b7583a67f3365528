// Together's file store. Two ways in, as the real API has them:
// * `POST /v1/files/upload`, multipart `purpose`, `file_name`, `file` (and optional `file_type`), the
//   path the OpenAPI spec documents (togethercomputer/openapi @ 090263aa);
// * the TypeScript SDK's `files.upload(path)` (together-ai 0.52 `lib/upload.ts`): `POST /v1/files`
//   with the form fields in the query and body, answered by a 302 whose `Location` is a signed upload
//   URL and whose `x-together-file-id` names the file; then `PUT` of the raw bytes there; then
//   `GET /v1/files/{id}`.
// Files of purpose `fine-tune` are validated (data.ts) after `validationMs` on the emulator clock:
// `processing_status` goes PENDING -> COMPLETED or INVALID_FORMAT and `validation_report` appears,
// the fields the SDK (2026-08) documents; `Processed` is the older flag for "fully uploaded".
import type { ManualClock, RecordedRequest } from "../http-recorder.ts";
import { parseMultipart } from "../http-recorder.ts";
import { checkTogetherJsonl, type TogetherFileCheck } from "./data.ts";
import { togetherFail } from "./errors.ts";

export const FILE_PURPOSES = [
  "fine-tune",
  "eval",
  "eval-sample",
  "eval-output",
  "eval-summary",
  "batch-generated",
  "batch-api",
];
const FILE_TYPES = ["jsonl", "csv", "parquet"];

export type ProcessingStatus = "PENDING" | "COMPLETED" | "INVALID_FORMAT";

export interface StoredFile {
  id: string;
  filename: string;
  purpose: string;
  fileType: string;
  /** Exactly the bytes received; empty until a signed-URL upload has PUT them. */
  bytes: Buffer;
  createdAt: number;
  /** False between the SDK's `POST /files` and its `PUT` of the bytes. */
  uploaded: boolean;
  processingStatus: ProcessingStatus;
  /** Set once validated (fine-tune files only). */
  check?: TogetherFileCheck;
}

export interface FilesDeps {
  clock: ManualClock;
  newUuid: () => string;
  baseUrl: () => string;
  /** Delay before an uploaded fine-tune file is validated. 0 validates at upload. */
  validationMs: number;
}

export class TogetherFiles {
  readonly files = new Map<string, StoredFile>();
  /** Signed-upload tokens -> file id. */
  private readonly pendingUploads = new Map<string, string>();

  constructor(private readonly deps: FilesDeps) {}

  /** `POST /v1/files/upload` (multipart). */
  uploadMultipart(req: RecordedRequest): StoredFile {
    const contentType = String(req.headers["content-type"] ?? "");
    if (!contentType.startsWith("multipart/form-data"))
      togetherFail(400, "Expected a multipart/form-data body with purpose, file_name and file.");
    const parts = parseMultipart(req.rawBody, contentType);
    const field = (name: string) => parts.find((p) => p.name === name && p.filename === undefined)?.data;
    const file = parts.find((p) => p.name === "file");
    const purpose = field("purpose")?.toString("utf8");
    const fileName = field("file_name")?.toString("utf8");
    if (!file) togetherFail(400, "Missing required field: file", { param: "file" });
    if (!fileName) togetherFail(400, "Missing required field: file_name", { param: "file_name" });
    const stored = this.newFile(fileName, purpose, field("file_type")?.toString("utf8"));
    this.receive(stored, file.data);
    return stored;
  }

  /** `POST /v1/files` (the SDK's signed-URL flow): registers the file, answers where to PUT it. */
  startSignedUpload(req: RecordedRequest): { id: string; uploadUrl: string } {
    const form = new URLSearchParams(Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "");
    const value = (name: string) => req.query[name] ?? form.get(name) ?? undefined;
    const fileName = value("file_name");
    if (!fileName) togetherFail(400, "Missing required field: file_name", { param: "file_name" });
    const stored = this.newFile(fileName, value("purpose"), value("file_type"));
    const token = this.deps.newUuid();
    this.pendingUploads.set(token, stored.id);
    return { id: stored.id, uploadUrl: `${this.deps.baseUrl()}/signed-upload/${token}` };
  }

  /** `PUT /signed-upload/{token}`: the bytes of a signed-URL upload. False for an unknown token. */
  finishSignedUpload(token: string, bytes: Buffer): boolean {
    const id = this.pendingUploads.get(token);
    const stored = id ? this.files.get(id) : undefined;
    if (!stored) return false;
    this.pendingUploads.delete(token);
    this.receive(stored, bytes);
    return true;
  }

  get(id: string): StoredFile {
    const file = this.files.get(id);
    if (!file) togetherFail(404, `File ${id} not found`, { code: "file_not_found", param: "id" });
    return file;
  }

  delete(id: string): { id: string; deleted: boolean } {
    this.get(id);
    this.files.delete(id);
    return { id, deleted: true };
  }

  json(file: StoredFile) {
    return {
      id: file.id,
      object: "file",
      created_at: file.createdAt,
      filename: file.filename,
      bytes: file.bytes.length,
      purpose: file.purpose,
      FileType: file.fileType,
      Processed: file.uploaded,
      processing_status: file.processingStatus,
      ...(file.check
        ? {
            validation_report: {
              valid: file.check.valid,
              file_id: file.id,
              ...(file.check.valid
                ? { dataset_format: "CONVERSATION", nlines: file.check.examples.length }
                : { error: file.check.error, error_type: "INVALID_FORMAT" }),
            },
          }
        : {}),
    };
  }

  private newFile(fileName: string, purpose: string | undefined, fileType: string | undefined): StoredFile {
    if (!purpose) togetherFail(400, "Missing required field: purpose", { param: "purpose" });
    if (!FILE_PURPOSES.includes(purpose))
      togetherFail(400, `Invalid purpose '${purpose}'. Expected one of: ${FILE_PURPOSES.join(", ")}`, {
        param: "purpose",
      });
    const type = fileType ?? "jsonl";
    if (!FILE_TYPES.includes(type))
      togetherFail(400, `Invalid file_type '${type}'. Expected one of: ${FILE_TYPES.join(", ")}`, {
        param: "file_type",
      });
    const stored: StoredFile = {
      id: `file-${this.deps.newUuid()}`,
      filename: fileName,
      purpose,
      fileType: type,
      bytes: Buffer.alloc(0),
      createdAt: Math.floor(this.deps.clock.now() / 1000),
      uploaded: false,
      processingStatus: "PENDING",
    };
    this.files.set(stored.id, stored);
    return stored;
  }

  private receive(stored: StoredFile, bytes: Buffer): void {
    stored.bytes = Buffer.from(bytes);
    stored.uploaded = true;
    if (stored.purpose !== "fine-tune") {
      stored.processingStatus = "COMPLETED";
      return;
    }
    const validate = () => {
      if (!this.files.has(stored.id)) return;
      stored.check = checkTogetherJsonl(stored.bytes);
      stored.processingStatus = stored.check.valid ? "COMPLETED" : "INVALID_FORMAT";
    };
    if (this.deps.validationMs <= 0) validate();
    else this.deps.clock.setTimeout(validate, this.deps.validationMs);
  }
}
