// OpenAI's error body: `{error: {message, type, param, code}}`. The SDK turns it into typed errors
// (NotFoundError, RateLimitError, ...) keyed on the status, and exposes `code`/`param`/`type`.
import { EmuHttpError, type EmuResponse, type RecordedRequest } from "../http-recorder.ts";

export interface OpenAIErrorFields {
  type?: string;
  param?: string | null;
  code?: string | null;
}

export function openaiError(status: number, message: string, fields: OpenAIErrorFields = {}): EmuResponse {
  return {
    status,
    json: {
      error: {
        message,
        type: fields.type ?? defaultType(status),
        param: fields.param ?? null,
        code: fields.code ?? null,
      },
    },
  };
}

/** Throw from route code to answer with an OpenAI error. */
export function openaiFail(status: number, message: string, fields: OpenAIErrorFields = {}): never {
  throw new EmuHttpError(openaiError(status, message, fields));
}

/** The bodies OpenAI sends for injected faults (wording as seen from the real API). */
export function openaiFaultResponse(status: number, message?: string): EmuResponse {
  if (status === 429)
    return openaiError(429, message ?? "Rate limit reached for requests. Please try again later.", {
      type: "requests",
      code: "rate_limit_exceeded",
    });
  if (status >= 500)
    return openaiError(
      status,
      message ?? "The server had an error while processing your request. Sorry about that!",
      { type: "server_error" },
    );
  return openaiError(status, message ?? `Emulated error ${status}`);
}

function defaultType(status: number): string {
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/** The request's JSON body, or OpenAI's answer to a body that is not JSON. */
export function jsonBody(req: RecordedRequest): unknown {
  if (typeof req.body !== "object" || req.body === null || Buffer.isBuffer(req.body))
    openaiFail(
      400,
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
    );
  return req.body;
}

/** OpenAI's 404 for a path it has no route for. */
export function invalidUrl(req: RecordedRequest): EmuResponse {
  return openaiError(404, `Invalid URL (${req.method} ${req.path})`);
}
