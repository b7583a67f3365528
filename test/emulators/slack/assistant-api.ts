// The emulator's Web API methods for the assistant surface and the App Home tab, answered like
// Slack (rules from docs.slack.dev's method pages; where Slack leaves room, the choice is noted):
//
// * assistant.threads.setStatus: `channel_id`, `thread_ts` required (`channel_not_found`,
//   `invalid_thread_ts`); `status` required but may be "" (Slack's way to clear it);
//   `loading_messages` at most 10 (`invalid_arguments`). The thread's current status is kept;
//   posting a message in the thread (chat.postMessage with its thread_ts) clears it, as in Slack.
// * assistant.threads.setSuggestedPrompts: `prompts` 1..4 of `{title, message}` non-empty strings
//   (`invalid_arguments`), optional `title`.
// * assistant.threads.setTitle: non-empty `title` (`invalid_arguments`).
// * views.publish: `user_id` a user id, `view` an object of type "home" with at most 100 blocks
//   (each checked like a message's blocks: message-rules.ts) or `invalid_arguments` /
//   `invalid_blocks`; a `hash` that is not the current view's is `hash_conflict`. Each publish
//   gets a new `hash`; the view id stays per user. The current view is kept per user.
// The arguments arrive form-encoded with objects as JSON text (what @slack/web-api sends): parsed.
import { checkMessage } from "./message-rules.ts";
import { randomId, type SlackState } from "./state.ts";

type ApiBody = Record<string, unknown>;
type Handler = (ctx: { state: SlackState; args: Record<string, unknown> }) => ApiBody;

export interface AssistantThreadRecord {
  channel: string;
  threadTs: string;
  /** The status shown now ("" or undefined: none). */
  status?: string;
  title?: string;
  prompts?: Array<{ title: string; message: string }>;
  promptsTitle?: string;
}

export interface PublishedHomeView {
  userId: string;
  id: string;
  hash: string;
  view: Record<string, unknown>;
  publishedAt: number;
}

interface Records {
  threads: Map<string, AssistantThreadRecord>;
  homes: Map<string, PublishedHomeView>;
}

const byState = new WeakMap<SlackState, Records>();

export function assistantRecords(state: SlackState): Records {
  let r = byState.get(state);
  if (!r) {
    r = { threads: new Map(), homes: new Map() };
    byState.set(state, r);
  }
  return r;
}

const threadKey = (channel: string, threadTs: string) => `${channel}:${threadTs}`;
const fail = (error: string, messages?: string[]): ApiBody => ({
  ok: false,
  error,
  ...(messages ? { response_metadata: { messages } } : {}),
});
const str = (v: unknown) => (typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined);

