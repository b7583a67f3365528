// Reactions on messages become ratings: `assistant.reaction` looks the message up by its ts in the
// database, so reactions on replies posted before a restart count too. Reactions on files, on
// other people's messages (Slack names the rated message's author in `item_user`) and the bot's
// own reactions never reach the core.
import type { App } from "@slack/bolt";
import { slackExternalId } from "./identity.ts";
import { errorFields, type ListenerDeps } from "./listener-deps.ts";

interface ReactionEventLike {
  user: string;
  reaction: string;
  item_user?: string;
  item: { type: string; ts?: string };
}

export function registerReactionListeners(app: App, deps: ListenerDeps): void {
  const { workspace } = deps;

  async function handle(event: ReactionEventLike, action: "add" | "remove", eventId: string | undefined) {
    if (event.item.type !== "message" || event.item.ts === undefined) return;
    if (event.item_user !== undefined && event.item_user !== workspace.botUserId) return;
    if (event.user === workspace.botUserId) return;
    const messageId = event.item.ts;
    await deps.inFlight.run(
      async () => {
        const outcome = await deps.assistant.reaction({
          platform: "slack",
          messageId,
          reactorExternalId: slackExternalId(workspace.teamId, event.user),
          emoji: event.reaction,
          action,
          ...(eventId !== undefined ? { eventKey: eventId } : {}),
        });
        deps.log.debug("reaction handled", {
          ts: messageId,
          action,
          outcome: outcome.kind === "rated" ? "rated" : outcome.reason,
        });
      },
      (error) =>
        deps.log.error("handling a reaction failed", { ts: messageId, action, ...errorFields(error) }),
    );
  }

  app.event("reaction_added", async ({ event, body }) => {
    await handle(event, "add", body.event_id);
  });
  app.event("reaction_removed", async ({ event, body }) => {
    await handle(event, "remove", body.event_id);
  });
}
