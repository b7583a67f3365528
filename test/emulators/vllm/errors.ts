// vLLM's OpenAI-compatible error body: `ErrorResponse{error: ErrorInfo{message, type, param, code}}`
// with `code` the HTTP status as an integer (vllm/entrypoints/openai/engine/protocol.py), built by
// `create_error_response` (vllm/entrypoints/openai/models/serving.py @ 4fe45004). Releases before
// that nesting answered with the flat `{"object": "error", message, type, param, code}`;
// `legacyErrors` reproduces it so clients can be tested against both.
import { EmuHttpError, type EmuResponse } from "../http-recorder.ts";

export function vllmError(
  status: number,
  message: string,
  type: string,
  param: string | null = null,
  legacy = false,
): EmuResponse {
  const info = { message, type, param, code: status };
  return { status, json: legacy ? { object: "error", ...info } : { error: info } };
}

export class VllmErrors {
  constructor(private readonly legacy: () => boolean) {}

  response(status: number, message: string, type: string, param: string | null = null): EmuResponse {
    return vllmError(status, message, type, param, this.legacy());
  }

  fail(status: number, message: string, type: string, param: string | null = null): never {
    throw new EmuHttpError(this.response(status, message, type, param));
  }

  /** Bodies for injected faults: vLLM's engine-dead and overload answers use the same shape. */
  fault(status: number, message?: string): EmuResponse {
    if (status === 429) return this.response(429, message ?? "Too many requests", "TooManyRequests");
    if (status === 503)
      return this.response(503, message ?? "The server is not ready to serve requests", "ServiceUnavailable");
    return this.response(status, message ?? "Internal Server Error", "InternalServerError");
  }
}
