// The OpenAI emulator's model catalogue: the chat and embedding models it serves, the snapshots
// fine-tuning reports for tunable names, models added by fine-tunes, shutdown dates, and the
// /v1/models routes.
import type { EmuResponse } from "../http-recorder.ts";
import { openaiFail } from "./errors.ts";

export interface OpenAIModel {
  id: string;
  kind: "chat" | "embedding";
  created: number;
  owned_by: string;
  /** ISO date (as given to setShutdownDate); from then on the model is no longer served. */
  shutdown_date?: string;
  /** Native width of embedding models. */
  dimensions?: number;
  /** Whether `dimensions` may shorten the vector (text-embedding-3-*). */
  shortenable?: boolean;
  fineTunedFrom?: string;
}

export const BASE_CREATED = 1_700_000_000;
const CHAT_MODELS = [
  "gpt-4.1",
  "gpt-4.1-2025-04-14",
  "gpt-4.1-mini",
  "gpt-4.1-mini-2025-04-14",
  "gpt-4.1-nano",
  "gpt-4.1-nano-2025-04-14",
  "gpt-4o",
  "gpt-4o-2024-08-06",
  "gpt-4o-2024-11-20",
  "gpt-4o-mini",
  "gpt-4o-mini-2024-07-18",
  "gpt-3.5-turbo",
  "gpt-3.5-turbo-0125",
  "gpt-5",
  "gpt-5-mini",
  "gpt-5-nano",
];
const EMBEDDING_MODELS: Array<[string, number, boolean]> = [
  ["text-embedding-3-small", 1536, true],
  ["text-embedding-3-large", 3072, true],
  ["text-embedding-ada-002", 1536, false],
];
/** Tunable names -> the snapshot a job reports. */
export const TUNABLE_MODELS: Record<string, string> = {
  "gpt-4.1": "gpt-4.1-2025-04-14",
  "gpt-4.1-2025-04-14": "gpt-4.1-2025-04-14",
  "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
  "gpt-4.1-mini-2025-04-14": "gpt-4.1-mini-2025-04-14",
  "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
  "gpt-4.1-nano-2025-04-14": "gpt-4.1-nano-2025-04-14",
  "gpt-4o": "gpt-4o-2024-08-06",
  "gpt-4o-2024-08-06": "gpt-4o-2024-08-06",
  "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
  "gpt-4o-mini-2024-07-18": "gpt-4o-mini-2024-07-18",
  "gpt-3.5-turbo-0125": "gpt-3.5-turbo-0125",
};

export class OpenAIModels {
  readonly all = new Map<string, OpenAIModel>();

  /** `now`: the emulator clock's milliseconds (a model past its shutdown date is not served). */
  constructor(private readonly now: () => number) {
    for (const id of CHAT_MODELS) this.add({ id });
    for (const [id, dimensions, shortenable] of EMBEDDING_MODELS)
      this.add({ id, kind: "embedding", dimensions, shortenable });
  }

  add(model: Partial<OpenAIModel> & { id: string }): void {
    this.all.set(model.id, { kind: "chat", created: BASE_CREATED, owned_by: "system", ...model });
  }

  /** The model a chat or embeddings request names, or OpenAI's 404 when it is not served. */
  served(id: string, kind: OpenAIModel["kind"]): OpenAIModel {
    const model = this.all.get(id);
    const retired = model?.shutdown_date !== undefined && Date.parse(model.shutdown_date) <= this.now();
    if (!model || model.kind !== kind || retired)
      openaiFail(404, `The model \`${id}\` does not exist or you do not have access to it.`, {
        code: "model_not_found",
      });
    return model;
  }

  setShutdownDate(modelId: string, isoDate: string | null): void {
    const model = this.all.get(modelId);
    if (!model) throw new Error(`unknown model ${modelId}`);
    if (isoDate === null) delete model.shutdown_date;
    else model.shutdown_date = isoDate;
  }

  /** GET /v1/models, GET and DELETE /v1/models/{id}; undefined for any other route. */
  route(route: string, id: string | undefined): EmuResponse | undefined {
    switch (route) {
      case "GET models":
        return { json: { object: "list", data: [...this.all.values()].map(modelJson) } };
      case "GET models/:id":
        return { json: modelJson(this.known(id!)) };
      case "DELETE models/:id": {
        const model = this.known(id!);
        if (!model.fineTunedFrom) openaiFail(403, "You have insufficient permissions for this operation.");
        this.all.delete(id!);
        return { json: { id, object: "model", deleted: true } };
      }
    }
    return undefined;
  }

  private known(id: string): OpenAIModel {
    const model = this.all.get(id);
    if (!model)
      openaiFail(404, `The model '${id}' does not exist`, { param: "model", code: "model_not_found" });
    return model;
  }
}

function modelJson(model: OpenAIModel) {
  return {
    id: model.id,
    object: "model",
    created: model.created,
    owned_by: model.owned_by,
    ...(model.shutdown_date !== undefined ? { shutdown_date: model.shutdown_date } : {}),
  };
}
