// Routes interactions (slash commands, button clicks) to their handlers. The interaction id is the
// event key: discord.js emits a replayed INTERACTION_CREATE again (after a gateway RESUME), and a
// second acknowledgement would fail, so an id already seen is skipped. The core de-duplicates
// button clicks durably as well (the id is passed as `eventKey`).
import { type Client, Events } from "discord.js";
import type { Assistant, Logger } from "../../core/ports.ts";
import { type InFlight, logFailure } from "../shared/in-flight.ts";
import type { RecentIds } from "../shared/recent-ids.ts";
import { handleButtonClick, isOurButton } from "./buttons.ts";
import { COMMAND_NAME, handleCommand } from "./commands.ts";
import { handleRateMenu, handleRateSelect, isRateSelect, RATE_MENU_NAME } from "./rating-buttons.ts";

export interface InteractionDeps {
  assistant: Assistant;
  log: Logger;
  inFlight: InFlight;
  seen: RecentIds;
}

export function attachInteractionHandler(client: Client, deps: InteractionDeps): void {
  const { assistant, log, inFlight } = deps;
  client.on(Events.InteractionCreate, (interaction) => {
    const fields = { interactionId: interaction.id };
    if (interaction.isChatInputCommand() && interaction.commandName === COMMAND_NAME) {
      if (!deps.seen.firstTime(`interaction:${interaction.id}`)) return;
      void inFlight.run(() => handleCommand(interaction, assistant, log), logFailure(log, "command", fields));
    } else if (interaction.isMessageContextMenuCommand() && interaction.commandName === RATE_MENU_NAME) {
      if (!deps.seen.firstTime(`interaction:${interaction.id}`)) return;
      void inFlight.run(() => handleRateMenu(interaction), logFailure(log, "rate menu", fields));
    } else if (interaction.isStringSelectMenu() && isRateSelect(interaction.customId)) {
      if (!deps.seen.firstTime(`interaction:${interaction.id}`)) return;
      void inFlight.run(
        () => handleRateSelect(interaction, assistant, log),
        logFailure(log, "rate select", fields),
      );
    } else if (interaction.isButton() && isOurButton(interaction.customId)) {
      if (!deps.seen.firstTime(`interaction:${interaction.id}`)) return;
      void inFlight.run(
        () => handleButtonClick(interaction, assistant, log),
        logFailure(log, "button", fields),
      );
    }
  });
}
