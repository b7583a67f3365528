// POST /v1/embeddings: deterministic vectors (../embedding.ts) in float or base64, shortened by
// `dimensions` on the models that allow it, with cl100k token usage.
import { countTokens as countCl100k } from "gpt-tokenizer/encoding/cl100k_base";
import { embed, toBase64Float32 } from "../embedding.ts";
import type { EmuResponse, RecordedRequest } from "../http-recorder.ts";
import { jsonBody, openaiFail } from "./errors.ts";
import type { OpenAIModels } from "./models.ts";

export function embeddings(req: RecordedRequest, models: OpenAIModels): EmuResponse {
  const body = jsonBody(req) as {
    model?: unknown;
    input?: unknown;
    dimensions?: unknown;
    encoding_format?: unknown;
  };
  if (typeof body.model !== "string")
    openaiFail(400, "you must provide a model parameter", { param: "model" });
  const model = models.served(body.model, "embedding");
  const inputs = embeddingInputs(body.input);
  let dims = model.dimensions ?? 1536;
  if (body.dimensions !== undefined) {
    if (!model.shortenable)
      openaiFail(400, "This model does not support specifying dimensions.", { param: "dimensions" });
    if (
      typeof body.dimensions !== "number" ||
      !Number.isInteger(body.dimensions) ||
      body.dimensions < 1 ||
      body.dimensions > dims
    )
      openaiFail(400, `Invalid 'dimensions': expected an integer between 1 and ${dims}.`, {
        param: "dimensions",
      });
    dims = body.dimensions;
  }
  const format = body.encoding_format ?? "float";
  if (format !== "float" && format !== "base64")
    openaiFail(400, `Invalid 'encoding_format': must be 'float' or 'base64', got '${String(format)}'.`, {
      param: "encoding_format",
    });
  const tokens = inputs.reduce((sum, text) => sum + countCl100k(text, { disallowedSpecial: new Set() }), 0);
  return {
    json: {
      object: "list",
      data: inputs.map((text, index) => {
        const vector = embed(text, dims);
        return {
          object: "embedding",
          index,
          embedding: format === "base64" ? toBase64Float32(vector) : vector,
        };
      }),
      model: model.id,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    },
  };
}

function embeddingInputs(input: unknown): string[] {
  const invalid = () =>
    openaiFail(
      400,
      "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
    );
  // Token arrays are accepted by OpenAI; the emulator embeds their decimal text, which keeps them
  // deterministic without pretending to decode another tokenizer's ids.
  const one = (item: unknown): string => {
    if (typeof item === "string" && item.length > 0) return item;
    if (Array.isArray(item) && item.length > 0 && item.every((t) => typeof t === "number"))
      return item.join(" ");
    return invalid();
  };
  if (Array.isArray(input) && input.length > 0 && input.every((t) => typeof t === "number"))
    return [one(input)];
  if (Array.isArray(input) && input.length > 0) return input.map(one);
  return [one(input)];
}
