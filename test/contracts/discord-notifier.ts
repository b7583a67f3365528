// The Discord notifier for the contract: createNotifier over a logged-in discord.js client (the
// adapter's own client settings), against the Discord emulator.
import { once } from "node:events";
import { Events } from "discord.js";
import { createDiscordClient } from "../../src/bots/discord/client.ts";
import { DISCORD_MESSAGE_LIMIT } from "../../src/bots/discord/format.ts";
import { createNotifier } from "../../src/bots/discord/notifier.ts";
import { startDiscordEmulator } from "../emulators/discord/index.ts";
import type { Delivered, NotifierDriver } from "./notifier-driver.ts";

const APP_ID = "1000";
const GUILD_ID = "2000";
const GENERAL = "2001";

export async function discordNotifierDriver(): Promise<NotifierDriver> {
  const emu = await startDiscordEmulator({ token: "test-token", applicationId: APP_ID, botUserId: APP_ID });
  const people = [3001, 3002, 3003, 3004, 3005, 3006, 3007, 3008].map(String);
  for (const id of people) emu.addUser({ id, username: `user${id}` });
  emu.addGuild({ id: GUILD_ID, channels: [{ id: GENERAL, name: "general" }], members: people });
  // Logged in, as the bot runs it: guild channels resolve from the gateway's cache.
  const client = createDiscordClient(emu.apiUrl);
  const ready = once(client, Events.ClientReady);
  await client.login(emu.token);
  await ready;
  const userId = (person: string) => person.replace(/^discord:/, "");
  const delivered = (m: ReturnType<typeof emu.messagesIn>[number]): Delivered => {
    const rows = (m.components ?? []) as Array<{
      components?: Array<{ custom_id?: string; label?: string }>;
    }>;
    return {
      id: m.id,
      text: m.content,
      buttons: rows
        .flatMap((r) => r.components ?? [])
        .map((b) => ({ id: b.custom_id ?? "", label: b.label ?? "" })),
      ...(m.message_reference?.message_id ? { replyTo: m.message_reference.message_id } : {}),
    };
  };
  const dmMessages = (person: string) => emu.messagesIn(emu.state.dmChannelFor(userId(person)).id);

  return {
    platform: "discord",
    notifier: createNotifier(() => client),
    messageLimit: DISCORD_MESSAGE_LIMIT,
    person: (n) => `discord:${people[n]}`,
    foreignPerson: "slack:T0TEAM:U0ALICE",
    dm: async (person) => dmMessages(person).map(delivered),
    files: async (person) =>
      dmMessages(person).flatMap((m) =>
        m.attachments.map((a) => ({
          name: a.filename,
          content: emu.state.files.get(new URL(a.url).pathname)?.data.toString("utf8") ?? "",
          text: m.content,
        })),
      ),
    async personSays(person, text) {
      const message = emu.sendMessage({ authorId: userId(person), channelId: GENERAL, content: text });
      return { channelId: GENERAL, messageId: message.id };
    },
    async messages(place, ids) {
      const all = emu.messagesIn(place.threadId ?? place.channelId);
      return ids.map((id) => {
        const m = all.find((x) => x.id === id);
        if (!m) throw new Error(`no bot message ${id} in ${place.channelId}`);
        return delivered(m);
      });
    },
    refuseDmsTo(person) {
      emu.addUser({ id: userId(person), dmsClosed: true });
    },
    async stop() {
      await client.destroy();
      await emu.close();
    },
  };
}
