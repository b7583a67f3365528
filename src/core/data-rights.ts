// People's rights over their data: see it (`/assistant memory`), export it (`/assistant export`),
// erase it (`/assistant forget`), and stop or restart the learning (`/assistant opt-out` / `opt-in`).
// Platform-neutral: the adapters call these and post the text (ephemerally where they can) or DM the
// file; the scheduled age limit lives in retention.ts, the operators' tool in scripts/admin.ts.
//
// Decisions (the README's "Privacy" section says the same to users and operators):
//
// * Forget deletes every row of the person in one transaction: their User row, exchanges (with the
//   embeddings and reactions), proposals (with their datasets and example links), jobs and model
//   versions. The cost ledger is the admins' spend record and the base of the monthly limits, so its
//   rows are anonymised rather than deleted: userId, jobId, proposalId and exchangeId are cleared and a
//   reservation still held is released (its job is being cancelled); kind, status, amount, month and
//   dates stay, so the month's total spend stays true. An operator's id in AdminLimits.updatedBy is
//   cleared too. ProcessedEvent keys (platform event ids) cannot be linked to anyone and stay.
// * Work at the fine-tuning provider (cancel an unfinished job, delete uploaded training files, delete
//   tuned models) is written as DeletionRecord rows in that same transaction, keyed by a one-way hash
//   of the person's platform identity, then carried out; each confirmed deletion removes its row. So
//   the database is clean at once even when the provider is down, and nothing is forgotten: a failure
//   leaves a "failed" row that the next `forget` (the person's, or an operator's `npm run admin --
//   forget`) retries, and what a provider cannot delete through its API (tuned models on Vertex)
//   stays "unsupported" for an operator to remove by hand. The hash lets a repeated request find its
//   leftovers; it is not the identity, and the rows go away as the work completes.
// * Opting out deletes nothing by itself: what was stored stays (visible with `memory`, exportable,
//   erasable with `forget`, and it ages out with retention, no longer protected as a training
//   example) but nothing of it is used: answers come from the base model without memory or examples
//   (conversation.ts stores nothing for an opted-out person), no offer is made, a pending offer is
//   cancelled, an unfinished training is cancelled. Opting back in starts fresh: the exchanges stored
//   before (and datasets of offers that never trained) are deleted, the counters restart at zero and
//   the base model answers until a new model is trained. Past trainings and model versions stay
//   listed (a rollback can re-activate one); `forget` removes them.
import { createHash } from "node:crypto";
import type { Database } from "../database/open-database.ts";
import type { CommandReply } from "./assistant.ts";
import { type Budgets, createBudgets } from "./budgets.ts";
import {
  isFinished,
  isIn,
  type JobState,
  NOT_LAUNCHED_JOB_STATES,
  transition,
  UNFINISHED_JOB_STATES,
} from "./fine-tune/states.ts";
import type { Clock, FineTuneProvider, Logger } from "./ports.ts";
import { ProviderError } from "./ports.ts";
import { clipStorable, storableText } from "./storable-text.ts";
import { ZERO_COUNTERS } from "./user-counters.ts";
import { ensureUser, type UserRef } from "./users.ts";

export interface DataRightsDeps {
  db: Database;
  clock: Clock;
  log: Logger;
  /** The cost ledger's owner; forget anonymises the person's entries through it. Default: one on `db`. */
  budgets?: Budgets;
  /** The configured fine-tuning provider; without it provider deletions are recorded as pending. */
  provider?: FineTuneProvider;
  /** Lowest rating that counts as highly rated (FINETUNE_MIN_RATING). */
  minRating: number;
}

export interface ForgetProgress {
  /** "database": the one transaction that removes the rows; "provider": deletions at the provider. */
  phase: "database" | "provider";
  done: number;
  total: number;
}

export interface ForgetResult {
  /** True when nothing retryable is left (items only an operator can delete do not make it false). */
  ok: boolean;
  text: string;
  /** What is still at the provider: "<provider> <kind> <resource id>: <why>". */
  undeleted: string[];
}

