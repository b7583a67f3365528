// The LoRA adapter registry of a vLLM server started with `--enable-lora` and
// VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, with vLLM's own rules and wording
// (OpenAIServingModels in vllm/entrypoints/openai/models/serving.py @ 4fe45004):
// * load: both `lora_name` and `lora_path` non-empty, else 400 InvalidUserInput; an adapter already
//   loaded under that name is a 400 unless `load_inplace` (then it is replaced, keeping its id); an
//   engine failure mentioning "No adapter found" is a 404 NotFoundError, any other a 400
//   BadRequestError (e.g. "LoRA rank 64 is greater than max_lora_rank 16.", from the LoRA loader);
// * unload: a 404 NotFoundError "The lora adapter '<name>' cannot be found." for an unknown name;
// * /v1/models: base cards first, then one card per adapter with `parent` = the base model.
// The API server keeps every loaded adapter; `--max-loras` / `--max-cpu-loras` bound the GPU batch
// and the CPU cache, which evict and reload transparently, so they never fail a request here either.
import type { VllmErrors } from "./errors.ts";

/** An adapter directory (or Hugging Face repo id) the server could load. */
export interface AdapterSource {
  /** `r` of its adapter_config.json. */
  rank: number;
}

export interface LoadedAdapter {
  name: string;
  path: string;
  intId: number;
  baseModelName: string;
  loadedAt: number;
}

export class VllmAdapters {
  readonly loaded = new Map<string, LoadedAdapter>();
  readonly sources = new Map<string, AdapterSource>();
  private nextId = 1;

  constructor(
    private readonly deps: {
      errors: VllmErrors;
      baseModelName: string;
      maxLoraRank: number;
      now: () => number;
      /** Reads an adapter directory on this machine's disk, as vLLM reads a local lora_path. */
      fromDisk?: (path: string) => AdapterSource | undefined;
    },
  ) {}

  load(body: Record<string, unknown>): string {
    const name = typeof body.lora_name === "string" ? body.lora_name : "";
    const path = typeof body.lora_path === "string" ? body.lora_path : "";
    const errors: VllmErrors = this.deps.errors;
    if (!name || !path)
      errors.fail(400, "Both 'lora_name' and 'lora_path' must be provided.", "InvalidUserInput");
    const inplace = body.load_inplace === true;
    const existing = this.loaded.get(name);
    if (existing && !inplace)
      errors.fail(
        400,
        `The lora adapter '${name}' has already been loaded. If you want to load the adapter in place, set 'load_inplace' to True.`,
        "InvalidUserInput",
      );
    const source = this.sources.get(path) ?? this.deps.fromDisk?.(path);
    if (!source)
      errors.fail(404, `Loading lora ${name} failed: No adapter found for ${path}`, "NotFoundError");
    if (source.rank > this.deps.maxLoraRank)
      errors.fail(
        400,
        `LoRA rank ${source.rank} is greater than max_lora_rank ${this.deps.maxLoraRank}.`,
        "BadRequestError",
      );
    this.loaded.set(name, {
      name,
      path,
      intId: existing?.intId ?? this.nextId++,
      baseModelName: this.deps.baseModelName,
      loadedAt: this.deps.now(),
    });
    return `Success: LoRA adapter '${name}' added successfully.`;
  }

  unload(body: Record<string, unknown>): string {
    const name = typeof body.lora_name === "string" ? body.lora_name : "";
    if (!name)
      this.deps.errors.fail(
        400,
        "'lora_name' needs to be provided to unload a LoRA adapter.",
        "InvalidUserInput",
      );
    if (!this.loaded.has(name))
      this.deps.errors.fail(404, `The lora adapter '${name}' cannot be found.`, "NotFoundError");
    this.loaded.delete(name);
    return `Success: LoRA adapter '${name}' removed successfully.`;
  }
}
