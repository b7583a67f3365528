// The provider deletion queue (DeletionRecord). What a person's data left at the fine-tuning
// provider (uploaded training files, unfinished jobs, tuned models) is queued here under a one-way
// hash of their identity, in the same transaction that deletes or marks their rows, and then
// carried out; each confirmed deletion removes its row. So the database is clean at once even when
// the provider is down, and nothing is forgotten: a failure leaves a "failed" row that the next
// `forget`, the deletions job or an operator (`npm run admin -- deletions --retry`) retries, and what
// a provider cannot delete through its API (tuned models on Vertex) stays "unsupported" for an
// operator to remove by hand. Forget (forget.ts) and finished trainings (fine-tune/file-cleanup.ts)
// both queue here.
import { createHash } from "node:crypto";
import type { Database } from "../../database/open-database.ts";
import type { Prisma } from "../../generated/prisma/client.ts";
import { isFinished } from "../fine-tune/states.ts";
import type { FineTuneProvider } from "../ports.ts";
import { ProviderError } from "../ports.ts";
import { oneLine } from "../storable-text.ts";
import type { RightsContext } from "./context.ts";

export interface ForgetProgress {
  /** "database": the one transaction that removes the rows; "provider": deletions at the provider. */
  phase: "database" | "provider";
  done: number;
  total: number;
}

export interface DeletionSweepResult {
  /** Deletions the provider confirmed in this run. */
  deleted: number;
  /** The same, by kind: jobs cancelled, files and models deleted. */
  byKind: { job: number; file: number; model: number };
  /** Still to retry ("pending" or "failed"). */
  remaining: number;
  /** Left for an operator ("unsupported"). */
  unsupported: number;
}

export type DeletionKind = "job" | "file" | "model";

export interface PlannedDeletion {
  provider: string;
  kind: DeletionKind;
  resourceId: string;
}

const KIND_ORDER: Record<string, number> = { job: 0, file: 1, model: 2 };

/** One-way hash of a platform identity, as kept in DeletionRecord.subjectHash (never the identity). */
export function subjectHash(externalId: string): string {
  return createHash("sha256").update(`learning-assistant/forget/v1:${externalId}`).digest("hex");
}

/** Queues deletions for the person behind `hash`, as part of the caller's transaction. */
export async function queueDeletions(
  tx: Database | Prisma.TransactionClient,
  hash: string,
  planned: readonly PlannedDeletion[],
  now: Date,
): Promise<void> {
  if (!planned.length) return;
  await tx.deletionRecord.createMany({
    data: planned.map((p) => ({ ...p, subjectHash: hash, createdAt: now })),
    skipDuplicates: true,
  });
}

function describeError(e: unknown): string {
  if (e instanceof ProviderError) return oneLine(`${e.status ?? "network"}: ${e.message}`, 300);
  return oneLine(e instanceof Error ? e.message : String(e), 300);
}

