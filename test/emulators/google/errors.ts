// Google's API error body, shared by the Gemini Developer API and Vertex AI:
// `{error: {code, message, status}}`. @google/genai throws an ApiError carrying `status` (the HTTP code).
import { EmuHttpError, type EmuResponse, type RecordedRequest } from "../http-recorder.ts";

const STATUS_NAMES: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ALREADY_EXISTS",
  429: "RESOURCE_EXHAUSTED",
  499: "CANCELLED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

export function googleError(code: number, message: string, status?: string): EmuResponse {
  return {
    status: code,
    json: { error: { code, message, status: status ?? STATUS_NAMES[code] ?? "UNKNOWN" } },
  };
}

export function googleFail(code: number, message: string, status?: string): never {
  throw new EmuHttpError(googleError(code, message, status));
}

/** Bodies for injected faults, worded like the real services. */
export function googleFaultResponse(code: number, message?: string): EmuResponse {
  const fallback: Record<number, string> = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "Internal error encountered.",
    503: "The model is overloaded. Please try again later.",
  };
  return googleError(code, message ?? fallback[code] ?? `Emulated error ${code}`);
}

/** The request's JSON body, or Google's answer to a body that is not JSON. */
export function jsonBody(req: RecordedRequest): unknown {
  if (typeof req.body !== "object" || req.body === null || Buffer.isBuffer(req.body))
    googleFail(400, "Invalid JSON payload received.");
  return req.body;
}

/** The answer to a path the emulator has no route for. */
export function notFound(req: RecordedRequest): EmuResponse {
  return googleError(404, `The emulator has no route for ${req.method} ${req.path}.`);
}
