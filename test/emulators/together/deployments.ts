// Together's v2 "Dedicated Model Inference" adapters: LoRA adapters attached to a deployment that was
// created with `enable_lora`, as the TypeScript SDK (together-ai 0.52, `beta/endpoints/adapters.ts`)
// speaks to them:
//   POST   /v2/projects/{p}/endpoints/{e}/deployments/{d}/adapters        {adapterModelId, adapterRevisionId?, force?}
//   GET    /v2/projects/{p}/endpoints/{e}/deployments/{d}/adapters        {data, next_cursor}
//   GET    /v2/projects/{p}/endpoints/{e}/deployments/{d}/adapters/{id}
//   DELETE /v2/projects/{p}/endpoints/{e}/deployments/{d}/adapters/{id}?etag=...   -> {}
// An attached adapter reports `perCluster[].state` ADAPTER_LOAD_STATE_PENDING -> LOADING -> READY
// on the emulator clock. Not documented anywhere the research could read, so the emulator's choices:
// the v2 error body (the v1 `ErrorData` shape is used), the status codes for "already attached"
// (409), "at capacity" (409 without `force`) and a stale etag (409), and the inference `model`
// string of an attached adapter (the adapter model's name, as v1 multi-LoRA routes "the adapter
// model name" to its endpoint).
import type { ManualClock } from "../http-recorder.ts";
import { togetherFail } from "./errors.ts";

export type AdapterLoadState =
  | "ADAPTER_LOAD_STATE_PENDING"
  | "ADAPTER_LOAD_STATE_LOADING"
  | "ADAPTER_LOAD_STATE_READY"
  | "ADAPTER_LOAD_STATE_REMOVING"
  | "ADAPTER_LOAD_STATE_FAILED";

export interface Deployment {
  projectId: string;
  endpointId: string;
  deploymentId: string;
  /** The inference `model` string of the endpoint: `<project_slug>/<endpoint_name>`. */
  endpointName: string;
  baseModel: string;
  enableLora: boolean;
  maxAdapters: number;
  adapters: AttachedAdapter[];
}

export interface AttachedAdapter {
  adapterModelId: string;
  revisionId: string;
  etag: string;
  state: AdapterLoadState;
  loadedAt?: string;
  message?: string;
}

export interface AdapterModel {
  /** `ml_...`: the adapter model id (a fine-tune's `adapter_object_id`). */
  id: string;
  projectId: string;
  /** The name inference requests use for it (a fine-tune's `adapter_object_name`). */
  name: string;
  baseModel: string;
  /** Fails to load on every cluster (a broken upload). */
  broken?: boolean;
}

export interface AdapterTimings {
  pendingMs: number;
  loadingMs: number;
}

export const DEFAULT_ADAPTER_TIMINGS: AdapterTimings = { pendingMs: 2_000, loadingMs: 8_000 };

const CLUSTER_ID = "us-east-1a";

export class TogetherDeployments {
  readonly deployments: Deployment[] = [];
  readonly adapterModels = new Map<string, AdapterModel>();

  constructor(
    private readonly deps: { clock: ManualClock; newHex: (n: number) => string; timings: AdapterTimings },
  ) {}

  addDeployment(d: Omit<Deployment, "adapters" | "maxAdapters"> & { maxAdapters?: number }): Deployment {
    const deployment: Deployment = { maxAdapters: 8, ...d, adapters: [] };
    this.deployments.push(deployment);
    return deployment;
  }

  addAdapterModel(model: AdapterModel): void {
    this.adapterModels.set(model.id, model);
  }

  /** The attached, READY adapter (and its deployment) that answers inference for `modelName`. */
  servingAdapter(modelName: string): { deployment: Deployment; model: AdapterModel } | undefined {
    for (const deployment of this.deployments)
      for (const adapter of deployment.adapters) {
        const model = this.adapterModels.get(adapter.adapterModelId);
        if (model?.name === modelName && adapter.state === "ADAPTER_LOAD_STATE_READY")
          return { deployment, model };
      }
    return undefined;
  }

  /** Routes `/v2/projects/...` requests; undefined when the path is not an adapters route. */
  route(method: string, segments: string[], body: unknown, query: Record<string, string>) {
    // projects/{p}/endpoints/{e}/deployments/{d}/adapters[/{id}]
    const [projects, p, endpoints, e, deployments, d, adapters, id, ...rest] = segments;
    if (
      projects !== "projects" ||
      endpoints !== "endpoints" ||
      deployments !== "deployments" ||
      adapters !== "adapters" ||
      rest.length
    )
      return undefined;
    const deployment = this.deployment(p!, e!, d!);
    if (method === "POST" && !id) return this.attach(deployment, body);
    if (method === "GET" && !id)
      return { data: deployment.adapters.map((a) => this.json(deployment, a)), next_cursor: "" };
    if (method === "GET" && id) return this.json(deployment, this.attached(deployment, id));
    if (method === "DELETE" && id) return this.detach(deployment, id, query.etag);
    return undefined;
  }

