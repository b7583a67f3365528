/**
 * Vertex AI's offline authentication for the Gemini emulator. The HTTP routes live in gemini.ts (one
 * server answers both the Developer API and Vertex); tuning jobs in vertex-tuning.ts, the
 * tuning-data rules in vertex-data.ts.
 *
 * ## Vertex mode offline, with no Google credentials
 *
 * `new GoogleGenAI({ vertexai: true, project, location, httpOptions: { baseUrl } })` builds a
 * `GoogleAuth` (google-auth-library) from `googleAuthOptions` and, before every request, awaits
 * `googleAuth.getRequestHeaders(url)`. With nothing configured that means Application Default
 * Credentials: env vars, gcloud files, then the GCE metadata server, which is network. Read from
 * @google/genai 2.32 (dist/node/index.mjs `NodeAuth`, `ApiClient`) and google-auth-library 10.9:
 *
 * - `googleAuthOptions: { authClient }` is used as-is (GoogleAuth caches it as its credential). An
 *   `OAuth2Client` holding an `access_token` and no `expiry_date` never refreshes, so it just sends
 *   `Authorization: Bearer <token>`. No network, no key material, and the request paths are the real
 *   project/location ones. **This is what `offlineVertexAuth()` returns; use it.** (google-auth-library
 *   is @google/genai's own dependency, and its `GoogleAuthOptions` type is in the SDK's public API.)
 * - Alternatives that also work offline (the first two are exercised in test/emulators-llm.test.ts):
 *   `googleAuthOptions: { apiKey, projectId }` sends `x-goog-api-key` on project/location paths. Leave
 *   out `projectId` and GoogleAuth first looks the project up (runs `gcloud`, probes the GCE metadata
 *   server): slow, and network. "Express mode" (`vertexai: true, apiKey`, no project) skips GoogleAuth
 *   entirely but drops the `projects/.../locations/...` prefix, so tuning calls go to
 *   `/v1beta1/tuningJobs` (the emulator accepts that too, as location "global"). A service-account
 *   `credentials` object with a non-default `universeDomain` also works (it self-signs a JWT locally)
 *   but needs a generated RSA key and bends the universe setting; not worth it.
 * - A `baseUrl` alone does not skip auth: without project/location/apiKey the SDK still asks GoogleAuth.
 *
 * Paths the SDK calls in Vertex mode (default API version v1beta1):
 *   generate:  POST /v1beta1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent
 *   tuned:     POST /v1beta1/{tunedModel.endpoint}:generateContent   (model = "projects/.../endpoints/{id}")
 *   embed:     POST .../publishers/google/models/{m}:predict for gemini-embedding-001 and text-embedding-*,
 *              POST .../models/{m}:embedContent for other "gemini*" embedding models
 *   tuning:    POST /v1beta1/projects/{p}/locations/{l}/tuningJobs, GET /v1beta1/{job.name},
 *              POST /v1beta1/{job.name}:cancel, GET .../tuningJobs?pageSize&pageToken
 */
import { type GoogleAuthOptions, OAuth2Client } from "google-auth-library";

/** googleAuthOptions for `new GoogleGenAI({ vertexai: true, ... })` that never touch the network. */
export function offlineVertexAuth(accessToken = "emulator-access-token"): GoogleAuthOptions {
  const authClient = new OAuth2Client();
  authClient.setCredentials({ access_token: accessToken });
  return { authClient };
}
