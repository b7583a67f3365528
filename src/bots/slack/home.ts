// The App Home tab: published (views.publish) when the person opens it, and again after each of its
// buttons, so it always shows the state the click left. The figures come from the core's
// `/assistant status`; the buttons go to the core like any of the bot's buttons (`buttonClick`:
// command buttons run the subcommand, the forget confirmation deletes), with an event key made of
// the rendering's nonce so that a double click does the thing once. The home tab has no
// response_url: what a click came to is shown on top of the re-published tab.
import { randomUUID } from "node:crypto";
import type { App, BlockAction, webApi } from "@slack/bolt";
import { failureNotices } from "../../core/messages.ts";
import { HOME_CANCEL, HOME_FORGET, HOME_PREFIX, type HomeViewInput, homeView } from "./home-view.ts";
import { slackUserRef } from "./identity.ts";
import { errorFields, type ListenerDeps } from "./listener-deps.ts";

type HomeExtras = Pick<HomeViewInput, "note" | "forget">;

export function registerHome(app: App, deps: ListenerDeps): void {
  const userRef = (userId: string) => slackUserRef(deps.workspace.teamId, userId);

  async function publish(client: webApi.WebClient, userId: string, extras: HomeExtras = {}): Promise<void> {
    const reply = await deps.assistant.command(userRef(userId), { name: "status", args: "" });
    if (!reply.status) throw new Error(`status answered ${reply.code} without figures`);
    await client.views.publish({
      user_id: userId,
      view: homeView({ status: reply.status, statusText: reply.text, nonce: randomUUID(), ...extras }),
    });
  }

  app.event("app_home_opened", async ({ event, client }) => {
    // The Messages tab opens the DM; only the Home tab is ours to draw.
    if (event.tab !== "home") return;
    await deps.inFlight.run(
      () => publish(client, event.user),
      async (error) => {
        deps.log.error("publishing the home tab failed", errorFields(error));
      },
    );
  });

  app.action<BlockAction>(new RegExp(`^${HOME_PREFIX}`), async ({ ack, body, action, client }) => {
    await ack();
    const userId = body.user.id;
    const nonce = "value" in action && typeof action.value === "string" ? action.value : "";
    await deps.inFlight.run(
      async () => {
        if (action.action_id === HOME_CANCEL) return publish(client, userId);
        if (action.action_id === HOME_FORGET) {
          // The warning first, in the tab itself; nothing is deleted until its own button.
          const warning = await deps.assistant.command(userRef(userId), { name: "forget", args: "" });
          return publish(
            client,
            userId,
            warning.confirmButtonId !== undefined
              ? { forget: { warning: warning.text, confirmButtonId: warning.confirmButtonId } }
              : { note: warning.text },
          );
        }
        const buttonId = action.action_id.slice(HOME_PREFIX.length);
        const outcome = await deps.assistant.buttonClick({
          user: userRef(userId),
          buttonId,
          // The nonce names the rendering clicked; without one, the click itself.
          eventKey: nonce !== "" ? `slack-home:${nonce}:${buttonId}` : body.trigger_id || action.action_ts,
        });
        // The first of a double click re-publishes the tab; the second must not race it.
        if (outcome.code === "event.duplicate") return;
        await publish(client, userId, { note: outcome.text });
      },
      async (error) => {
        deps.log.error("handling a home tab click failed", errorFields(error));
        await publish(client, userId, { note: failureNotices.click }).catch((e: unknown) =>
          deps.log.error("publishing the home tab failed", errorFields(e)),
        );
      },
    );
  });
}
