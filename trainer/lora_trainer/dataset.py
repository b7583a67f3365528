"""Reads a job's dataset: the chat JSONL the bot stores with it (src/core/fine-tune/dataset.ts writes
it for OpenAI), checked against the job's sha256 so the worker trains on exactly what was approved.

Each line is {"messages": [{"role", "content"}, ...]}. It becomes a prompt-completion example for
TRL: the prompt is every message before the last, the completion the last (assistant) message, and
the loss is taken on the completion only, as OpenAI trains on the assistant's reply.
Messages carry personal data, so no error message quotes them: they say which line and what is wrong.
"""

import hashlib
import json
from typing import Any

from .errors import JobInputError

ROLES = {"system", "user", "assistant"}
Example = dict[str, list[dict[str, str]]]


def dataset_sha256(train_jsonl: str, validation_jsonl: str | None) -> str:
    """As dataset.ts computes it: sha256 of the training file, a NUL byte, then the validation file."""
    digest = hashlib.sha256(train_jsonl.encode("utf-8"))
    digest.update(b"\0")
    digest.update((validation_jsonl or "").encode("utf-8"))
    return digest.hexdigest()


def verify_sha256(train_jsonl: str, validation_jsonl: str | None, expected: str) -> None:
    actual = dataset_sha256(train_jsonl, validation_jsonl)
    if actual != expected.strip().lower():
        raise JobInputError(
            f"the dataset does not match its datasetSha256 (expected {expected}, the stored files hash to "
            f"{actual}): it changed after it was approved, so it is not trained on"
        )


def parse_chat_jsonl(jsonl: str, file: str) -> list[Example]:
    """The examples of one file; JobInputError names the first problems found (line numbers only)."""
    lines = jsonl.splitlines()
    # A trailing newline (or several) is fine; a blank line in the middle is not JSON.
    while lines and lines[-1].strip() == "":
        lines.pop()
    if not lines:
        raise JobInputError(f"the {file} file has no examples")
    examples: list[Example] = []
    problems: list[str] = []
    for number, text in enumerate(lines, start=1):
        try:
            examples.append(_example(text))
        except JobInputError as problem:
            problems.append(f"line {number}: {problem}")
            if len(problems) == 5:
                break
    if problems:
        raise JobInputError(f"the {file} file is not chat JSONL: " + "; ".join(problems))
    return examples


def _example(text: str) -> Example:
    try:
        value: Any = json.loads(text)
    except ValueError:
        raise JobInputError("not valid JSON") from None
    if not isinstance(value, dict) or not isinstance(value.get("messages"), list):
        raise JobInputError('expected an object with a "messages" array')
    messages: list[dict[str, str]] = []
    for index, message in enumerate(value["messages"]):
        if not isinstance(message, dict):
            raise JobInputError(f"message {index + 1} is not an object")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise JobInputError(f"message {index + 1} has role {role!r}, expected system, user or assistant")
        if not isinstance(content, str) or content.strip() == "":
            raise JobInputError(f"message {index + 1} has no text content")
        if role == "system" and index != 0:
            raise JobInputError(f"message {index + 1} is a system message after the first message")
        messages.append({"role": role, "content": content})
    if not any(m["role"] == "user" for m in messages):
        raise JobInputError("no user message")
    if messages[-1]["role"] != "assistant":
        raise JobInputError("the last message is not the assistant's reply")
    return {"prompt": messages[:-1], "completion": messages[-1:]}