export function createDeletions(ctx: RightsContext) {
  const { db, clock, log } = ctx;

  /** Carries out one deletion; returns follow-up deletions it discovered (a cancelled job's model). */
  async function perform(
    provider: FineTuneProvider,
    r: { kind: string; resourceId: string },
  ): Promise<PlannedDeletion[]> {
    if (r.kind === "file") {
      await provider.deleteFile(r.resourceId);
      return [];
    }
    if (r.kind === "model") {
      await provider.deleteModel(r.resourceId);
      return [];
    }
    if (r.kind !== "job") throw new Error(`unknown deletion kind ${r.kind}`);
    try {
      let info = await provider.getJob(r.resourceId);
      if (!isFinished(info.status)) {
        await provider.cancelJob(r.resourceId);
        info = await provider.getJob(r.resourceId);
      }
      if (!isFinished(info.status)) throw new Error("cancellation requested; the job has not stopped yet");
      // It finished before it could be cancelled: its model is theirs too.
      return info.status === "succeeded" && info.fineTunedModel
        ? [{ provider: provider.name, kind: "model", resourceId: info.fineTunedModel }]
        : [];
    } catch (e) {
      if (e instanceof ProviderError && e.status === 404) return []; // already gone
      throw e;
    }
  }

  async function retryDeletions(
    options: { subjectHash?: string; onProgress?: (p: ForgetProgress) => void } = {},
  ): Promise<DeletionSweepResult> {
    const provider = ctx.provider;
    const scope = options.subjectHash !== undefined ? { subjectHash: options.subjectHash } : {};
    const started = clock.now().getTime();
    // A person's own request retries everything of theirs at once; the scheduled sweep over everyone
    // backs off on deletions that keep failing (5 minutes, doubling, at most a day).
    const due = (r: { status: string; attempts: number; lastAttemptAt: Date | null }) =>
      options.subjectHash !== undefined ||
      r.status !== "failed" ||
      !r.lastAttemptAt ||
      r.lastAttemptAt.getTime() + Math.min(300_000 * 2 ** Math.max(0, r.attempts - 1), 86_400_000) <= started;
    const queue = (
      await db.deletionRecord.findMany({
        where: { ...scope, status: { in: ["pending", "failed"] } },
        orderBy: { id: "asc" },
      })
    )
      .filter(due)
      .sort((a, b) => (KIND_ORDER[a.kind] ?? 9) - (KIND_ORDER[b.kind] ?? 9));
    let done = 0;
    let deleted = 0;
    const byKind = { job: 0, file: 0, model: 0 };
    let total = queue.length;
    if (total) options.onProgress?.({ phase: "provider", done, total });
    for (let i = 0; i < queue.length; i++) {
      const r = queue[i]!;
      const now = clock.now();
      if (!provider || provider.name !== r.provider) {
        const reason = `${r.provider} is not configured where this ran`;
        if (r.status !== "pending" || r.reason !== reason)
          await db.deletionRecord.updateMany({ where: { id: r.id }, data: { status: "pending", reason } });
      } else {
        try {
          const more = await perform(provider, r);
          if (more.length) {
            await queueDeletions(db, r.subjectHash, more, now);
            const added = await db.deletionRecord.findMany({
              where: {
                OR: more.map((m) => ({ provider: m.provider, kind: m.kind, resourceId: m.resourceId })),
                status: { in: ["pending", "failed"] },
              },
            });
            const queued = new Set(queue.map((q) => q.id));
            for (const a of added.filter((a) => !queued.has(a.id))) {
              queue.push(a);
              total++;
            }
          }
          // Conditional (deleteMany/updateMany, not delete/update): a sweep running beside this one
          // (the schedule's and a person's own request) may have settled the same record already,
          // and then that sweep counts it.
          const gone = await db.deletionRecord.deleteMany({ where: { id: r.id } });
          if (gone.count === 1) {
            deleted++;
            if (r.kind === "job" || r.kind === "file" || r.kind === "model") byKind[r.kind]++;
          }
        } catch (e) {
          const unsupported = e instanceof ProviderError && e.code === "unsupported";
          await db.deletionRecord.updateMany({
            where: { id: r.id },
            data: {
              status: unsupported ? "unsupported" : "failed",
              reason: describeError(e),
              attempts: { increment: 1 },
              lastAttemptAt: now,
            },
          });
          log.warn("provider deletion did not go through", {
            deletion: r.id,
            kind: r.kind,
            provider: r.provider,
            unsupported,
            status: e instanceof ProviderError ? e.status : undefined,
          });
        }
      }
      options.onProgress?.({ phase: "provider", done: ++done, total });
    }
    const left = await db.deletionRecord.groupBy({ by: ["status"], where: scope, _count: { _all: true } });
    const count = (...statuses: string[]) =>
      left.filter((g) => statuses.includes(g.status)).reduce((n, g) => n + g._count._all, 0);
    return { deleted, byKind, remaining: count("pending", "failed"), unsupported: count("unsupported") };
  }

  return { retryDeletions };
}

export type Deletions = ReturnType<typeof createDeletions>;
