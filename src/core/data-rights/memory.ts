// `/assistant memory`: what the bot holds about the caller, in counts and a few examples: the most
// recent exchanges, the best rated, and the model versions trained for them.
import { type Outcome, outcome } from "../outcomes.ts";
import type { UserRef } from "../ports.ts";
import { oneLine } from "../storable-text.ts";
import type { RightsContext } from "./context.ts";

export function createMemory(ctx: RightsContext) {
  const { db } = ctx;

  async function memory(ref: UserRef): Promise<Outcome> {
    const user = await db.user.findUnique({ where: { externalId: ref.externalId } });
    if (!user) return outcome("memory.nothing");
    const answered = { userId: user.id, status: "answered" } as const;
    const listed = { userText: true, replyText: true, createdAt: true, rating: true } as const;
    const [memorySize, proposals, trainings, versions, recent, best] = await Promise.all([
      db.exchange.count({ where: { userId: user.id, embeddingModel: { not: null } } }),
      db.fineTuneProposal.count({ where: { userId: user.id } }),
      db.fineTuneJob.count({ where: { userId: user.id } }),
      db.modelVersion.findMany({ where: { userId: user.id }, orderBy: { version: "asc" } }),
      db.exchange.findMany({
        where: { userId: user.id },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: 3,
        select: listed,
      }),
      db.exchange.findMany({
        where: { ...answered, rating: { not: null } },
        orderBy: [{ rating: "desc" }, { ratedAt: "desc" }, { id: "desc" }],
        take: 3,
        select: listed,
      }),
    ]);
    return outcome(
      "memory.shown",
      {
        counters: user,
        memorySize,
        proposals,
        trainings,
        ...(user.optedOut ? { optedOutOn: user.optedOutAt ?? user.updatedAt } : {}),
        recent,
        best,
        versions: versions.map((v) => ({ ...v, active: v.id === user.activeModelVersionId })),
      },
      oneLine,
    );
  }

  return { memory };
}