export interface ExportResult {
  ok: boolean;
  text: string;
  /** The JSON document to DM; absent when the bot holds nothing about the person. */
  file?: { name: string; content: string };
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

export interface DataRights {
  memory(ref: UserRef): Promise<CommandReply>;
  exportData(ref: UserRef): Promise<ExportResult>;
  forget(ref: UserRef, onProgress?: (p: ForgetProgress) => void): Promise<ForgetResult>;
  optOut(ref: UserRef): Promise<CommandReply>;
  optIn(ref: UserRef): Promise<CommandReply>;
  /**
   * Retries outstanding provider deletions: one person's (`subjectHash`) or everyone's. `forget`
   * calls it for the person; operators run it for all (`npm run admin -- deletions --retry`).
   */
  retryDeletions(options?: {
    subjectHash?: string;
    onProgress?: (p: ForgetProgress) => void;
  }): Promise<DeletionSweepResult>;
}

/** One-way hash of a platform identity, as kept in DeletionRecord.subjectHash (never the identity). */
export function subjectHash(externalId: string): string {
  return createHash("sha256").update(`learning-assistant/forget/v1:${externalId}`).digest("hex");
}

export const EXPORT_FORMAT = "learning-assistant/export@1";

const KIND_ORDER: Record<string, number> = { job: 0, file: 1, model: 2 };
/**
 * Longer than the database's default `timeout`: one forget deletes all of a person's rows at once,
 * which takes a while for long histories on the embedded database. Never a `maxWait`: waiting in the
 * embedded database's queue must not time out (src/database/open-database.ts), so the client's
 * patient default applies (test/queued-transactions.test.ts).
 */
const TX_OPTIONS = { timeout: 120_000 } as const;

type DeletionKind = "job" | "file" | "model";
interface PlannedDeletion {
  provider: string;
  kind: DeletionKind;
  resourceId: string;
}

/** One line of a message, at most `max` characters, storable (a provider's refusal is kept). */
function clip(text: string | null | undefined, max: number): string {
  const line = storableText(text ?? "")
    .replace(/\s+/g, " ")
    .trim();
  return line.length <= max ? line : `${clipStorable(line, max - 1)}…`;
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function describeError(e: unknown): string {
  if (e instanceof ProviderError) return clip(`${e.status ?? "network"}: ${e.message}`, 300);
  return clip(e instanceof Error ? e.message : String(e), 300);
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

export function createDataRights(deps: DataRightsDeps): DataRights {
  const { db, clock, log } = deps;
  const budgets = deps.budgets ?? createBudgets({ db, clock });

  const findUser = (ref: UserRef) => db.user.findUnique({ where: { externalId: ref.externalId } });

  // ------------------------------------------------------------------------------------------
  // See

  async function memory(ref: UserRef): Promise<CommandReply> {
    const user = await findUser(ref);
    if (!user)
      return {
        ok: true,
        text: "I hold nothing about you: we haven't talked yet, or you asked me to forget.",
      };
    const answered = { userId: user.id, status: "answered" } as const;
    const [memorySize, proposals, trainings, versions, recent, best] = await Promise.all([
      db.exchange.count({ where: { userId: user.id, embeddingModel: { not: null } } }),
      db.fineTuneProposal.count({ where: { userId: user.id } }),
      db.fineTuneJob.count({ where: { userId: user.id } }),
      db.modelVersion.findMany({ where: { userId: user.id }, orderBy: { version: "asc" } }),
      db.exchange.findMany({
        where: { userId: user.id },
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: 3,
        select: { userText: true, replyText: true, createdAt: true, rating: true },
      }),
      db.exchange.findMany({
        where: { ...answered, rating: { not: null } },
        orderBy: [{ rating: "desc" }, { ratedAt: "desc" }, { id: "desc" }],
        take: 3,
        select: { userText: true, replyText: true, createdAt: true, rating: true },
      }),
    ]);
    const line = (e: (typeof recent)[number]) =>
      `• ${day(e.createdAt)}: "${clip(e.userText, 80)}" → "${clip(e.replyText ?? "(no reply)", 80)}"${e.rating ? ` (rated ${e.rating})` : ""}`;
    const lines = [
      "**What I hold about you**",
      `Exchanges: ${user.exchangeCount} (searchable memory: ${memorySize}); rated ${user.ratedCount}, highly rated ${user.highRatedCount}, ready for training ${user.readyCount}`,
      `Training offers: ${proposals}, trainings: ${trainings}, model versions: ${versions.length}`,
      ...(user.optedOut
        ? [
            `You opted out on ${day(user.optedOutAt ?? user.updatedAt)}: none of this is used, and nothing new is stored.`,
          ]
        : []),
      ...(recent.length ? ["Most recent:", ...recent.map(line)] : ["No exchanges stored."]),
      ...(best.length ? ["Best rated:", ...best.map(line)] : []),
      ...(versions.length
        ? [
            "Your models:",
            ...versions.map(
              (v) =>
                `• v${v.version}: ${v.modelId} (${v.provider}, ${v.status}, ${day(v.createdAt)})${v.id === user.activeModelVersionId ? " ← answering you" : ""}`,
            ),
          ]
        : []),
      "/assistant export sends you all of it, /assistant forget deletes it, /assistant opt-out stops me learning from you.",
    ];
    return { ok: true, text: lines.join("\n") };
  }

  // ------------------------------------------------------------------------------------------
  // Export

  async function exportData(ref: UserRef): Promise<ExportResult> {
    const user = await findUser(ref);
    if (!user) return { ok: true, text: "I hold nothing about you, so there is nothing to export." };
    const [exchanges, proposals, jobs, modelVersions, ledgerEntries] = await Promise.all([
      db.exchange.findMany({
        where: { userId: user.id },
        orderBy: { id: "asc" },
        include: { reactions: { orderBy: { id: "asc" } } },
      }),
      db.fineTuneProposal.findMany({
        where: { userId: user.id },
        orderBy: { createdAt: "asc" },
        include: { examplesUsed: { select: { exchangeId: true }, orderBy: { exchangeId: "asc" } } },
      }),
      db.fineTuneJob.findMany({ where: { userId: user.id }, orderBy: { createdAt: "asc" } }),
      db.modelVersion.findMany({ where: { userId: user.id }, orderBy: { version: "asc" } }),
      db.costLedgerEntry.findMany({ where: { userId: user.id }, orderBy: { id: "asc" } }),
    ]);
    const proposalById = new Map(proposals.map((p) => [p.id, p]));
    const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
    // The launch uploads the proposal's JSONL verbatim (lifecycle.ts), so these are the exact files.
    const uploadedFiles = jobs.flatMap((job) => {
      const p = proposalById.get(job.proposalId);
      if (!p) return [];
      const file = (
        role: "training" | "validation",
        providerFileId: string | null,
        content: string | null,
      ) =>
        providerFileId && content !== null
          ? [
              {
                provider: job.provider,
                providerFileId,
                role,
                jobId: job.id,
                proposalId: p.id,
                filename: `ft-${job.id}-${role === "training" ? "train" : "validation"}.jsonl`,
                bytes: Buffer.byteLength(content, "utf8"),
                sha256: sha256(content),
                contentIn: `proposals[id=${p.id}].${role === "training" ? "trainJsonl" : "validationJsonl"}`,
              },
            ]
          : [];
      return [
        ...file("training", job.providerFileId, p.trainJsonl),
        ...file("validation", job.providerValidationFileId, p.validationJsonl),
      ];
    });
    const now = clock.now();
    const doc = {
      format: EXPORT_FORMAT,
      exportedAt: now,
      notes: [
        "Everything this bot holds about you. Ids are the bot's own; money is US dollars.",
        "exchanges: your messages and the bot's replies, with ratings and the reactions they came from. Embedding vectors are omitted: they are computed from userText by the model named in embeddingModel.",
        "proposals: training offers; trainJsonl / validationJsonl are the datasets, byte for byte the files uploaded for the trainings in jobs (see uploadedFiles, with sha256).",
        "ledgerEntries: what answering and training you cost the bot's admins.",
      ],
      user: {
        id: user.id,
        externalId: user.externalId,
        platform: user.platform,
        createdAt: user.createdAt,
        updatedAt: user.updatedAt,
        settings: {
          optedOut: user.optedOut,
          optedOutAt: user.optedOutAt,
          activeModelVersionId: user.activeModelVersionId,
        },
        counters: {
          exchangeCount: user.exchangeCount,
          ratedCount: user.ratedCount,
          highRatedCount: user.highRatedCount,
          readyCount: user.readyCount,
          proposalBlockedUntilReady: user.proposalBlockedUntilReady,
        },
      },
      exchanges,
      proposals: proposals.map(({ examplesUsed, ...p }) => ({
        ...p,
        exampleExchangeIds: examplesUsed.map((e) => e.exchangeId),
      })),
      jobs,
      modelVersions,
      ledgerEntries,
      uploadedFiles,
    };
    const content = `${JSON.stringify(doc, jsonReplacer, 2)}\n`;
    log.info("data exported", { userId: user.id, exchanges: exchanges.length, bytes: content.length });
    return {
      ok: true,
      text:
        `Here is everything I hold about you, as a JSON file: ${plural(exchanges.length, "exchange")}, ` +
        `${plural(proposals.length, "training offer")}, ${plural(jobs.length, "training")}, ` +
        `${plural(modelVersions.length, "model version")}` +
        (uploadedFiles.length
          ? `, and the ${plural(uploadedFiles.length, "training file")} uploaded for you, byte for byte.`
          : "."),
      file: { name: `assistant-data-${day(now)}.json`, content },
    };
  }

  // ------------------------------------------------------------------------------------------
  // Forget

  /** Unfinished jobs that crashed between "create" and "record the id" may exist at the provider. */
  async function findUnrecordedJobs(userId: string): Promise<PlannedDeletion[]> {
    const provider = deps.provider;
    if (!provider?.findJobByTrainingFile) return [];
    const creating = await db.fineTuneJob.findMany({
      where: { userId, state: "creating", providerJobId: null, providerFileId: { not: null } },
      select: { provider: true, providerFileId: true },
    });
    const found: PlannedDeletion[] = [];
    for (const job of creating) {
      if (job.provider !== provider.name) continue;
      try {
        const info = await provider.findJobByTrainingFile(job.providerFileId!);
        if (info) found.push({ provider: job.provider, kind: "job", resourceId: info.providerJobId });
      } catch (e) {
        log.warn("could not look up a job being created; its files are still deleted", { error: e });
      }
    }
    return found;
  }

  /** The one transaction: plans the provider deletions, anonymises the ledger, deletes every row. */
  async function deleteUserRows(userId: string, externalId: string, hash: string) {
    const extra = await findUnrecordedJobs(userId);
    return db.$transaction(async (tx) => {
      const user = await tx.user.findUnique({ where: { id: userId }, select: { id: true } });
      if (!user) return undefined;
      const jobs = await tx.fineTuneJob.findMany({ where: { userId } });
      const versions = await tx.modelVersion.findMany({ where: { userId } });
      const planned: PlannedDeletion[] = [...extra];
      const plan = (provider: string, kind: DeletionKind, resourceId: string | null) => {
        const seen = planned.some(
          (p) => p.provider === provider && p.kind === kind && p.resourceId === resourceId,
        );
        if (resourceId && !seen) planned.push({ provider, kind, resourceId });
      };
      for (const job of jobs) {
        if (!isFinished(job.state)) plan(job.provider, "job", job.providerJobId);
        // A finished training's files were queued already (lifecycle cleanUpFiles): what is left of
        // them is in DeletionRecord under this hash, and the sweep below finishes it.
        if (!job.filesCleanupQueuedAt) {
          plan(job.provider, "file", job.providerFileId);
          plan(job.provider, "file", job.providerValidationFileId);
        }
        plan(job.provider, "model", job.fineTunedModel);
      }
      for (const v of versions) plan(v.provider, "model", v.modelId);
      const now = clock.now();
      await tx.deletionRecord.createMany({
        data: planned.map((p) => ({ ...p, subjectHash: hash, createdAt: now })),
        skipDuplicates: true,
      });
      // The spend record stays true for the month's totals but nothing in it points back to them.
      const ledger = await budgets.anonymiseUser(tx, userId);
      await tx.adminLimits.updateMany({ where: { updatedBy: externalId }, data: { updatedBy: null } });
      // Explicit order instead of one cascade, so no foreign-key action ever touches a row being deleted.
      await tx.user.update({ where: { id: userId }, data: { activeModelVersionId: null } });
      const exchanges = await tx.exchange.deleteMany({ where: { userId } }); // reactions, example links
      const proposals = await tx.fineTuneProposal.deleteMany({ where: { userId } }); // datasets, jobs
      await tx.fineTuneJob.deleteMany({ where: { userId } });
      const models = await tx.modelVersion.deleteMany({ where: { userId } });
      await tx.user.delete({ where: { id: userId } });
      return {
        exchanges: exchanges.count,
        proposals: proposals.count,
        jobs: jobs.length,
        models: models.count,
        ledger,
        planned: planned.length,
      };
    }, TX_OPTIONS);
  }

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
    const provider = deps.provider;
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
          await db.deletionRecord.update({ where: { id: r.id }, data: { status: "pending", reason } });
      } else {
        try {
          const more = await perform(provider, r);
          if (more.length) {
            await db.deletionRecord.createMany({
              data: more.map((m) => ({ ...m, subjectHash: r.subjectHash, createdAt: now })),
              skipDuplicates: true,
            });
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
          await db.deletionRecord.delete({ where: { id: r.id } });
          deleted++;
          if (r.kind === "job" || r.kind === "file" || r.kind === "model") byKind[r.kind]++;
        } catch (e) {
          const unsupported = e instanceof ProviderError && e.code === "unsupported";
          await db.deletionRecord.update({
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

  async function forget(ref: UserRef, onProgress?: (p: ForgetProgress) => void): Promise<ForgetResult> {
    const hash = subjectHash(ref.externalId);
    const user = await db.user.findUnique({ where: { externalId: ref.externalId }, select: { id: true } });
    let removed: Awaited<ReturnType<typeof deleteUserRows>>;
    if (user) {
      onProgress?.({ phase: "database", done: 0, total: 1 });
      removed = await deleteUserRows(user.id, ref.externalId, hash);
      onProgress?.({ phase: "database", done: 1, total: 1 });
    }
    const hadRecords =
      removed !== undefined || (await db.deletionRecord.count({ where: { subjectHash: hash } })) > 0;
    if (!hadRecords)
      return { ok: true, text: "I hold nothing about you, so there was nothing to delete.", undeleted: [] };

    const sweep = await retryDeletions({ subjectHash: hash, ...(onProgress ? { onProgress } : {}) });
    const left = await db.deletionRecord.findMany({ where: { subjectHash: hash }, orderBy: { id: "asc" } });
    const undeleted = left.map(
      (r) =>
        `${r.provider} ${r.kind} ${r.resourceId}: ${
          r.status === "unsupported"
            ? `cannot be deleted through ${r.provider}'s API; an operator has to delete it (${r.reason ?? "unsupported"})`
            : `not deleted yet, will be retried (${r.reason ?? "not tried yet"})`
        }`,
    );
    const retryable = left.filter((r) => r.status !== "unsupported");
    const manual = left.filter((r) => r.status === "unsupported");
    const parts: string[] = [];
    if (removed) {
      parts.push(
        `Done: I deleted everything I held about you from my database: ${plural(removed.exchanges, "exchange")} ` +
          `(with their embeddings and ratings), ${plural(removed.proposals, "training offer")} with their datasets, ` +
          `${plural(removed.jobs, "training")} and ${plural(removed.models, "model version")}. ` +
          "The admins' spend records were kept with nothing that points to you.",
      );
    } else {
      parts.push("Your data was already deleted from my database; I retried what was left at the provider.");
    }
    if (sweep.deleted) {
      const { job, file, model } = sweep.byKind;
      const removedThere = [
        ...(file ? [plural(file, "uploaded training file")] : []),
        ...(model ? [plural(model, "tuned model")] : []),
      ];
      const done = [
        ...(job ? [`cancelled ${plural(job, "unfinished training")}`] : []),
        ...(removedThere.length ? [`deleted ${removedThere.join(" and ")}`] : []),
      ];
      parts.push(`At the provider I ${done.join(" and ")}.`);
    }
    if (retryable.length)
      parts.push(
        `${plural(retryable.length, "deletion")} at the provider did not go through yet; run /assistant forget again to finish (an operator can retry it too).`,
      );
    if (manual.length)
      parts.push(
        `${plural(manual.length, "item")} cannot be deleted through the provider's API (${[...new Set(manual.map((r) => `${r.provider} ${r.kind}`))].join(", ")}); the operators have a record of it, without your identity, and will remove it by hand.`,
      );
    log.info("forgotten", {
      subject: hash.slice(0, 12),
      exchanges: removed?.exchanges,
      providerDeleted: sweep.deleted,
      providerLeft: retryable.length,
      manual: manual.length,
    });
    return { ok: retryable.length === 0, text: parts.join(" "), undeleted };
  }

  // ------------------------------------------------------------------------------------------
  // Opt out / in

  async function optOut(ref: UserRef): Promise<CommandReply> {
    // Created when unknown, so that even their first message afterwards is not stored.
    const user = await ensureUser(db, ref);
    if (user.optedOut)
      return {
        ok: true,
        text: "You are already opted out: nothing new is stored. /assistant opt-in undoes it.",
      };
    const now = clock.now();
    await db.user.update({
      where: { id: user.id },
      // Their tuned model is not used while they are out (conversation.ts answers with the base model).
      data: { optedOut: true, optedOutAt: now, activeModelVersionId: null },
    });
    // An offer still on screen must not be approvable any more.
    let withdrawn = 0;
    for (const offer of await db.fineTuneProposal.findMany({
      where: { userId: user.id, state: "pending" },
      select: { id: true },
    }))
      if (await transition(db, { proposal: offer.id }, "pending", "cancelled", { decidedAt: now }))
        withdrawn++;
    const { cancelled, stillRunning } = await stopTrainings(user.id);
    const notes = [
      ...(withdrawn ? [`I withdrew your pending training offer.`] : []),
      ...(cancelled ? [`I cancelled ${plural(cancelled, "training")} that had not finished.`] : []),
      ...(stillRunning
        ? [
            `${plural(stillRunning, "training")} could not be stopped at the provider; its model will not answer you while you are opted out.`,
          ]
        : []),
    ];
    log.info("opted out", { userId: user.id, offers: withdrawn, cancelled, stillRunning });
    return {
      ok: true,
      text: [
        "Done: you're opted out. I still answer you, with the base model, but I no longer store your messages, use anything of yours as memory or examples, or offer you a training.",
        "What I stored before is kept but unused: /assistant memory shows it, /assistant forget deletes it, and it is deleted as it gets old.",
        "Opting back in (/assistant opt-in) starts from zero: what I stored before is deleted then.",
        ...notes,
      ].join("\n"),
    };
  }

  /** Cancels the person's unfinished trainings (opt-out). Running ones only when the provider agrees. */
  async function stopTrainings(userId: string): Promise<{ cancelled: number; stillRunning: number }> {
    const jobs = await db.fineTuneJob.findMany({
      where: { userId, state: { in: [...UNFINISHED_JOB_STATES] } },
      select: { id: true, state: true, provider: true, providerJobId: true, proposalId: true },
    });
    let cancelled = 0;
    let stillRunning = 0;
    for (const job of jobs) {
      let from: JobState | undefined;
      if (isIn(NOT_LAUNCHED_JOB_STATES, job.state)) from = job.state;
      else if (job.state === "running" && job.providerJobId && deps.provider?.name === job.provider) {
        try {
          await deps.provider.cancelJob(job.providerJobId);
          from = "running";
        } catch (e) {
          log.warn("could not cancel a training at the provider", { jobId: job.id, error: e });
        }
      }
      if (!from) {
        stillRunning++;
        continue;
      }
      // Conditional: a launch step or the monitor moving it on in the meantime wins, and then says so.
      const stopped = await transition(db, { job: job.id }, from, "cancelled", {
        error: "cancelled: the user opted out",
        finishedAt: clock.now(),
      });
      if (stopped) {
        await budgets.releaseTraining({ proposalId: job.proposalId });
        cancelled++;
      } else stillRunning++;
    }
    return { cancelled, stillRunning };
  }

  async function optIn(ref: UserRef): Promise<CommandReply> {
    const user = await findUser(ref);
    if (!user?.optedOut)
      return {
        ok: true,
        text: "You're not opted out: I remember and learn from our conversations. /assistant opt-out stops that.",
      };
    const result = await db.$transaction(async (tx) => {
      const exchanges = await tx.exchange.deleteMany({ where: { userId: user.id } });
      // Offers that never trained are just copies of those exchanges; trained ones are the record of
      // what a model was built from (forget removes them with the models).
      const offers = await tx.fineTuneProposal.deleteMany({ where: { userId: user.id, job: { is: null } } });
      await tx.user.update({
        where: { id: user.id },
        data: {
          optedOut: false,
          optedOutAt: null,
          activeModelVersionId: null,
          ...ZERO_COUNTERS,
        },
      });
      return { exchanges: exchanges.count, offers: offers.count };
    }, TX_OPTIONS);
    const versions = await db.modelVersion.count({ where: { userId: user.id } });
    log.info("opted in", { userId: user.id, ...result });
    return {
      ok: true,
      text: [
        "Welcome back: you're opted in again, starting fresh.",
        `I deleted the ${plural(result.exchanges, "exchange")} stored before${result.offers ? ` and ${plural(result.offers, "old training offer")}` : ""}; from your next message on I remember and learn again.`,
        ...(versions
          ? [
              `The base model answers you for now. Your ${plural(versions, "earlier model version")} ${versions === 1 ? "is" : "are"} still listed in /assistant models (/assistant rollback can bring one back; /assistant forget deletes them).`,
            ]
          : []),
      ].join("\n"),
    };
  }

  return { memory, exportData, forget, optOut, optIn, retryDeletions };
}
