"""The worker's settings, read once from the environment and checked, so a mistake stops it at start
with a message that names the variable instead of failing at the first job."""

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path


class ConfigError(Exception):
    """A setting is missing or invalid; the message says which and what to set."""


@dataclass(frozen=True)
class Config:
    database_url: str
    adapter_dir: Path
    worker_id: str
    poll_seconds: float
    heartbeat_seconds: float
    lease_seconds: float
    step_delay_seconds: float


def _number(env: dict[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value >= minimum:
        raise ConfigError(f"{name} must be at least {minimum:g}, got {raw}")
    return value


def load_config(env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ if env is None else env)
    database_url = env.get("DATABASE_URL", "").strip()
    if not database_url:
        raise ConfigError(
            "DATABASE_URL is not set: set it to the bot's Postgres (the same URL the bot uses), "
            "e.g. postgres://bot:secret@db:5432/bot"
        )
    if not database_url.startswith(("postgres://", "postgresql://")):
        raise ConfigError("DATABASE_URL must be a postgres:// or postgresql:// URL")
    adapter_dir = env.get("TRAINER_ADAPTER_DIR", "").strip()
    if not adapter_dir:
        raise ConfigError(
            "TRAINER_ADAPTER_DIR is not set: set it to the directory adapters are written to, "
            "one that vLLM can read too (a shared volume), e.g. /adapters"
        )
    heartbeat = _number(env, "TRAINER_HEARTBEAT_SECONDS", 10, 0.05)
    lease = _number(env, "TRAINER_LEASE_SECONDS", 120, 0.2)
    # A lease must survive a missed beat or two (a slow database, a long step), or a healthy worker
    # would lose its job to another one.
    if lease < 3 * heartbeat:
        raise ConfigError(
            f"TRAINER_LEASE_SECONDS ({lease:g}) must be at least three times "
            f"TRAINER_HEARTBEAT_SECONDS ({heartbeat:g})"
        )
    worker_id = env.get("TRAINER_WORKER_ID", "").strip() or (
        f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    )
    return Config(
        database_url=database_url,
        adapter_dir=Path(adapter_dir).resolve(),
        worker_id=worker_id,
        poll_seconds=_number(env, "TRAINER_POLL_SECONDS", 5, 0.01),
        heartbeat_seconds=heartbeat,
        lease_seconds=lease,
        step_delay_seconds=_number(env, "TRAINER_STEP_DELAY_SECONDS", 0, 0),
    )
