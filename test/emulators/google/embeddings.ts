// embedContent and batchEmbedContents (Developer API), embedContent with embedContentConfig and
// :predict (Vertex): deterministic vectors (../embedding.ts) shortened by outputDimensionality.
import { embed } from "../embedding.ts";
import type { EmuResponse, RecordedRequest } from "../http-recorder.ts";
import { countTokens } from "../tokens.ts";
import { googleFail, jsonBody } from "./errors.ts";
import type { Target } from "./target.ts";
import { type GeminiContent, partsText } from "./vertex-data.ts";

/** Native widths; `outputDimensionality` may shorten them. gemini-embedding-001 really is 3072 wide. */
export const EMBEDDING_MODELS: Record<string, number> = {
  "gemini-embedding-001": 3072,
  "text-embedding-004": 768,
  "text-embedding-005": 768,
  "text-multilingual-embedding-002": 768,
};
const DEFAULT_EMBEDDING_DIMENSIONS = 768;

export function embedding(req: RecordedRequest, target: Target, model: string): EmuResponse {
  const body = jsonBody(req) as Record<string, unknown>;
  const native = EMBEDDING_MODELS[model] ?? DEFAULT_EMBEDDING_DIMENSIONS;
  const width = (requested: unknown) => {
    if (requested === undefined) return native;
    if (typeof requested !== "number" || !Number.isInteger(requested) || requested < 1 || requested > native)
      googleFail(
        400,
        `outputDimensionality must be an integer between 1 and ${native}, got ${String(requested)}.`,
      );
    return requested;
  };
  const contentText = (content: unknown) => partsText(content as GeminiContent);
  switch (target.method) {
    case "batchEmbedContents": {
      const requests = Array.isArray(body.requests) ? (body.requests as Array<Record<string, unknown>>) : [];
      if (!requests.length)
        googleFail(400, "* BatchEmbedContentsRequest.requests: requests is not specified\n");
      return {
        json: {
          embeddings: requests.map((r) => ({
            values: embed(contentText(r.content), width(r.outputDimensionality)),
          })),
        },
      };
    }
    case "embedContent": {
      // Developer API: {content, outputDimensionality}; Vertex: {content, embedContentConfig}.
      const config = (body.embedContentConfig ?? {}) as Record<string, unknown>;
      const text = contentText(body.content);
      const values = embed(text, width(body.outputDimensionality ?? config.outputDimensionality));
      if (target.api === "gemini") return { json: { embedding: { values } } };
      return {
        json: {
          embedding: { values },
          usageMetadata: { promptTokenCount: countTokens(text) },
          truncated: false,
        },
      };
    }
    case "predict": {
      const instances = Array.isArray(body.instances)
        ? (body.instances as Array<Record<string, unknown>>)
        : [];
      if (!instances.length) googleFail(400, "instances must not be empty.");
      const parameters = (body.parameters ?? {}) as Record<string, unknown>;
      const dims = width(parameters.outputDimensionality);
      const texts = instances.map((i) =>
        typeof i.content === "string" ? i.content : contentText(i.content),
      );
      return {
        json: {
          predictions: texts.map((text) => ({
            embeddings: {
              values: embed(text, dims),
              statistics: { truncated: false, token_count: countTokens(text) },
            },
          })),
          metadata: { billableCharacterCount: texts.reduce((n, t) => n + t.length, 0) },
        },
      };
    }
  }
  return googleFail(404, `Method ${target.method} is not supported by the emulator.`);
}
