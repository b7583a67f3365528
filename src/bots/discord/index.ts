// Placeholder until the Discord adapter lands: it connects to nothing and says so.
import type { Config } from "../../config.ts";
import type { AdapterDeps, RunningPlatform } from "../platform.ts";

export async function startDiscord(
  deps: AdapterDeps<NonNullable<Config["discord"]>>,
): Promise<RunningPlatform> {
  deps.log.warn("the Discord adapter is not implemented in this version");
  const unavailable = async (): Promise<never> => {
    throw new Error("The Discord adapter is not implemented yet.");
  };
  return {
    notifier: {
      sendApprovalPrompt: unavailable,
      closeApprovalPrompt: unavailable,
      sendDirectMessage: unavailable,
    },
    connected: () => false,
    stop: async () => {},
  };
}
