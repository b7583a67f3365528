/**
 * The Discord emulator's REST routing: routes as `METHOD /pattern/:param` with a handler, matched
 * against the URL-decoded path (so `%40original` matches `@original`), and the reply a handler gives
 * (status, JSON body, and what to dispatch on the gateway once the response is written).
 */

/** One uploaded file of a multipart request. */
export interface RecordedFile {
  /** The multipart field, e.g. `files[0]`. */
  field: string;
  filename: string;
  contentType: string;
  size: number;
  data: Buffer;
}

export interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  files: RecordedFile[];
}

export interface Reply {
  status: number;
  body?: unknown;
  /** Runs after the response is written (gateway dispatches the request causes). */
  after?: () => void;
}

export type RouteHandler = (ctx: RouteContext) => Reply | Promise<Reply>;

/** Registers a route; `auth: false` for routes whose credential is in the path (interaction tokens). */
export type AddRoute = (method: string, pattern: string, handler: RouteHandler, auth?: boolean) => void;

export interface Route {
  method: string;
  pattern: string;
  segments: string[];
  auth: boolean;
  handler: RouteHandler;
}

export const ok = (body: unknown): Reply => ({ status: 200, body });
export const noContent = (after?: () => void): Reply => ({ status: 204, after });

export class Router {
  private readonly routes: Route[] = [];

  readonly add: AddRoute = (method, pattern, handler, auth = true) => {
    this.routes.push({ method, pattern, segments: pattern.split("/").filter(Boolean), auth, handler });
  };

  /** The route for a method and path; `pathMatched` tells 405 (known path) from 404. */
  match(
    method: string,
    path: string,
  ): { route: Route | null; params: Record<string, string>; pathMatched: boolean } {
    const segments = path.split("/").filter(Boolean);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, segments);
      if (!params) continue;
      pathMatched = true;
      if (route.method === method) return { route, params, pathMatched };
    }
    return { route: null, params: {}, pathMatched };
  }
}

function matchSegments(pattern: string[], segments: string[]): Record<string, string> | null {
  if (pattern.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const s = segments[i]!;
    if (p.startsWith(":")) params[p.slice(1)] = s;
    else if (p !== s) return null;
  }
  return params;
}

export function decodePath(path: string): string {
  return path
    .split("/")
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .join("/");
}
