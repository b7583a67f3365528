"""A job's hyperparameters: the JSON object in TrainerJob.hyperparameters, every key optional.

Unknown keys and out-of-range values are refused (JobInputError), not ignored: a typo such as
"learning_rate" would otherwise train with the default and nobody would notice.
"""

from dataclasses import dataclass, fields
from typing import Any

from .errors import JobInputError


@dataclass(frozen=True)
class Hyperparameters:
    epochs: int = 3
    learningRate: float = 2e-4
    # vLLM serves adapters up to --max-lora-rank (16 unless raised), so the default fits the default.
    loraR: int = 16
    loraAlpha: int = 32
    loraDropout: float = 0.05
    # When set, training stops after this many optimizer steps even if the epochs are not done.
    maxSteps: int | None = None
    batchSize: int = 4
    gradientAccumulationSteps: int = 1
    # Tokens per example; longer ones are cut (TRL keeps the start).
    maxLength: int = 2048
    # "all-linear" (every linear layer but the output head), or module names such as ["q_proj", "v_proj"].
    targetModules: str | tuple[str, ...] = "all-linear"
    seed: int = 42
    # Evaluate on the validation file every this many steps; by default about five times per run.
    evalSteps: int | None = None


_INT_RANGES = {
    "epochs": (1, 100),
    "loraR": (1, 512),
    "loraAlpha": (1, 4096),
    "maxSteps": (1, 10_000_000),
    "batchSize": (1, 1024),
    "gradientAccumulationSteps": (1, 1024),
    "maxLength": (16, 1_048_576),
    "seed": (0, 2**32 - 1),
    "evalSteps": (1, 10_000_000),
}


def parse_hyperparameters(value: Any) -> Hyperparameters:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise JobInputError("hyperparameters must be a JSON object")
    known = {f.name for f in fields(Hyperparameters)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise JobInputError(
            f"unknown hyperparameters {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    checked: dict[str, Any] = {}
    for name, raw in value.items():
        if raw is None and name in ("maxSteps", "evalSteps"):
            checked[name] = None
        elif name in _INT_RANGES:
            low, high = _INT_RANGES[name]
            if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
                raise JobInputError(f"hyperparameter {name} must be a whole number from {low} to {high}")
            checked[name] = raw
        elif name == "learningRate":
            if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw <= 1:
                raise JobInputError("hyperparameter learningRate must be a number above 0 and at most 1")
            checked[name] = float(raw)
        elif name == "loraDropout":
            if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw < 1:
                raise JobInputError("hyperparameter loraDropout must be a number from 0 to below 1")
            checked[name] = float(raw)
        elif name == "targetModules":
            if raw == "all-linear":
                checked[name] = raw
            elif isinstance(raw, list) and raw and all(isinstance(m, str) and m.strip() for m in raw):
                checked[name] = tuple(raw)
            else:
                raise JobInputError(
                    'hyperparameter targetModules must be "all-linear" or a non-empty list of module names'
                )
    return Hyperparameters(**checked)
