"""What the worker accepts as a job: the bot's chat JSONL, checked against its sha256, and the
hyperparameters. Bad input fails the job with a message that names the line and the problem, and
never quotes the dataset (it holds people's messages)."""

import json
import subprocess
import sys

import pytest
from support import TRAINER
from tiny_model import chat_jsonl, conversation

from lora_trainer.config import ConfigError, load_config
from lora_trainer.dataset import dataset_sha256, parse_chat_jsonl, verify_sha256
from lora_trainer.errors import JobInputError
from lora_trainer.hyperparameters import Hyperparameters, parse_hyperparameters


def test_the_files_the_bot_builds_parse_and_hash_to_the_sha256_the_bot_computed(bot_dataset):
    train = parse_chat_jsonl(bot_dataset["trainJsonl"], "training")
    validation = parse_chat_jsonl(bot_dataset["validationJsonl"], "validation")
    # 24 exchanges, split 90/10 by dataset.ts; the emails were redacted before they reached the file.
    assert (len(train), len(validation)) == (22, 2)
    assert bot_dataset["redactions"] == 24
    assert "[EMAIL]" in train[0]["prompt"][1]["content"]
    # Non-ASCII text (é, °, ☀️) must hash the same in both languages: UTF-8, NUL between the files.
    assert dataset_sha256(bot_dataset["trainJsonl"], bot_dataset["validationJsonl"]) == bot_dataset["sha256"]
    verify_sha256(bot_dataset["trainJsonl"], bot_dataset["validationJsonl"], bot_dataset["sha256"])
    first = train[0]
    assert [m["role"] for m in first["prompt"]] == ["system", "user"]
    assert [m["role"] for m in first["completion"]] == ["assistant"]
    assert first["completion"][0]["content"].startswith("À la station")


def test_a_dataset_changed_after_approval_is_refused():
    jsonl = chat_jsonl(range(3))
    sha = dataset_sha256(jsonl, None)
    with pytest.raises(JobInputError, match="does not match its datasetSha256"):
        verify_sha256(jsonl + chat_jsonl([99]), None, sha)
    with pytest.raises(JobInputError, match="does not match"):
        verify_sha256(jsonl, "", dataset_sha256(jsonl, "x"))


SECRET = "my card is 4111 1111 1111 1111"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "line 2: not valid JSON"),
        (json.dumps({"contents": []}), 'line 2: expected an object with a "messages" array'),
        (
            json.dumps(
                {"messages": [{"role": "user", "content": SECRET}, {"role": "model", "content": "x"}]}
            ),
            "line 2: message 2 has role 'model'",
        ),
        (
            json.dumps(
                {"messages": [{"role": "user", "content": SECRET}, {"role": "assistant", "content": " "}]}
            ),
            "line 2: message 2 has no text content",
        ),
        (
            json.dumps(
                {"messages": [{"role": "assistant", "content": SECRET}, {"role": "user", "content": "x"}]}
            ),
            "line 2: the last message is not the assistant's reply",
        ),
        (json.dumps({"messages": [{"role": "assistant", "content": SECRET}]}), "line 2: no user message"),
        (
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": SECRET},
                        {"role": "system", "content": "late"},
                        {"role": "assistant", "content": "x"},
                    ]
                }
            ),
            "line 2: message 2 is a system message after the first message",
        ),
        ("", "line 2: not valid JSON"),
    ],
)
def test_a_malformed_line_is_named_and_its_text_is_not_quoted(line, problem):
    jsonl = chat_jsonl([1]) + line + "\n" + chat_jsonl([2])
    with pytest.raises(JobInputError) as raised:
        parse_chat_jsonl(jsonl, "training")
    assert problem in str(raised.value)
    assert str(raised.value).startswith("the training file is not chat JSONL")
    assert "4111" not in str(raised.value)


def test_an_empty_file_is_refused_and_trailing_newlines_are_fine():
    with pytest.raises(JobInputError, match="the validation file has no examples"):
        parse_chat_jsonl("\n\n", "validation")
    assert len(parse_chat_jsonl(chat_jsonl(range(2)) + "\n\n", "training")) == 2
    assert parse_chat_jsonl(json.dumps(conversation(5)), "training")[0]["completion"][0][
        "content"
    ].startswith("Box 5")


def test_hyperparameters_default_and_are_checked():
    assert parse_hyperparameters({}) == Hyperparameters()
    assert parse_hyperparameters(None) == Hyperparameters()
    hp = parse_hyperparameters(
        {"epochs": 2, "learningRate": 1, "loraR": 64, "maxSteps": None, "targetModules": ["q_proj", "v_proj"]}
    )
    assert (hp.epochs, hp.learningRate, hp.loraR, hp.maxSteps, hp.targetModules) == (
        2,
        1.0,
        64,
        None,
        ("q_proj", "v_proj"),
    )
    refused = {
        "learning_rate": "unknown hyperparameters learning_rate",
        "epochs": "epochs must be a whole number from 1 to 100",
        "loraDropout": "loraDropout must be a number from 0 to below 1",
        "targetModules": "targetModules must be",
    }
    bad_values = {"learning_rate": 0.1, "epochs": 0, "loraDropout": 1, "targetModules": []}
    for key, message in refused.items():
        with pytest.raises(JobInputError, match=message):
            parse_hyperparameters({key: bad_values[key]})
    with pytest.raises(JobInputError, match="loraR must be a whole number"):
        parse_hyperparameters({"loraR": True})
    with pytest.raises(JobInputError, match="learningRate must be"):
        parse_hyperparameters({"learningRate": 0})
    with pytest.raises(JobInputError, match="must be a JSON object"):
        parse_hyperparameters([1])


def test_settings_are_checked_at_start_and_name_the_variable(tmp_path):
    base = {"DATABASE_URL": "postgres://bot@127.0.0.1:5432/bot", "TRAINER_ADAPTER_DIR": str(tmp_path)}
    config = load_config(base)
    assert (config.heartbeat_seconds, config.lease_seconds, config.adapter_dir) == (10, 120, tmp_path)
    with pytest.raises(ConfigError, match="DATABASE_URL is not set"):
        load_config({**base, "DATABASE_URL": ""})
    with pytest.raises(ConfigError, match="TRAINER_ADAPTER_DIR is not set"):
        load_config({**base, "TRAINER_ADAPTER_DIR": " "})
    with pytest.raises(ConfigError, match="TRAINER_POLL_SECONDS must be a number"):
        load_config({**base, "TRAINER_POLL_SECONDS": "soon"})
    with pytest.raises(ConfigError, match="at least three times TRAINER_HEARTBEAT_SECONDS"):
        load_config({**base, "TRAINER_HEARTBEAT_SECONDS": "30", "TRAINER_LEASE_SECONDS": "60"})


def test_the_command_exits_2_with_the_missing_setting_named():
    ran = subprocess.run(
        [sys.executable, "-m", "lora_trainer"],
        cwd=TRAINER,
        env={"PATH": "/usr/bin"},
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 2
    assert "lora-trainer: DATABASE_URL is not set" in ran.stderr
