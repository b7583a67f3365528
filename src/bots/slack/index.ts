// Placeholder until the Slack adapter lands: it connects to nothing and says so.
import type { Config } from "../../config.ts";
import type { AdapterDeps, RunningPlatform } from "../platform.ts";

export async function startSlack(deps: AdapterDeps<NonNullable<Config["slack"]>>): Promise<RunningPlatform> {
  deps.log.warn("the Slack adapter is not implemented in this version");
  const unavailable = async (): Promise<never> => {
    throw new Error("The Slack adapter is not implemented yet.");
  };
  return {
    notifier: { sendApprovalPrompt: unavailable, closeApprovalPrompt: unavailable, sendDirectMessage: unavailable },
    connected: () => false,
    stop: async () => {},
  };
}
