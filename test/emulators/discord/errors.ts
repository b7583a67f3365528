/** Discord's error bodies: `{message, code}`, and 400 "Invalid Form Body" with nested `errors`. */
export interface DiscordErrorBody {
  message: string;
  code: number;
  errors?: Record<string, unknown>;
}

export class DiscordHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: DiscordErrorBody,
  ) {
    super(body.message);
  }
}

export function httpError(status: number, code: number, message: string): DiscordHttpError {
  return new DiscordHttpError(status, { message, code });
}

/**
 * A 400 "Invalid Form Body" (code 50035). `field` is a dotted path such as `content` or
 * `embeds.0.description`; Discord nests the errors object along it.
 */
export function formError(field: string, code: string, message: string): DiscordHttpError {
  const errors: Record<string, unknown> = {};
  let cursor = errors;
  const parts = field.split(".");
  parts.forEach((part, index) => {
    if (index === parts.length - 1) {
      cursor[part] = { _errors: [{ code, message }] };
    } else {
      const next: Record<string, unknown> = {};
      cursor[part] = next;
      cursor = next;
    }
  });
  return new DiscordHttpError(400, { message: "Invalid Form Body", code: 50035, errors });
}

export const Errors = {
  unauthorized: () => httpError(401, 0, "401: Unauthorized"),
  notFound: () => httpError(404, 0, "404: Not Found"),
  unknownChannel: () => httpError(404, 10003, "Unknown Channel"),
  unknownGuild: () => httpError(404, 10004, "Unknown Guild"),
  unknownMember: () => httpError(404, 10007, "Unknown Member"),
  unknownMessage: () => httpError(404, 10008, "Unknown Message"),
  unknownUser: () => httpError(404, 10013, "Unknown User"),
  unknownEmoji: () => httpError(400, 10014, "Unknown Emoji"),
  unknownWebhook: () => httpError(404, 10015, "Unknown Webhook"),
  unknownApplication: () => httpError(404, 10002, "Unknown Application"),
  unknownCommand: () => httpError(404, 10063, "Unknown application command"),
  unknownInteraction: () => httpError(404, 10062, "Unknown interaction"),
  alreadyAcknowledged: () => httpError(400, 40060, "Interaction has already been acknowledged."),
  emptyMessage: () => httpError(400, 50006, "Cannot send an empty message"),
  cannotEditOthers: () => httpError(403, 50005, "Cannot edit a message authored by another user"),
  cannotDmUser: () => httpError(403, 50007, "Cannot send messages to this user"),
} as const;
