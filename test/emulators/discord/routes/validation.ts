// Discord's limits, checked as Discord checks them, with its "Invalid Form Body" (50035) errors:
// command names and descriptions, and message content (2,000 characters), embeds and the
// nothing-to-send rule (50006).
import { MAX_MESSAGE_LENGTH } from "../constants.ts";
import { Errors, formError } from "../errors.ts";
import type { RecordedFile } from "../router.ts";
import type { MessageBody } from "./message-body.ts";

const COMMAND_NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;
/** User and message commands (types 2, 3) may be mixed case and hold spaces, 1-32 characters. */
const MENU_COMMAND_NAME = /^[-_' \p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

export function validateCommands(list: Record<string, unknown>[]): void {
  if (list.length > 100)
    throw formError("_errors", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.");
  const seen = new Set<string>();
  list.forEach((command, index) => {
    const type = typeof command.type === "number" ? command.type : 1;
    const name = String(command.name ?? "");
    const valid =
      type === 1 ? COMMAND_NAME.test(name) && name === name.toLowerCase() : MENU_COMMAND_NAME.test(name);
    if (!valid) {
      throw formError(`${index}.name`, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid");
    }
    const key = `${type}:${name}`;
    if (seen.has(key)) {
      throw formError(
        `${index}.name`,
        "APPLICATION_COMMANDS_DUPLICATE_NAME",
        "Application command names must be unique",
      );
    }
    seen.add(key);
    if (type === 1) {
      const description = String(command.description ?? "");
      if (description.length < 1 || description.length > 100) {
        throw formError(
          `${index}.description`,
          "BASE_TYPE_BAD_LENGTH",
          "Must be between 1 and 100 in length.",
        );
      }
      validateCommandOptions(command.options, `${index}.options`);
    }
  });
}

function validateCommandOptions(options: unknown, field: string): void {
  if (options === undefined || options === null) return;
  if (!Array.isArray(options)) throw formError(field, "BASE_TYPE_ARRAY", "Must be an array.");
  if (options.length > 25) throw formError(field, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.");
  options.forEach((option: Record<string, unknown>, index) => {
    const name = String(option.name ?? "");
    if (!COMMAND_NAME.test(name) || name !== name.toLowerCase()) {
      throw formError(
        `${field}.${index}.name`,
        "APPLICATION_COMMAND_INVALID_NAME",
        "Command name is invalid",
      );
    }
    const description = String(option.description ?? "");
    if (description.length < 1 || description.length > 100) {
      throw formError(
        `${field}.${index}.description`,
        "BASE_TYPE_BAD_LENGTH",
        "Must be between 1 and 100 in length.",
      );
    }
    if (option.type === 1 || option.type === 2)
      validateCommandOptions(option.options, `${field}.${index}.options`);
  });
}

const EMBED_LIMITS: Array<[string, number]> = [
  ["title", 256],
  ["description", 4096],
];

/** Discord's message limits: content 2000, 10 embeds, embed field sizes, nothing-to-send. */
export function validateMessage(
  body: MessageBody,
  options: { files: RecordedFile[]; requireContent: boolean; field?: string },
): void {
  const prefix = options.field ? `${options.field}.` : "";
  if (typeof body.content === "string" && body.content.length > MAX_MESSAGE_LENGTH) {
    throw formError(
      `${prefix}content`,
      "BASE_TYPE_MAX_LENGTH",
      `Must be ${MAX_MESSAGE_LENGTH} or fewer in length.`,
    );
  }
  const embeds = Array.isArray(body.embeds) ? (body.embeds as Array<Record<string, unknown>>) : [];
  if (embeds.length > 10)
    throw formError(`${prefix}embeds`, "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.");
  let total = 0;
  embeds.forEach((embed, index) => {
    for (const [key, max] of EMBED_LIMITS) {
      const value = embed[key];
      if (typeof value === "string") {
        total += value.length;
        if (value.length > max) {
          throw formError(
            `${prefix}embeds.${index}.${key}`,
            "BASE_TYPE_MAX_LENGTH",
            `Must be ${max} or fewer in length.`,
          );
        }
      }
    }
    const fields = Array.isArray(embed.fields)
      ? (embed.fields as Array<{ name?: string; value?: string }>)
      : [];
    if (fields.length > 25) {
      throw formError(
        `${prefix}embeds.${index}.fields`,
        "BASE_TYPE_MAX_LENGTH",
        "Must be 25 or fewer in length.",
      );
    }
    fields.forEach((f, i) => {
      total += (f.name ?? "").length + (f.value ?? "").length;
      if ((f.name ?? "").length > 256) {
        throw formError(
          `${prefix}embeds.${index}.fields.${i}.name`,
          "BASE_TYPE_MAX_LENGTH",
          "Must be 256 or fewer in length.",
        );
      }
      if ((f.value ?? "").length > 1024) {
        throw formError(
          `${prefix}embeds.${index}.fields.${i}.value`,
          "BASE_TYPE_MAX_LENGTH",
          "Must be 1024 or fewer in length.",
        );
      }
    });
  });
  if (total > 6000)
    throw formError(`${prefix}embeds`, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000");
  if (options.requireContent) {
    const hasContent = typeof body.content === "string" && body.content.length > 0;
    const hasComponents = Array.isArray(body.components) && body.components.length > 0;
    const hasStickers = Array.isArray(body.sticker_ids) && body.sticker_ids.length > 0;
    if (
      !hasContent &&
      embeds.length === 0 &&
      options.files.length === 0 &&
      !hasComponents &&
      !hasStickers &&
      !body.poll
    ) {
      throw Errors.emptyMessage();
    }
  }
}