  private attach(deployment: Deployment, raw: unknown) {
    const body = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
    const adapterModelId = body.adapterModelId;
    if (typeof adapterModelId !== "string" || adapterModelId === "")
      togetherFail(400, "adapterModelId is required", { param: "adapterModelId" });
    if (!deployment.enableLora)
      togetherFail(
        400,
        `Deployment ${deployment.deploymentId} was created without enable_lora; enabling LoRA needs a redeploy.`,
        { code: "failed_precondition" },
      );
    const model = this.adapterModels.get(adapterModelId);
    if (!model || model.projectId !== deployment.projectId)
      togetherFail(404, `Adapter model ${adapterModelId} not found in project ${deployment.projectId}`, {
        code: "not_found",
        param: "adapterModelId",
      });
    if (model.baseModel !== deployment.baseModel)
      togetherFail(
        400,
        `Adapter model ${adapterModelId} was trained on ${model.baseModel}; the deployment serves ${deployment.baseModel}.`,
        { code: "invalid_argument", param: "adapterModelId" },
      );
    if (deployment.adapters.some((a) => a.adapterModelId === adapterModelId))
      togetherFail(
        409,
        `Adapter ${adapterModelId} is already attached to deployment ${deployment.deploymentId}`,
        {
          code: "already_exists",
        },
      );
    if (deployment.adapters.length >= deployment.maxAdapters) {
      if (body.force !== true)
        togetherFail(
          409,
          `Deployment ${deployment.deploymentId} is at adapter capacity (${deployment.maxAdapters}); pass force to evict the oldest.`,
          { code: "resource_exhausted" },
        );
      deployment.adapters.shift();
    }
    const adapter: AttachedAdapter = {
      adapterModelId,
      revisionId:
        typeof body.adapterRevisionId === "string" ? body.adapterRevisionId : `rv_${this.deps.newHex(16)}`,
      etag: this.etag(),
      state: "ADAPTER_LOAD_STATE_PENDING",
    };
    deployment.adapters.push(adapter);
    const still = () => deployment.adapters.includes(adapter);
    this.deps.clock.setTimeout(() => {
      if (!still()) return;
      adapter.state = "ADAPTER_LOAD_STATE_LOADING";
      this.deps.clock.setTimeout(() => {
        if (!still()) return;
        if (model.broken) {
          adapter.state = "ADAPTER_LOAD_STATE_FAILED";
          adapter.message = "adapter weights could not be loaded: adapter_model.safetensors is missing";
        } else {
          adapter.state = "ADAPTER_LOAD_STATE_READY";
          adapter.loadedAt = new Date(this.deps.clock.now()).toISOString();
        }
      }, this.deps.timings.loadingMs);
    }, this.deps.timings.pendingMs);
    return this.json(deployment, adapter);
  }

  private detach(deployment: Deployment, id: string, etag: string | undefined) {
    const adapter = this.attached(deployment, id);
    if (!etag) togetherFail(400, "etag is required", { param: "etag" });
    if (etag !== adapter.etag)
      togetherFail(409, `The adapter changed since etag ${etag} was read; read it again.`, {
        code: "aborted",
      });
    deployment.adapters.splice(deployment.adapters.indexOf(adapter), 1);
    return {};
  }

  private deployment(p: string, e: string, d: string): Deployment {
    const found = this.deployments.find(
      (x) => x.projectId === p && x.endpointId === e && x.deploymentId === d,
    );
    if (!found) togetherFail(404, `Deployment ${d} not found`, { code: "not_found" });
    return found;
  }

  private attached(deployment: Deployment, id: string): AttachedAdapter {
    const adapter = deployment.adapters.find((a) => a.adapterModelId === id);
    if (!adapter)
      togetherFail(404, `Adapter ${id} is not attached to deployment ${deployment.deploymentId}`, {
        code: "not_found",
      });
    return adapter;
  }

  private etag(): string {
    return `W/"${this.deps.newHex(12)}"`;
  }

  private json(deployment: Deployment, a: AttachedAdapter) {
    const ready = a.state === "ADAPTER_LOAD_STATE_READY";
    const failed = a.state === "ADAPTER_LOAD_STATE_FAILED";
    return {
      adapterModelId: a.adapterModelId,
      adapterModel: `projects/${deployment.projectId}/models/${a.adapterModelId}`,
      desiredRevisionId: a.revisionId,
      desiredRevision: `projects/${deployment.projectId}/models/${a.adapterModelId}/revisions/${a.revisionId}`,
      etag: a.etag,
      perCluster: [
        {
          adapterModelId: a.adapterModelId,
          clusterId: CLUSTER_ID,
          state: a.state,
          totalPodCount: 1,
          readyPodCount: ready ? 1 : 0,
          failedPodCount: failed ? 1 : 0,
          ...(a.loadedAt ? { loadedAt: a.loadedAt, realizedRevisionId: a.revisionId } : {}),
          ...(a.message ? { message: a.message, reason: "ADAPTER_LOAD_FAILED" } : {}),
          updatedAt: new Date(this.deps.clock.now()).toISOString(),
        },
      ],
    };
  }
}
