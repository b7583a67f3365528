// A Vertex tuning job's validation loss. The job resource carries none: it names its Vertex AI
// Experiment (`TuningJob.experiment`, a Metadata Context), whose metadata names the TensorBoard that
// holds the job's scalar time series; the validation loss is the series `/eval_total_loss` (Vertex's
// documented tuning metric, written when the job had a validation dataset). This walks the same
// chain as the Vertex AI SDK for Python (`Experiment.get_backing_tensorboard_resource`, then
// `TensorboardRun.read_time_series_data`), over aiplatform v1 REST, in four to five GETs:
//   context -> metadata.backing_tensorboard_resource
//   {tensorboard}/experiments/{experiment id}/runs
//   {run}/timeSeries            (the series whose displayName is /eval_total_loss)
//   {series}:read               (the point with the highest step is the loss at the end)
// No SDK for this exists in JavaScript short of @google-cloud/aiplatform's gRPC clients (tens of MB
// of generated code for three list calls and one read), so it is plain fetch with the same token.

/** The metric Vertex writes for the validation dataset's loss. */
export const VERTEX_EVAL_LOSS_SERIES = "eval_total_loss";
/** Bound on pages read per list, against a service (or an emulator) that never stops paging. */
const MAX_PAGES = 20;

export type VertexGet = (path: string, query?: Record<string, string>) => Promise<unknown>;

/**
 * The last `/eval_total_loss` of the experiment's runs, or undefined when the experiment has no
 * TensorBoard or no such series. Errors (permissions, a deleted experiment) are the caller's.
 */
export async function readVertexValidationLoss(
  get: VertexGet,
  experiment: string,
): Promise<number | undefined> {
  const context = (await get(experiment)) as { metadata?: Record<string, unknown> };
  const tensorboard = context.metadata?.backing_tensorboard_resource;
  if (typeof tensorboard !== "string" || !tensorboard) return undefined;
  const experimentId = experiment.split("/").at(-1)!;
  const runs = await listAll(get, `${tensorboard}/experiments/${experimentId}/runs`, "tensorboardRuns");
  let best: { step: number; value: number } | undefined;
  for (const run of runs) {
    if (typeof run.name !== "string") continue;
    const series = await listAll(get, `${run.name}/timeSeries`, "tensorboardTimeSeries");
    const loss = series.find(
      (s) =>
        typeof s.displayName === "string" && s.displayName.replace(/^\/+/, "") === VERTEX_EVAL_LOSS_SERIES,
    );
    if (typeof loss?.name !== "string") continue;
    const data = (await get(`${loss.name}:read`)) as {
      timeSeriesData?: { values?: Array<{ step?: unknown; scalar?: { value?: unknown } }> };
    };
    for (const point of data.timeSeriesData?.values ?? []) {
      const step = Number(point.step ?? 0);
      const value = point.scalar?.value;
      if (typeof value !== "number" || !Number.isFinite(value) || !Number.isFinite(step)) continue;
      if (!best || step >= best.step) best = { step, value };
    }
  }
  return best?.value;
}

async function listAll(get: VertexGet, path: string, field: string): Promise<Array<Record<string, unknown>>> {
  const items: Array<Record<string, unknown>> = [];
  let pageToken: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const body = (await get(path, pageToken ? { pageToken } : {})) as Record<string, unknown>;
    const list = body[field];
    if (Array.isArray(list)) items.push(...(list as Array<Record<string, unknown>>));
    pageToken = typeof body.nextPageToken === "string" && body.nextPageToken ? body.nextPageToken : undefined;
    if (!pageToken) break;
  }
  return items;
}
