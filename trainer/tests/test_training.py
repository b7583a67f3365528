"""LoRA training on CPU with the tiny model: the adapter is written in the format vLLM loads, PEFT
loads it back, and it changes (and improves) what the model predicts."""

import json
import threading

import pytest
from safetensors import safe_open
from tiny_model import chat_jsonl

from lora_trainer.dataset import parse_chat_jsonl
from lora_trainer.errors import JobInputError
from lora_trainer.hyperparameters import parse_hyperparameters
from lora_trainer.training import ProgressBoard, train_adapter

TRAIN = parse_chat_jsonl(chat_jsonl(range(16)), "training")
VALIDATION = parse_chat_jsonl(chat_jsonl(range(16, 20)), "validation")


def completion_loss(model, tokenizer, examples) -> float:
    """Mean loss on the replies (the prompt masked), as the training objective measures it."""
    import torch

    losses = []
    for example in examples:
        prompt = tokenizer.apply_chat_template(example["prompt"], add_generation_prompt=True, tokenize=False)
        full = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=False)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([tokenizer(full, add_special_tokens=False)["input_ids"]])
        labels = ids.clone()
        labels[0, : len(prompt_ids)] = -100
        with torch.no_grad():
            losses.append(model(input_ids=ids, labels=labels).loss.item())
    return sum(losses) / len(losses)


def test_trains_an_adapter_that_vllm_can_load_and_that_changes_the_model(tiny_model, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    board = ProgressBoard()
    seen_steps: list[int] = []
    hp = parse_hyperparameters(
        {"maxSteps": 24, "learningRate": 0.02, "batchSize": 4, "loraR": 8, "loraAlpha": 16}
    )
    out = tmp_path / "adapter"
    outcome = train_adapter(
        str(tiny_model),
        TRAIN,
        VALIDATION,
        hp,
        out,
        progress=board,
        should_stop=lambda: seen_steps.append(board.step) or False,
    )
    assert outcome.completed
    progress = board.snapshot()
    assert progress["step"] == progress["totalSteps"] == 24
    assert progress["loss"] > 0 and progress["evalLoss"] > 0
    # Progress moved one optimizer step at a time, and should_stop was asked after each.
    assert seen_steps[-24:] == list(range(1, 25))

    # PEFT's format, which vLLM's LoRA loader reads: the config and the safetensors weights.
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in out.iterdir()}
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA"
    assert (config["r"], config["lora_alpha"]) == (8, 16)
    assert config["base_model_name_or_path"] == str(tiny_model)
    assert sorted(config["target_modules"]) == sorted(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    # What vLLM's PEFTHelper refuses: rank above --max-lora-rank (16 by default), modules_to_save,
    # DoRA, and a bias without --enable-lora-bias.
    assert config["r"] <= 16 and not config["modules_to_save"] and not config["use_dora"]
    assert config["bias"] == "none"
    with safe_open(out / "adapter_model.safetensors", framework="pt") as weights:
        names = set(weights.keys())
    assert "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" in names
    assert "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight" in names
    assert all(".lora_A." in n or ".lora_B." in n for n in names), "only LoRA weights, no base weights"

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    base = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    ids = tokenizer.apply_chat_template(TRAIN[0]["prompt"], add_generation_prompt=True, return_tensors="pt")
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    with torch.no_grad():
        base_logits = base(input_ids=ids).logits
    base_loss = completion_loss(base, tokenizer, TRAIN)
    tuned = PeftModel.from_pretrained(base, out).eval()
    with torch.no_grad():
        tuned_logits = tuned(input_ids=ids).logits
    # LoRA starts as a no-op (B = 0): a changed output means trained weights were saved and loaded.
    assert (tuned_logits - base_logits).abs().max().item() > 1e-3
    tuned_loss = completion_loss(tuned, tokenizer, TRAIN)
    assert tuned_loss < base_loss - 0.05, (base_loss, tuned_loss)


def test_stops_after_the_step_when_asked_and_saves_nothing(tiny_model, tmp_path):
    board = ProgressBoard()
    stop = threading.Event()

    def should_stop() -> bool:
        if board.step >= 3:
            stop.set()
        return stop.is_set()

    out = tmp_path / "adapter"
    outcome = train_adapter(
        str(tiny_model),
        TRAIN,
        None,
        parse_hyperparameters({"maxSteps": 50}),
        out,
        progress=board,
        should_stop=should_stop,
    )
    assert not outcome.completed
    assert board.snapshot()["step"] == 3
    assert not out.exists()


def test_a_base_model_without_a_chat_template_is_refused(tiny_model, tmp_path):
    import shutil

    plain = tmp_path / "plain-model"
    shutil.copytree(tiny_model, plain)
    config_path = plain / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.pop("chat_template", None)
    config_path.write_text(json.dumps(config))
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    with pytest.raises(JobInputError, match="has no chat template"):
        train_adapter(
            str(plain),
            TRAIN,
            None,
            parse_hyperparameters({}),
            tmp_path / "out",
            progress=ProgressBoard(),
            should_stop=lambda: False,
        )
