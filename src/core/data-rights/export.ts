// `/assistant export`: everything the bot holds about the caller as one JSON document, DMed as a
// file: their exchanges with ratings and reactions, offers with their datasets (byte for byte the
// files uploaded for their trainings), trainings, model versions and what they cost.
import { createHash } from "node:crypto";
import { datasetFileName } from "../fine-tune/launch.ts";
import { dataRightsNotices } from "../messages.ts";
import { type Outcome, outcome } from "../outcomes.ts";
import type { UserRef } from "../ports.ts";
import type { RightsContext } from "./context.ts";

export const EXPORT_FORMAT = "learning-assistant/export@1";

export type ExportResult = Outcome & {
  /** The JSON document to DM; absent when the bot holds nothing about the person. */
  file?: { name: string; content: string };
};

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

export function createExport(ctx: RightsContext) {
  const { db, clock, log } = ctx;

  /** The document, and the text of the DM that carries it. */
  async function exportData(ref: UserRef): Promise<ExportResult> {
    const user = await db.user.findUnique({ where: { externalId: ref.externalId } });
    if (!user) return outcome("export.nothing");
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
    // The launch uploads the proposal's JSONL verbatim (fine-tune/launch.ts), so these are the exact files.
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
                filename: datasetFileName(job.id, role),
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
      notes: dataRightsNotices.exportNotes,
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
      ...outcome("export.ready", {
        exchanges: exchanges.length,
        proposals: proposals.length,
        jobs: jobs.length,
        modelVersions: modelVersions.length,
        uploadedFiles: uploadedFiles.length,
      }),
      file: { name: dataRightsNotices.exportFileName(now), content },
    };
  }

  /** The command: the document goes by DM; the answer says whether it went. */
  async function sendExport(ref: UserRef): Promise<Outcome> {
    const result = await exportData(ref);
    if (!result.file) return result;
    const notifier = ctx.notifiers?.[ref.platform];
    if (!notifier) return outcome("export.no_files_here");
    try {
      await notifier.sendFile(ref.externalId, result.text, result.file);
    } catch (e) {
      log.warn("export DM failed", { error: e });
      return outcome("export.dm_failed");
    }
    return outcome("export.sent");
  }

  return { exportData, sendExport };
}
