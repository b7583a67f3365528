// A Google Cloud Storage JSON API emulator: the upload flavours (media, multipart, resumable), object
// metadata and download, delete and list. It keeps the exact uploaded bytes so tests can assert on
// what the product wrote, and the Gemini emulator reads Vertex training files from it (gs:// URIs).
// Point the product's GCS base URL (GCS_BASE_URL) at `emu.url`.
import { createHash } from "node:crypto";
import {
  EmuHttpError,
  type EmulatorServer,
  type EmuResponse,
  idGenerator,
  parseMultipart,
  type RecordedRequest,
  startEmulatorServer,
} from "../http-recorder.ts";

export interface GcsObject {
  bucket: string;
  name: string;
  bytes: Buffer;
  contentType: string;
  metadata?: Record<string, string>;
  generation: string;
  /** Milliseconds since the epoch. */
  created: number;
}

/** What other emulators need from storage: reading an object. */
export interface GcsReader {
  readObject(bucket: string, name: string): GcsObject | undefined;
}

export interface GcsEmulatorOptions {
  /** Buckets that exist; unset means every bucket exists (created on first use). */
  buckets?: string[];
  /** Require `Authorization: Bearer` or an API key, as the real service does. Default true. */
  requireAuth?: boolean;
}

export interface GcsEmulator extends EmulatorServer, GcsReader {
  /** Objects keyed by `bucket/name`. */
  objects: Map<string, GcsObject>;
  putObject(bucket: string, name: string, bytes: Buffer | string, contentType?: string): GcsObject;
  /** Resolves `gs://bucket/path/to/object`. */
  readGsUri(uri: string): GcsObject | undefined;
}

export function parseGsUri(uri: string): { bucket: string; name: string } | undefined {
  const match = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri);
  return match ? { bucket: match[1]!, name: match[2]! } : undefined;
}

