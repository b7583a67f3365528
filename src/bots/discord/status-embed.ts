// `/assistant status` as a Discord embed: the same facts the core's plain-text status carries,
// laid out as fields.
import { EmbedBuilder } from "discord.js";
import { formatUsd } from "../../core/messages.ts";
import { hereLines } from "../../core/server-config-messages.ts";
import type { UserStatus } from "../../core/status.ts";

const BLURPLE = 0x5865f2;

export function statusEmbed(s: UserStatus): EmbedBuilder {
  const model = s.activeModel.fineTuned
    ? `${s.activeModel.model} (your fine-tuned model v${s.activeModel.version})`
    : `${s.activeModel.model} (base model)`;
  return new EmbedBuilder()
    .setColor(BLURPLE)
    .setTitle("Your assistant")
    .setDescription(
      s.optedOut
        ? "You opted out: nothing new is stored or used for training."
        : "What I know about you so far.",
    )
    .addFields(
      { name: "Exchanges", value: `${s.exchanges} (searchable memory: ${s.memorySize})`, inline: true },
      { name: "Ratings", value: `${s.rated} rated, ${s.highlyRated} highly rated`, inline: true },
      {
        name: "Fine-tune progress",
        value: `${bar(s.progress)} ${s.readyForFineTune}/${s.threshold} ready examples`,
      },
      // Level 3 off for them (no provider, or their platform's terms), and how an admin turns it on.
      ...(s.fineTuneOff ? [{ name: "Your own model: off", value: s.fineTuneOff.slice(0, 1024) }] : []),
      { name: "Active model", value: model },
      {
        name: "Spend",
        value: `${formatUsd(s.spend.chatUsd)} answers, ${formatUsd(s.spend.trainingUsd)} training`,
      },
      // Run in a server: what its operators set for where the command was run.
      ...(s.here ? [{ name: "In this server", value: hereLines(s.here).join("\n").slice(0, 1024) }] : []),
    );
}

function bar(fraction: number, width = 20): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `\`${"█".repeat(filled)}${"░".repeat(width - filled)}\` ${Math.round(fraction * 100)}%`;
}