function parsed(v: unknown): unknown {
  if (typeof v !== "string") return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** The thread a call names, or the error Slack gives. */
function thread(state: SlackState, args: Record<string, unknown>): AssistantThreadRecord | ApiBody {
  const channel = str(args.channel_id);
  if (!channel || !/^[CDG][A-Z0-9]+$/.test(channel)) return fail("channel_not_found");
  const threadTs = str(args.thread_ts);
  if (!threadTs || !/^\d+\.\d+$/.test(threadTs)) return fail("invalid_thread_ts");
  const threads = assistantRecords(state).threads;
  const key = threadKey(channel, threadTs);
  let t = threads.get(key);
  if (!t) {
    t = { channel, threadTs };
    threads.set(key, t);
  }
  return t;
}

const isError = (v: AssistantThreadRecord | ApiBody): v is ApiBody => "ok" in v;

/** Slack clears a thread's status when the app posts in it (web-api.ts calls this on chat.postMessage). */
export function messagePostedInThread(
  state: SlackState,
  channel: string,
  threadTs: string | undefined,
): void {
  if (threadTs === undefined) return;
  const t = assistantRecords(state).threads.get(threadKey(channel, threadTs));
  if (t) delete t.status;
}

export const ASSISTANT_HANDLERS: Record<string, Handler> = {
  "assistant.threads.setStatus": ({ state, args }) => {
    const t = thread(state, args);
    if (isError(t)) return t;
    if (typeof args.status !== "string")
      return fail("invalid_arguments", ["[ERROR] missing required field: status"]);
    const loading = parsed(args.loading_messages);
    if (loading !== undefined && (!Array.isArray(loading) || loading.length > 10))
      return fail("invalid_arguments", [
        "[ERROR] no more than 10 items allowed [json-pointer:/loading_messages]",
      ]);
    if (args.status === "") delete t.status;
    else t.status = args.status;
    return { ok: true };
  },

  "assistant.threads.setSuggestedPrompts": ({ state, args }) => {
    const t = thread(state, args);
    if (isError(t)) return t;
    const prompts = parsed(args.prompts);
    if (!Array.isArray(prompts) || prompts.length < 1 || prompts.length > 4)
      return fail("invalid_arguments", ["[ERROR] must provide 1 to 4 items [json-pointer:/prompts]"]);
    const ok = prompts.every(
      (p) =>
        p &&
        typeof p === "object" &&
        typeof (p as { title?: unknown }).title === "string" &&
        (p as { title: string }).title !== "" &&
        typeof (p as { message?: unknown }).message === "string" &&
        (p as { message: string }).message !== "",
    );
    if (!ok)
      return fail("invalid_arguments", [
        "[ERROR] each prompt needs a title and a message [json-pointer:/prompts]",
      ]);
    t.prompts = prompts as Array<{ title: string; message: string }>;
    const title = str(args.title);
    if (title !== undefined) t.promptsTitle = title;
    return { ok: true };
  },

  "assistant.threads.setTitle": ({ state, args }) => {
    const t = thread(state, args);
    if (isError(t)) return t;
    const title = str(args.title);
    if (!title) return fail("invalid_arguments", ["[ERROR] missing required field: title"]);
    t.title = title;
    return { ok: true };
  },

  "views.publish": ({ state, args }) => {
    const userId = str(args.user_id);
    if (!userId || !/^[UW][A-Z0-9]+$/.test(userId)) return fail("invalid_arguments", ["invalid `user_id`"]);
    const view = parsed(args.view);
    if (!view || typeof view !== "object" || Array.isArray(view))
      return fail("invalid_arguments", ["[ERROR] missing required field: view"]);
    const v = view as Record<string, unknown>;
    if (v.type !== "home")
      return fail("invalid_arguments", ["[ERROR] must be home [json-pointer:/view/type]"]);
    if (!Array.isArray(v.blocks))
      return fail("invalid_arguments", ["[ERROR] missing required field: blocks"]);
    if (v.blocks.length > 100)
      return fail("invalid_blocks", ["[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"]);
    for (let i = 0; i < v.blocks.length; i += 50) {
      const check = checkMessage({ blocks: v.blocks.slice(i, i + 50) }, "reject", false);
      if (!check.ok) return fail(check.error, check.messages);
    }
    const homes = assistantRecords(state).homes;
    const current = homes.get(userId);
    const hash = str(args.hash);
    if (hash !== undefined && current !== undefined && hash !== current.hash) return fail("hash_conflict");
    const published: PublishedHomeView = {
      userId,
      id: current?.id ?? randomId("V", 10),
      hash: `${Math.floor(Date.now() / 1000)}.${randomId("", 8)}`,
      view: v,
      publishedAt: Date.now(),
    };
    homes.set(userId, published);
    return { ok: true, view: homeViewJson(state, published) };
  },
};

/** A published home view as Slack returns it (views.publish, app_home_opened, block_actions). */
export function homeViewJson(state: SlackState, p: PublishedHomeView): ApiBody {
  const o = state.options;
  return {
    id: p.id,
    team_id: o.teamId,
    type: "home",
    blocks: p.view.blocks,
    private_metadata: str(p.view.private_metadata) ?? "",
    callback_id: str(p.view.callback_id) ?? "",
    state: { values: {} },
    hash: p.hash,
    clear_on_close: false,
    notify_on_close: false,
    root_view_id: p.id,
    previous_view_id: null,
    app_id: o.appId,
    external_id: str(p.view.external_id) ?? "",
    app_installed_team_id: o.teamId,
    bot_id: o.botId,
  };
}
