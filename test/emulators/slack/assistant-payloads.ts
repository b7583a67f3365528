// What Slack sends for the assistant surface and the App Home tab, shaped like the real payloads
// (docs.slack.dev: assistant_thread_started, assistant_thread_context_changed, app_home_opened,
// block_actions from a view). Pure builders, like payloads.ts.
import { type SlackEvent, VERIFICATION_TOKEN } from "./payloads.ts";
import { type ResolvedOptions, randomId, type TsClock, triggerId } from "./state.ts";

export interface AssistantThreadInput {
  userId: string;
  /** The DM channel between the bot and the user, where the thread lives. */
  channelId: string;
  /** The thread's ts; default: a fresh one. */
  threadTs?: string;
  /** The channel the person is viewing (the thread's context), if any. */
  contextChannelId?: string;
}

function assistantThread(o: ResolvedOptions, a: AssistantThreadInput, clock: TsClock) {
  return {
    user_id: a.userId,
    context: {
      ...(a.contextChannelId !== undefined ? { channel_id: a.contextChannelId } : {}),
      team_id: o.teamId,
      enterprise_id: null,
    },
    channel_id: a.channelId,
    thread_ts: a.threadTs ?? clock.next(),
  };
}

export function assistantEventBuilders(o: ResolvedOptions, clock: TsClock) {
  return {
    assistantThreadStarted(a: AssistantThreadInput): SlackEvent {
      return {
        type: "assistant_thread_started",
        assistant_thread: assistantThread(o, a, clock),
        event_ts: clock.next(),
      };
    },
    assistantThreadContextChanged(a: AssistantThreadInput & { threadTs: string }): SlackEvent {
      return {
        type: "assistant_thread_context_changed",
        assistant_thread: assistantThread(o, a, clock),
        event_ts: clock.next(),
      };
    },
    /** `view`: the Home tab's current view (Slack includes it once one was published). */
    appHomeOpened(a: {
      userId: string;
      channelId: string;
      tab?: "home" | "messages";
      view?: unknown;
    }): SlackEvent {
      return {
        type: "app_home_opened",
        user: a.userId,
        channel: a.channelId,
        tab: a.tab ?? "home",
        event_ts: clock.next(),
        ...(a.view !== undefined ? { view: a.view } : {}),
      };
    },
  };
}

/** A `block_actions` payload for a button clicked in a Home tab view (no channel, no response_url). */
export function homeBlockActionsPayload(
  o: ResolvedOptions,
  a: { userId: string; actionId: string; value?: string; blockId?: string; text?: string },
  view: Record<string, unknown>,
  actionTs: string,
) {
  const userName = a.userId.toLowerCase();
  return {
    type: "block_actions" as const,
    user: { id: a.userId, username: userName, name: userName, team_id: o.teamId },
    api_app_id: o.appId,
    token: VERIFICATION_TOKEN,
    container: { type: "view", view_id: view.id },
    trigger_id: triggerId(),
    team: { id: o.teamId, domain: o.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    view,
    actions: [
      {
        action_id: a.actionId,
        block_id: a.blockId ?? randomId("b", 5),
        text: { type: "plain_text", text: a.text ?? a.actionId, emoji: true },
        ...(a.value !== undefined ? { value: a.value } : {}),
        type: "button",
        action_ts: actionTs,
      },
    ],
  };
}
