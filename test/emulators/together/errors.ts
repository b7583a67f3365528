// Together's error body, `ErrorData` in its OpenAPI spec (togethercomputer/openapi @ 090263aa,
// 2026-04-28): `{"error": {"message", "type", "param", "code"}}`, `message` and `type` required,
// `param` and `code` strings or null. The live API also puts a request id at the top (`"id"`), as
// third-party reports of its errors show; clients ignore it, the emulator sends it for realism.
import { EmuHttpError, type EmuResponse } from "../http-recorder.ts";

export interface TogetherErrorFields {
  type?: string;
  param?: string | null;
  code?: string | null;
}

export function togetherError(
  status: number,
  message: string,
  fields: TogetherErrorFields = {},
): EmuResponse {
  return {
    status,
    json: {
      error: {
        message,
        type: fields.type ?? (status >= 500 ? "server_error" : "invalid_request_error"),
        param: fields.param ?? null,
        code: fields.code ?? null,
      },
    },
  };
}

/** Throw from route code to answer with a Together error. */
export function togetherFail(status: number, message: string, fields: TogetherErrorFields = {}): never {
  throw new EmuHttpError(togetherError(status, message, fields));
}

/**
 * Bodies for injected faults. The wording of Together's 429/5xx bodies is not in the spec; these are
 * the emulator's, in the spec's shape, so a client can only rely on the status and headers.
 */
export function togetherFaultResponse(status: number, message?: string): EmuResponse {
  if (status === 429)
    return togetherError(429, message ?? "You have exceeded the rate limit for this endpoint. Retry later.", {
      type: "rate_limit_exceeded",
      code: "rate_limit_exceeded",
    });
  if (status === 503) return togetherError(503, message ?? "The server is overloaded. Retry later.");
  if (status >= 500) return togetherError(status, message ?? "Internal server error");
  return togetherError(status, message ?? `Emulated error ${status}`);
}
