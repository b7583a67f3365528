// Who answers one reply, and with what: the person's model (their active version, or a new version
// on trial in its canary share), and whether this reply is in the personalisation holdout (answered
// without memory and few-shot, to measure what they add). conversation.ts asks once per reply and
// writes `recordOf(...)` with the exchange, so every rating can be counted by model version, arm and
// level (ratings-by-level.ts, fine-tune/canary.ts).
import type { Database } from "../../database/open-database.ts";
import type { Clock, LlmProvider } from "../ports.ts";
import { EXPERIMENTS, inShare } from "./assignment.ts";

/** The personalisation a reply was answered with, lowest to highest. */
export const LEVELS = ["base", "memory", "few_shot", "own_model"] as const;
export type Level = (typeof LEVELS)[number];

export type Arm = "incumbent" | "candidate";

export interface ReplyPlan {
  model: string;
  provider: LlmProvider;
  /** The person's model version answering (undefined: the base model). */
  versionId?: string;
  /** Set while a new version of this person is on trial. */
  arm?: Arm;
  /** Answer without memory and few-shot (the holdout). */
  holdout: boolean;
}

export interface ReplyPlannerDeps {
  db: Database;
  clock: Clock;
  llm: LlmProvider;
  llmForTuned?: (provider: string) => LlmProvider | undefined;
  chatModel: string;
  /** CANARY_SHARE: the trial's share for the new version. */
  canaryShare?: number;
  /** PERSONALISATION_HOLDOUT and PERSONALISATION_HOLDOUT_AFTER. */
  holdout?: { share: number; after: number };
}

/** A model version as the plan needs it (the reply's first statement reads these columns). */
export interface VersionRow {
  id: string;
  modelId: string;
  adapterName: string | null;
  provider: string;
  status: string;
  shutdownDate: Date | null;
}

const versionSelect = {
  id: true,
  modelId: true,
  adapterName: true,
  provider: true,
  status: true,
  shutdownDate: true,
} as const;

export function createReplyPlanner(deps: ReplyPlannerDeps) {
  const { db, clock } = deps;
  const servable = (v: VersionRow | null | undefined): v is VersionRow =>
    !!v && v.status === "available" && (!v.shutdownDate || v.shutdownDate > clock.now());

  const answeredBy = (v: VersionRow | undefined) =>
    v
      ? // An adapter on an adapter server is asked for by its adapter name (fine-tune/adapters.ts).
        {
          model: v.adapterName ?? v.modelId,
          provider: deps.llmForTuned?.(v.provider) ?? deps.llm,
          versionId: v.id,
        }
      : { model: deps.chatModel, provider: deps.llm, versionId: undefined };

  /** What the plan reads about the person: from the reply's first statement, or looked up. */
  async function lookUp(userId: string): Promise<PlanInput> {
    const user = await db.user.findUnique({
      where: { id: userId },
      select: {
        exchangeCount: true,
        activeModelVersion: { select: versionSelect },
        modelVersions: { where: { canaryState: "running" }, select: versionSelect, take: 1 },
      },
    });
    return {
      exchangeCount: user?.exchangeCount ?? 0,
      active: user?.activeModelVersion ?? null,
      candidate: user?.modelVersions[0] ?? null,
    };
  }

  /**
   * The plan for the reply to exchange `exchangeId` (the same for every retry of that message).
   * `known`: the person's figures as the reply already read them (no lookup then).
   */
  async function plan(userId: string, exchangeId: bigint, known?: PlanInput): Promise<ReplyPlan> {
    const user = known ?? (await lookUp(userId));
    const active = servable(user.active) ? user.active : undefined;
    const candidate = user.candidate;
    if (servable(candidate)) {
      const arm: Arm = inShare(EXPERIMENTS.canary, exchangeId, deps.canaryShare ?? 0)
        ? "candidate"
        : "incumbent";
      return { ...answeredBy(arm === "candidate" ? candidate : active), arm, holdout: false };
    }
    // The holdout measures memory and few-shot on the base model: never for people answered by
    // their own model (it would take that away too), never for a person's first replies.
    const h = deps.holdout;
    const holdout =
      !active && !!h && user.exchangeCount > h.after && inShare(EXPERIMENTS.holdout, exchangeId, h.share);
    return { ...answeredBy(active), holdout };
  }

  return { plan };
}

export type ReplyPlanner = ReturnType<typeof createReplyPlanner>;

/** What a plan is made from: the person's exchange count (this one included) and their versions. */
export interface PlanInput {
  exchangeCount: number;
  active: VersionRow | null;
  /** A version of theirs on trial (canaryState "running"), if any. */
  candidate: VersionRow | null;
}

/**
 * What the exchange records about how it was answered. `answeredBy` set: the tuned model was not
 * served and the base model stood in, so the reply counts for the base model, not the version.
 */
export function recordOf(
  plan: ReplyPlan,
  used: { memory: number; fewShot: number },
  answeredBy: string | undefined,
): { modelVersionId: string | null; arm: Arm | null; level: Level; holdout: boolean } {
  const versionId = answeredBy ? undefined : plan.versionId;
  const level: Level = versionId
    ? "own_model"
    : used.fewShot > 0
      ? "few_shot"
      : used.memory > 0
        ? "memory"
        : "base";
  return { modelVersionId: versionId ?? null, arm: plan.arm ?? null, level, holdout: plan.holdout };
}
