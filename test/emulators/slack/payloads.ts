// What Slack sends to an app, shaped like the real thing: Events API envelopes (`event_callback`),
// a few event bodies, slash command fields and `block_actions` payloads. Pure builders; the
// emulator decides how to deliver them (signed HTTP or a Socket Mode envelope).
import { type ResolvedOptions, randomId, type TsClock, triggerId } from "./state.ts";

/** The deprecated verification token Slack still puts in payloads; Bolt ignores it. */
export const VERIFICATION_TOKEN = "emulator-verification-token";

export interface SlackEvent {
  type: string;
  [key: string]: unknown;
}

export interface EventEnvelopeOptions {
  /** Default: a fresh "Ev..." id. Reuse one to model Slack re-sending the same event. */
  eventId?: string;
  /** Default: now (Unix seconds). */
  eventTime?: number;
}

/** The `event_callback` body Slack POSTs (or wraps into an `events_api` Socket Mode envelope). */
export function eventCallback(o: ResolvedOptions, event: SlackEvent, opts: EventEnvelopeOptions = {}) {
  return {
    token: VERIFICATION_TOKEN,
    team_id: o.teamId,
    context_team_id: o.teamId,
    context_enterprise_id: null,
    api_app_id: o.appId,
    event,
    type: "event_callback" as const,
    event_id: opts.eventId ?? randomId("Ev"),
    event_time: opts.eventTime ?? Math.floor(Date.now() / 1000),
    authorizations: [
      {
        enterprise_id: null,
        team_id: o.teamId,
        user_id: o.botUserId,
        is_bot: true,
        is_enterprise_install: false,
      },
    ],
    is_ext_shared_channel: false,
    event_context: randomId("4-", 24),
  };
}

export function urlVerification(challenge: string) {
  return { token: VERIFICATION_TOKEN, challenge, type: "url_verification" as const };
}

function channelType(channelId: string): string {
  if (channelId.startsWith("D")) return "im";
  if (channelId.startsWith("G")) return "mpim";
  return "channel";
}

/** Builders for common event bodies, bound to the workspace identity and the emulator's ts clock. */
export function eventBuilders(o: ResolvedOptions, clock: TsClock) {
  const mentionTag = `<@${o.botUserId}>`;
  return {
    /** `app_mention`; the text gets a leading `<@BOT>` unless it already mentions the bot. */
    appMention(a: {
      userId: string;
      channelId: string;
      text: string;
      ts?: string;
      threadTs?: string;
      /** File objects (emulator `shareFile`) shared with the mention. */
      files?: Record<string, unknown>[];
    }): SlackEvent {
      const ts = a.ts ?? clock.next();
      const text = a.text.includes(mentionTag) ? a.text : `${mentionTag} ${a.text}`;
      return {
        type: "app_mention",
        user: a.userId,
        text,
        ts,
        team: o.teamId,
        channel: a.channelId,
        event_ts: ts,
        ...(a.threadTs !== undefined ? { thread_ts: a.threadTs } : {}),
        ...(a.files?.length ? { files: a.files, upload: false } : {}),
      };
    },
    /** A plain user `message` (channel_type follows the channel id: D -> im, G -> mpim, else channel). */
    message(a: {
      userId: string;
      channelId: string;
      text: string;
      ts?: string;
      threadTs?: string;
      /** File objects (emulator `shareFile`): the message becomes a `file_share`, as Slack sends it. */
      files?: Record<string, unknown>[];
    }): SlackEvent {
      const ts = a.ts ?? clock.next();
      return {
        ...(a.files?.length ? { subtype: "file_share", files: a.files, upload: false } : {}),
        type: "message",
        user: a.userId,
        text: a.text,
        ts,
        team: o.teamId,
        channel: a.channelId,
        event_ts: ts,
        channel_type: channelType(a.channelId),
        ...(a.threadTs !== undefined ? { thread_ts: a.threadTs } : {}),
      };
    },
    /** `reaction_added` on a message; `itemUser` is the rated message's author (the bot for ratings). */
    reactionAdded(a: {
      userId: string;
      reaction: string;
      channelId: string;
      messageTs: string;
      itemUser?: string;
    }): SlackEvent {
      return reaction("reaction_added", a, clock);
    },
    reactionRemoved(a: {
      userId: string;
      reaction: string;
      channelId: string;
      messageTs: string;
      itemUser?: string;
    }): SlackEvent {
      return reaction("reaction_removed", a, clock);
    },
  };
}

function reaction(
  type: string,
  a: { userId: string; reaction: string; channelId: string; messageTs: string; itemUser?: string },
  clock: TsClock,
): SlackEvent {
  return {
    type,
    user: a.userId,
    reaction: a.reaction,
    ...(a.itemUser !== undefined ? { item_user: a.itemUser } : {}),
    item: { type: "message", channel: a.channelId, ts: a.messageTs },
    event_ts: clock.next(),
  };
}

export interface SlashCommandInput {
  command: string;
  text?: string;
  userId: string;
  channelId: string;
  userName?: string;
  channelName?: string;
}

/** The fields of a slash command request (form-encoded over HTTP, a JSON object over Socket Mode). */
export function slashCommandFields(
  o: ResolvedOptions,
  c: SlashCommandInput,
  responseUrl: string,
  trigger: string = triggerId(),
): Record<string, string> {
  return {
    token: VERIFICATION_TOKEN,
    team_id: o.teamId,
    team_domain: o.teamDomain,
    channel_id: c.channelId,
    channel_name:
      c.channelName ?? (c.channelId.startsWith("D") ? "directmessage" : c.channelId.toLowerCase()),
    user_id: c.userId,
    user_name: c.userName ?? c.userId.toLowerCase(),
    command: c.command,
    text: c.text ?? "",
    api_app_id: o.appId,
    is_enterprise_install: "false",
    response_url: responseUrl,
    trigger_id: trigger,
  };
}

export interface BlockActionInput {
  userId: string;
  actionId: string;
  /** The element clicked: a button (default), or one of a `feedback_buttons` pair (its value). */
  type?: "button" | "feedback_buttons";
  value?: string;
  channelId: string;
  messageTs: string;
  blockId?: string;
  userName?: string;
  /** Button label; default: the value. */
  text?: string;
}

/** A `block_actions` payload for a button click in a message. */
export function blockActionsPayload(
  o: ResolvedOptions,
  a: BlockActionInput,
  message: Record<string, unknown>,
  responseUrl: string,
  actionTs: string,
) {
  const userName = a.userName ?? a.userId.toLowerCase();
  return {
    type: "block_actions" as const,
    user: { id: a.userId, username: userName, name: userName, team_id: o.teamId },
    api_app_id: o.appId,
    token: VERIFICATION_TOKEN,
    container: { type: "message", message_ts: a.messageTs, channel_id: a.channelId, is_ephemeral: false },
    trigger_id: triggerId(),
    team: { id: o.teamId, domain: o.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    channel: {
      id: a.channelId,
      name: a.channelId.startsWith("D") ? "directmessage" : a.channelId.toLowerCase(),
    },
    message,
    state: { values: {} },
    response_url: responseUrl,
    actions: [
      {
        action_id: a.actionId,
        block_id: a.blockId ?? randomId("b", 5),
        ...(a.type === "feedback_buttons"
          ? {}
          : { text: { type: "plain_text", text: a.text ?? a.value ?? a.actionId, emoji: true } }),
        ...(a.value !== undefined ? { value: a.value } : {}),
        type: a.type ?? "button",
        action_ts: actionTs,
      },
    ],
  };
}
