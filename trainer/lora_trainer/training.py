"""Trains one LoRA adapter with PEFT and TRL's supervised trainer (SFTTrainer) on Transformers, and
saves it as PEFT writes it: adapter_config.json + adapter_model.safetensors, the format vLLM loads
with --enable-lora. Knows nothing of the queue: the worker passes in where progress goes and when
to stop (cancellation, a lost lease, shutdown), checked after every optimizer step."""

import gc
import math
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .dataset import Example
from .errors import JobInputError
from .hyperparameters import Hyperparameters


@dataclass
class ProgressBoard:
    """The latest progress, written by the training thread and read by the heartbeat thread."""

    step: int = 0
    total_steps: int | None = None
    epoch: float | None = None
    loss: float | None = None
    eval_loss: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, **values: Any) -> None:
        with self._lock:
            for name, value in values.items():
                setattr(self, name, value)

    def snapshot(self) -> dict[str, Any]:
        """As stored in TrainerJob.progress."""
        with self._lock:
            return {
                "step": self.step,
                "totalSteps": self.total_steps,
                "epoch": None if self.epoch is None else round(self.epoch, 4),
                "loss": self.loss,
                "evalLoss": self.eval_loss,
            }


@dataclass(frozen=True)
class TrainingOutcome:
    """`completed`: every step ran and the adapter is in the output directory. Otherwise training
    stopped early because `should_stop` said so, and nothing was saved."""

    completed: bool


def train_adapter(
    base_model: str,
    train: list[Example],
    validation: list[Example] | None,
    hp: Hyperparameters,
    output_dir: Path,
    *,
    progress: ProgressBoard,
    should_stop: Callable[[], bool],
    step_delay_seconds: float = 0.0,
) -> TrainingOutcome:
    # Imported here, not at module level: they take seconds to import, and the queue and dataset
    # code (and their tests) do not need them.
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    if not getattr(tokenizer, "chat_template", None):
        raise JobInputError(
            f"the base model {base_model} has no chat template, so its chat examples cannot be formatted: "
            "use an instruction-tuned (chat) model"
        )
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    fp16 = cuda and not bf16
    dtype = torch.bfloat16 if bf16 else torch.float16 if fp16 else torch.float32
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=dtype)

    steps_per_epoch = math.ceil(len(train) / (hp.batchSize * hp.gradientAccumulationSteps))
    total_steps = hp.maxSteps or steps_per_epoch * hp.epochs
    progress.update(step=0, total_steps=total_steps, epoch=0.0, loss=None, eval_loss=None)
    if should_stop():
        return TrainingOutcome(completed=False)

    class Reporter(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            progress.update(step=state.global_step, epoch=state.epoch)
            if step_delay_seconds:
                time.sleep(step_delay_seconds)
            if should_stop():
                control.should_training_stop = True
            return control

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" in logs:
                progress.update(loss=float(logs["loss"]))
            if "eval_loss" in logs:
                progress.update(eval_loss=float(logs["eval_loss"]))

    with tempfile.TemporaryDirectory(prefix="lora-trainer-") as scratch:
        args = SFTConfig(
            output_dir=scratch,
            num_train_epochs=hp.epochs,
            max_steps=hp.maxSteps or -1,
            per_device_train_batch_size=hp.batchSize,
            per_device_eval_batch_size=hp.batchSize,
            gradient_accumulation_steps=hp.gradientAccumulationSteps,
            learning_rate=hp.learningRate,
            max_length=hp.maxLength,
            # Loss on the reply only (the completion), as OpenAI trains on the assistant's messages.
            completion_only_loss=True,
            packing=False,
            logging_strategy="steps",
            logging_steps=1,
            eval_strategy="steps" if validation else "no",
            eval_steps=hp.evalSteps or max(1, total_steps // 5),
            # The adapter is saved once, at the end, by the worker's rules (atomically, fenced).
            save_strategy="no",
            report_to="none",
            disable_tqdm=True,
            seed=hp.seed,
            data_seed=hp.seed,
            bf16=bf16,
            fp16=fp16,
            use_cpu=not cuda,
            # Trades compute for memory on a GPU; on a CPU memory is not what runs out.
            activation_checkpointing=cuda,
        )
        lora = LoraConfig(
            r=hp.loraR,
            lora_alpha=hp.loraAlpha,
            lora_dropout=hp.loraDropout,
            target_modules=_target_modules(model, hp, torch),
            bias="none",
            task_type="CAUSAL_LM",
        )
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(train),
            eval_dataset=Dataset.from_list(validation) if validation else None,
            processing_class=tokenizer,
            peft_config=lora,
            callbacks=[Reporter()],
        )
        # It prints every log line to stdout; progress goes to the job row instead.
        trainer.remove_callback(PrinterCallback)
        try:
            trainer.train()
            completed = trainer.state.global_step >= trainer.state.max_steps
            if completed:
                if validation:
                    metrics = trainer.evaluate()
                    progress.update(eval_loss=float(metrics["eval_loss"]))
                trainer.model.save_pretrained(str(output_dir))
            return TrainingOutcome(completed=completed)
        finally:
            # The worker lives on to train the next job: give the memory (and the GPU's) back.
            del trainer, model
            gc.collect()
            if cuda:
                torch.cuda.empty_cache()


def _target_modules(model: Any, hp: Hyperparameters, torch: Any) -> list[str]:
    """Module names for the adapter. "all-linear" is resolved here, to the short names of every linear
    layer but the output head (q_proj, ..., down_proj), rather than by PEFT, which would write each
    layer's full path into adapter_config.json: short names are what vLLM and other adapters use."""
    if not isinstance(hp.targetModules, str):
        return list(hp.targetModules)
    head = model.get_output_embeddings()
    return sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and module is not head
        }
    )
