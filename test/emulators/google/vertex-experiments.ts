// Where a Vertex tuning job's metrics live: the job names a Vertex AI Experiment (a Metadata
// Context, `TuningJob.experiment`); the experiment's metadata names its backing TensorBoard
// (`backing_tensorboard_resource`); the TensorBoard holds an experiment of the same id, with runs,
// each run scalar time series such as `/train_total_loss` and `/eval_total_loss` (the latter only
// when the job had a validation dataset). This is the chain the Vertex AI SDK for Python walks
// (`Experiment.get_backing_tensorboard_resource`, `TensorboardRun.read_time_series_data`), served
// over the REST paths of aiplatform v1:
//   GET /v1/{context}                                  -> Context {name, schemaTitle, metadata}
//   GET /v1/{tensorboard}/experiments/{id}/runs        -> {tensorboardRuns: [...]}
//   GET /v1/{run}/timeSeries                           -> {tensorboardTimeSeries: [...]}
//   GET /v1/{run}/timeSeries/{id}:read                 -> {timeSeriesData: {values: [{step, scalar}]}}
// Int64 fields (`step`) are JSON strings, as proto3 JSON sends them.
import { googleFail } from "./errors.ts";

export interface TimeSeriesPoint {
  step: string;
  wallTime: string;
  scalar: { value: number };
}

interface Series {
  name: string;
  displayName: string;
  points: TimeSeriesPoint[];
}

interface TuningExperiment {
  context: { name: string; displayName: string; schemaTitle: string; metadata: Record<string, unknown> };
  runs: Array<{ name: string; displayName: string; series: Series[] }>;
}

/**
 * The emulator's losses: they fall with each epoch, so of two trainings on similar data the one
 * with fewer epochs ends with the higher validation loss (as the OpenAI emulator's do).
 */
export function emulatedLosses(epoch: number): { train: number; eval: number } {
  return { train: 0.4 + 1.6 / (epoch + 1), eval: 0.6 + 1.4 / (epoch + 1) };
}

export class VertexExperiments {
  /** Keyed by the experiment context's resource name. */
  private readonly experiments = new Map<string, TuningExperiment>();
  private counter = 0;

  constructor(private readonly projectNumber: string) {}

  /**
   * A finished job's experiment: one run with the training loss after every epoch and, when the job
   * had a validation dataset, the validation loss too. Returns the context's name (`experiment`).
   */
  record(x: {
    jobId: string;
    location: string;
    epochs: number;
    stepsPerEpoch: number;
    validation: boolean;
    startedAt: number;
  }): string {
    const project = `projects/${this.projectNumber}/locations/${x.location}`;
    const experimentId = `tuning-experiment-${x.jobId}`;
    const tensorboard = `${project}/tensorboards/7005158215318700032`;
    const run = `${tensorboard}/experiments/${experimentId}/runs/tuning-job-${x.jobId}`;
    const points = (pick: (epoch: number) => number): TimeSeriesPoint[] =>
      Array.from({ length: x.epochs }, (_, i) => ({
        step: String((i + 1) * x.stepsPerEpoch),
        wallTime: new Date(x.startedAt + (i + 1) * 1000).toISOString(),
        scalar: { value: pick(i + 1) },
      }));
    const series: Series[] = [
      {
        name: `${run}/timeSeries/${this.nextId()}`,
        displayName: "/train_total_loss",
        points: points((e) => emulatedLosses(e).train),
      },
    ];
    if (x.validation)
      series.push({
        name: `${run}/timeSeries/${this.nextId()}`,
        displayName: "/eval_total_loss",
        points: points((e) => emulatedLosses(e).eval),
      });
    const name = `${project}/metadataStores/default/contexts/${experimentId}`;
    this.experiments.set(name, {
      context: {
        name,
        displayName: experimentId,
        schemaTitle: "system.Experiment",
        metadata: { backing_tensorboard_resource: tensorboard, experiment_deleted: false },
      },
      runs: [{ name: run, displayName: `tuning-job-${x.jobId}`, series }],
    });
    return name;
  }

  /** Forgets an experiment, as deleting it in the console does. */
  delete(name: string): void {
    this.experiments.delete(name);
  }

  /** Answers a v1 resource path under `projects/...`, or undefined when it is not an experiments path. */
  route(resource: string[], method: string | undefined): unknown {
    const path = resource.join("/");
    if (resource[4] === "metadataStores" && resource[6] === "contexts" && resource.length === 8 && !method) {
      const experiment = this.experiments.get(path);
      if (!experiment) googleFail(404, `Context ${path} not found.`, "NOT_FOUND");
      return experiment.context;
    }
    if (resource[4] !== "tensorboards") return undefined;
    // .../tensorboards/{tb}/experiments/{exp}/runs[/{run}/timeSeries[/{ts}:read]]
    if (resource.length === 9 && resource[8] === "runs") {
      const experiment = this.byTensorboardExperiment(resource.slice(0, 8).join("/"));
      return { tensorboardRuns: experiment.runs.map((r) => ({ name: r.name, displayName: r.displayName })) };
    }
    if (resource.length === 11 && resource[10] === "timeSeries") {
      const run = this.run(resource.slice(0, 10).join("/"));
      return {
        tensorboardTimeSeries: run.series.map((s) => ({
          name: s.name,
          displayName: s.displayName,
          valueType: "SCALAR",
          pluginName: "scalars",
        })),
      };
    }
    if (resource.length === 12 && resource[10] === "timeSeries" && method === "read") {
      const series = this.run(resource.slice(0, 10).join("/")).series.find((s) => s.name === path);
      if (!series) googleFail(404, `TensorboardTimeSeries ${path} not found.`, "NOT_FOUND");
      return {
        timeSeriesData: {
          tensorboardTimeSeriesId: resource[11],
          valueType: "SCALAR",
          values: series.points,
        },
      };
    }
    return undefined;
  }

  private byTensorboardExperiment(name: string): TuningExperiment {
    const id = name.split("/").at(-1);
    const found = [...this.experiments.values()].find(
      (e) =>
        e.context.displayName === id &&
        e.context.metadata.backing_tensorboard_resource === name.split("/experiments/")[0],
    );
    if (!found) googleFail(404, `TensorboardExperiment ${name} not found.`, "NOT_FOUND");
    return found;
  }

  private run(name: string): TuningExperiment["runs"][number] {
    for (const e of this.experiments.values()) {
      const run = e.runs.find((r) => r.name === name);
      if (run) return run;
    }
    googleFail(404, `TensorboardRun ${name} not found.`, "NOT_FOUND");
  }

  private nextId(): string {
    this.counter += 1;
    return String(3_000_000_000_000_000_000n + BigInt(this.counter));
  }
}
