// Where a Gemini or Vertex request points: which API (the Developer API addresses `models/...`
// and `tunedModels/...`, everything else is Vertex), which resource and which `:method`.

const API_VERSIONS = new Set(["v1", "v1beta", "v1beta1", "v1alpha"]);

/** Where a request points: which API, which resource, which `:method`. */
export interface Target {
  api: "gemini" | "vertex";
  version: string;
  /** e.g. ["models", "gemini-2.5-flash"] or ["projects", p, "locations", l, "endpoints", id]. */
  resource: string[];
  method?: string;
}

export /** `/v1beta/models/x:generateContent` -> {api: gemini, resource: [models, x], method: generateContent}. */
function parseTarget(path: string): Target | undefined {
  const segments = path.split("/").filter(Boolean).map(decodeURIComponent);
  const [version, ...resource] = segments;
  if (!version || !API_VERSIONS.has(version) || resource.length === 0) return undefined;
  const last = resource[resource.length - 1]!;
  const colon = last.lastIndexOf(":");
  let method: string | undefined;
  if (colon > 0) {
    method = last.slice(colon + 1);
    resource[resource.length - 1] = last.slice(0, colon);
  }
  // The Developer API addresses `models/...` and `tunedModels/...`; everything else is Vertex.
  const api = resource[0] === "models" || resource[0] === "tunedModels" ? "gemini" : "vertex";
  return { api, version, resource, method };
}