export async function startGcsEmulator(options: GcsEmulatorOptions = {}): Promise<GcsEmulator> {
  const objects = new Map<string, GcsObject>();
  const uploads = new Map<string, { bucket: string; name: string; contentType: string; chunks: Buffer[] }>();
  const newId = idGenerator("gcs");
  let generationCounter = 0;
  let baseUrl = "";

  const bucketExists = (bucket: string) => !options.buckets || options.buckets.includes(bucket);

  const put = (
    bucket: string,
    name: string,
    bytes: Buffer,
    contentType: string,
    metadata?: Record<string, string>,
  ) => {
    const created = Date.now();
    const object: GcsObject = {
      bucket,
      name,
      bytes,
      contentType,
      metadata,
      // Real generations are microsecond timestamps; the counter keeps them unique within a run.
      generation: String(created * 1000 + (generationCounter++ % 1000)),
      created,
    };
    objects.set(`${bucket}/${name}`, object);
    return object;
  };

  const objectJson = (o: GcsObject) => {
    const encoded = encodeURIComponent(o.name);
    const time = new Date(o.created).toISOString();
    return {
      kind: "storage#object",
      id: `${o.bucket}/${o.name}/${o.generation}`,
      selfLink: `${baseUrl}/storage/v1/b/${o.bucket}/o/${encoded}`,
      mediaLink: `${baseUrl}/download/storage/v1/b/${o.bucket}/o/${encoded}?generation=${o.generation}&alt=media`,
      name: o.name,
      bucket: o.bucket,
      generation: o.generation,
      metageneration: "1",
      contentType: o.contentType,
      storageClass: "STANDARD",
      size: String(o.bytes.length),
      md5Hash: createHash("md5").update(o.bytes).digest("base64"),
      crc32c: crc32cBase64(o.bytes),
      etag: createHash("md5").update(o.generation).digest("base64").slice(0, 12),
      timeCreated: time,
      updated: time,
      timeStorageClassUpdated: time,
      ...(o.metadata ? { metadata: o.metadata } : {}),
    };
  };

  const finishUpload = (
    req: RecordedRequest,
    bucket: string,
    name: string,
    bytes: Buffer,
    contentType: string,
    metadata?: Record<string, string>,
  ): EmuResponse => {
    if (!name) gcsFail(400, "Required parameter: name", "required");
    if (req.query.ifGenerationMatch === "0" && objects.has(`${bucket}/${name}`))
      gcsFail(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet");
    return { json: objectJson(put(bucket, name, bytes, contentType, metadata)) };
  };

  const handle = (req: RecordedRequest): EmuResponse => {
    const authorized =
      /^Bearer\s+\S+/i.test(String(req.headers.authorization ?? "")) ||
      req.headers["x-goog-api-key"] ||
      req.query.key;
    if (options.requireAuth !== false && !authorized)
      gcsFail(
        401,
        "Anonymous caller does not have storage.objects.get access to the Google Cloud Storage object. Permission 'storage.objects.get' denied on resource (or it may not exist).",
        "required",
      );
    const parts = req.path.split("/").filter(Boolean);
    const upload = parts[0] === "upload";
    const download = parts[0] === "download";
    const rest = upload || download ? parts.slice(1) : parts;
    // storage/v1/b/{bucket}/o[/{object}]
    if (rest[0] !== "storage" || rest[1] !== "v1" || rest[2] !== "b" || !rest[3] || rest[4] !== "o")
      gcsFail(404, `Not Found: ${req.method} ${req.path}`, "notFound");
    const bucket = decodeURIComponent(rest[3]);
    const objectName = rest.length > 5 ? decodeURIComponent(rest.slice(5).join("/")) : undefined;
    if (!bucketExists(bucket)) gcsFail(404, "The specified bucket does not exist.", "notFound");

    if (upload) return handleUpload(req, bucket);
    if (objectName === undefined) {
      if (req.method !== "GET") gcsFail(405, "Method not allowed", "methodNotAllowed");
      const prefix = req.query.prefix ?? "";
      const items = [...objects.values()]
        .filter((o) => o.bucket === bucket && o.name.startsWith(prefix))
        .map(objectJson);
      return { json: { kind: "storage#objects", items } };
    }
    const object = objects.get(`${bucket}/${objectName}`);
    if (!object) gcsFail(404, `No such object: ${bucket}/${objectName}`, "notFound");
    if (req.method === "DELETE") {
      objects.delete(`${bucket}/${objectName}`);
      return { status: 204 };
    }
    if (req.method !== "GET") gcsFail(405, "Method not allowed", "methodNotAllowed");
    if (req.query.alt === "media" || download)
      return {
        headers: { "content-type": object.contentType, "x-goog-generation": object.generation },
        body: object.bytes,
      };
    return { json: objectJson(object) };
  };

  const handleUpload = (req: RecordedRequest, bucket: string): EmuResponse => {
    const type = req.query.uploadType;
    const contentType = String(req.headers["content-type"] ?? "application/octet-stream");
    if (req.method === "POST" && type === "media")
      return finishUpload(req, bucket, req.query.name ?? "", req.rawBody, contentType);
    if (req.method === "POST" && type === "multipart") {
      // multipart/related: first part the JSON resource, second part the media.
      const [meta, media] = parseMultipart(req.rawBody, contentType);
      if (!meta || !media)
        gcsFail(400, "Multipart upload needs a metadata part and a media part.", "invalid");
      const resource = JSON.parse(meta.data.toString("utf8")) as GcsResource;
      return finishUpload(
        req,
        bucket,
        resource.name ?? req.query.name ?? "",
        Buffer.from(media.data),
        resource.contentType ?? media.contentType ?? "application/octet-stream",
        resource.metadata,
      );
    }
    if (req.method === "POST" && type === "resumable") {
      const resource = (req.body && !Buffer.isBuffer(req.body) ? req.body : {}) as GcsResource;
      const name = resource.name ?? req.query.name;
      if (!name) gcsFail(400, "Required parameter: name", "required");
      const uploadId = newId("", 32);
      uploads.set(uploadId, {
        bucket,
        name,
        contentType:
          resource.contentType ?? String(req.headers["x-upload-content-type"] ?? "application/octet-stream"),
        chunks: [],
      });
      const location = `${baseUrl}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${uploadId}`;
      return { headers: { location, "x-guploader-uploadid": uploadId }, json: {} };
    }
    if (req.method === "PUT" && type === "resumable" && req.query.upload_id) {
      const session = uploads.get(req.query.upload_id);
      if (!session) gcsFail(404, "No such upload session.", "notFound");
      session.chunks.push(req.rawBody);
      // `Content-Range: bytes 0-99/*` means more chunks follow; a known total (or none) completes it.
      const range = String(req.headers["content-range"] ?? "");
      const received = session.chunks.reduce((n, c) => n + c.length, 0);
      if (/\/\*$/.test(range)) return { status: 308, headers: { range: `bytes=0-${received - 1}` } };
      uploads.delete(req.query.upload_id);
      return finishUpload(
        req,
        session.bucket,
        session.name,
        Buffer.concat(session.chunks),
        session.contentType,
      );
    }
    return gcsFail(400, `Unsupported upload: ${req.method} uploadType=${type ?? "(none)"}`, "invalid");
  };

  const server = await startEmulatorServer({
    handle,
    errorResponse: (status, message) => gcsError(status, message),
  });
  baseUrl = server.url;

  const putObject = (
    bucket: string,
    name: string,
    bytes: Buffer | string,
    contentType = "application/octet-stream",
  ) => put(bucket, name, Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes), contentType);
  const readObject = (bucket: string, name: string) => objects.get(`${bucket}/${name}`);

  return {
    ...server,
    objects,
    putObject,
    readObject,
    readGsUri(uri) {
      const parsed = parseGsUri(uri);
      return parsed ? readObject(parsed.bucket, parsed.name) : undefined;
    },
  };
}

interface GcsResource {
  name?: string;
  contentType?: string;
  metadata?: Record<string, string>;
}

/** GCS JSON API error body: `{error: {code, message, errors: [{message, domain, reason}]}}`. */
function gcsError(status: number, message?: string, reason?: string): EmuResponse {
  const text = message ?? (status === 429 ? "The rate of requests is too high." : "Internal Error");
  const why = reason ?? (status === 429 ? "rateLimitExceeded" : status >= 500 ? "backendError" : "invalid");
  return {
    status,
    json: {
      error: { code: status, message: text, errors: [{ message: text, domain: "global", reason: why }] },
    },
  };
}

function gcsFail(status: number, message: string, reason: string): never {
  throw new EmuHttpError(gcsError(status, message, reason));
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[i] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli), big-endian, base64: the `crc32c` field GCS clients verify downloads with. */
function crc32cBase64(bytes: Buffer): string {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString("base64");
}
