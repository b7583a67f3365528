// The Slack notifier for the contract: createSlackNotifier over a Web API client, against the Slack
// emulator.
import { webApi } from "@slack/bolt";
import { boltLogger } from "../../src/bots/slack/bolt-logger.ts";
import { SLACK_PART_CHARS } from "../../src/bots/slack/mrkdwn.ts";
import { createSlackNotifier } from "../../src/bots/slack/notifier.ts";
import { startSlackEmulator } from "../emulators/slack/index.ts";
import { memoryLogger } from "../support/core.ts";
import { SLACK_IDS } from "../support/slack-app.ts";
import type { Delivered, NotifierDriver } from "./notifier-driver.ts";

const CHANNEL = "C0GENERAL";

export async function slackNotifierDriver(): Promise<NotifierDriver> {
  const emu = await startSlackEmulator({ ...SLACK_IDS });
  const client = new webApi.WebClient(SLACK_IDS.botToken, {
    slackApiUrl: emu.apiUrl,
    retryConfig: { retries: 0 },
    logger: boltLogger(memoryLogger()),
  });
  const people = ["U0ALICE", "U0BOB", "U0CAROL", "U0DAN", "U0ERIN", "U0FRANK", "U0GRACE", "U0HEIDI"];
  const userId = (person: string) => person.split(":")[2]!;
  const dmChannel = async (person: string) => {
    const opened = await client.conversations.open({ users: userId(person) });
    return opened.channel!.id!;
  };
  const delivered = (m: ReturnType<typeof emu.messages>[number]): Delivered => {
    const actions = (m.blocks ?? []) as Array<{
      type?: string;
      elements?: Array<{ action_id?: string; text?: { text?: string } }>;
    }>;
    return {
      id: m.ts,
      text: m.text,
      buttons: actions
        .filter((b) => b.type === "actions")
        .flatMap((b) => b.elements ?? [])
        .map((e) => ({ id: e.action_id ?? "", label: e.text?.text ?? "" })),
      ...(m.thread_ts !== undefined ? { replyTo: m.thread_ts } : {}),
    };
  };
  let nextTs = 1_700_000_000;

  return {
    platform: "slack",
    notifier: createSlackNotifier(client),
    messageLimit: SLACK_PART_CHARS,
    person: (n) => `slack:${SLACK_IDS.teamId}:${people[n]}`,
    foreignPerson: "discord:3001",
    dm: async (person) =>
      emu
        .messages(await dmChannel(person))
        .filter((m) => !m.deleted)
        .map(delivered),
    async files(person) {
      const channel = await dmChannel(person);
      return emu.files
        .filter((f) => f.completed && f.channel === channel)
        .map((f) => ({
          name: f.filename,
          content: f.content?.toString("utf8") ?? "",
          text: f.initialComment ?? "",
        }));
    },
    // A channel message is answered in its own thread: its ts is the thread's.
    async personSays() {
      const ts = `${nextTs++}.000100`;
      return { channelId: CHANNEL, threadId: ts, messageId: ts };
    },
    async messages(place, ids) {
      const all = emu.messages(place.channelId);
      return ids.map((id) => {
        const m = all.find((x) => x.ts === id);
        if (!m) throw new Error(`no bot message ${id} in ${place.channelId}`);
        return delivered(m);
      });
    },
    refuseDmsTo() {
      emu.failNext("conversations.open", "user_disabled");
    },
    async stop() {
      await emu.stop();
    },
  };
}
