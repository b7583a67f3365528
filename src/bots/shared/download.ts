// Downloading a person's attached file from a platform's file server, reading no more than the
// caller can use: the body is read until one byte past `maxBytes` (that much back means "too big")
// and the rest is never fetched, whatever size the platform claimed.

/** The file server answered something other than the file (HTTP status, or a login page). */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "DownloadError";
  }
}

export async function downloadLimited(
  url: string,
  options: {
    maxBytes: number;
    signal: AbortSignal;
    headers?: Record<string, string>;
    /** Slack answers a request it cannot authorise with its HTML login page: that is no file. */
    refuseHtml?: boolean;
  },
): Promise<Uint8Array> {
  const res = await fetch(url, {
    signal: options.signal,
    ...(options.headers ? { headers: options.headers } : {}),
  });
  if (!res.ok) throw new DownloadError(`the file server answered ${res.status}`, res.status);
  if (options.refuseHtml && /^text\/html\b/i.test(res.headers.get("content-type") ?? "")) {
    await res.body?.cancel();
    throw new DownloadError("the file server answered a web page instead of the file", res.status);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = res.body?.getReader();
  if (!reader) return new Uint8Array();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.length;
    if (total > options.maxBytes) {
      await reader.cancel();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, options.maxBytes + 1);
}
