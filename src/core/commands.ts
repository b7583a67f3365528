// `/assistant <subcommand>` and button clicks, routed once for every platform: the adapters pass
// the subcommand's name and its words (src/bots/shared/commands.ts reads them), or the id of the
// button clicked, and render what comes back. What an unknown subcommand or a stale button gets,
// and what a missing argument defaults to, is decided here and nowhere else.
import {
  isForgetButtonId,
  parseApprovalButtonId,
  parseCommandButtonId,
  parseRateButtonId,
} from "./button-ids.ts";
import { outcome } from "./outcomes.ts";
import type {
  Assistant,
  AssistantServices,
  ButtonClick,
  ButtonReply,
  CommandInput,
  CommandPlace,
  CommandReply,
  UserRef,
} from "./ports.ts";
import { CONFIG_ACTIONS } from "./server-config.ts";

/** The services a command reaches. */
type Services = AssistantServices;

/** The subcommands, by name; each gets the caller and the words after the name. */
const SUBCOMMANDS: Record<
  string,
  (s: Services, user: UserRef, args: string, place?: CommandPlace) => Promise<CommandReply>
> = {
  help: async (_s, user) => outcome("command.help", user.externalId),
  status: async (s, user, _args, place) => {
    const { status, text } = await s.status(user, place);
    return { ...outcome("status.shown", text), status };
  },
  train: (s, user) => s.train(user),
  training: (s, user, args) => s.trainingOffers(user, args),
  models: (s, user, args) => s.models(user, args || undefined),
  // Nothing named: the core's default target (the previous version).
  rollback: (s, user, args) => s.rollback(user, args || undefined),
  memory: (s, user) => s.memory(user),
  export: (s, user) => s.exportData(user),
  forget: (s, user) => s.forgetRequest(user),
  "opt-out": (s, user) => s.optOut(user),
  "opt-in": (s, user) => s.optIn(user),
  "limits show": (s, user) => s.limitsShow(user),
  "limits set": (s, user, args) => s.limitsSet(user, args),
  // `/assistant config` alone shows the settings.
  ...Object.fromEntries(
    CONFIG_ACTIONS.map((action) => [
      `config ${action}`,
      (s: Services, user: UserRef, args: string, place?: CommandPlace) =>
        s.serverConfig(user, place, action, args),
    ]),
  ),
};

/**
 * `claimClick`: claims a click's event key once (idempotency.ts); a command button clicked twice
 * with the same key (a double click on one rendering of the buttons) runs its subcommand once.
 */
export function createCommandRouter(
  services: Services,
  claimClick?: (eventKey: string) => Promise<boolean>,
): Pick<Assistant, "command" | "buttonClick"> {
  return {
    command(user: UserRef, input: CommandInput): Promise<CommandReply> {
      const run = Object.hasOwn(SUBCOMMANDS, input.name) ? SUBCOMMANDS[input.name] : undefined;
      if (!run) return Promise.resolve(outcome("command.unknown", user.externalId));
      return run(services, user, input.args.trim(), input.place);
    },
    async buttonClick(click: ButtonClick): Promise<ButtonReply> {
      const approval = parseApprovalButtonId(click.buttonId);
      if (approval)
        return services.approvalClick({ user: click.user, ...approval, eventKey: click.eventKey });
      if (isForgetButtonId(click.buttonId)) return services.forgetConfirm(click);
      const rating = parseRateButtonId(click.buttonId);
      if (rating !== undefined) return services.rateClick({ ...click, rating });
      const sub = parseCommandButtonId(click.buttonId);
      if (sub) {
        const run = Object.hasOwn(SUBCOMMANDS, sub.name) ? SUBCOMMANDS[sub.name] : undefined;
        if (!run) return outcome("button.stale");
        if (click.eventKey && claimClick && !(await claimClick(click.eventKey)))
          return outcome("event.duplicate");
        const {
          confirmButtonId: _none,
          status: _figures,
          ...answer
        } = await run(services, click.user, sub.args);
        return answer;
      }
      return outcome("button.stale");
    },
  };
}
