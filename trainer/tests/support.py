"""Helpers for the trainer's tests: queueing jobs as the bot will, reading them back, waiting, and
running workers (in this process, or as their own OS processes)."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from lora_trainer.config import Config
from lora_trainer.dataset import dataset_sha256

TRAINER = Path(__file__).resolve().parents[1]


def enqueue(
    conn: psycopg.Connection[dict[str, Any]],
    *,
    base_model: str | Path,
    train_jsonl: str,
    validation_jsonl: str | None = None,
    hyperparameters: dict[str, Any] | None = None,
    max_attempts: int = 3,
    sha256: str | None = None,
) -> dict[str, str]:
    """Queues a job the way the bot will: a user, their approved proposal, the FineTuneJob, and the
    TrainerJob that serves it. Returns the ids of the trainer job and the bot's job."""
    user, proposal, job = (str(uuid.uuid4()) for _ in range(3))
    sha = sha256 or dataset_sha256(train_jsonl, validation_jsonl)
    conn.execute(
        """INSERT INTO "User" (id, platform, "externalId", "updatedAt")
           VALUES (%s, 'discord', %s, now())""",
        (user, f"discord:{user}"),
    )
    conn.execute(
        """INSERT INTO "FineTuneProposal" (id, "userId", state, origin, provider, "baseModel", examples,
             "trainExamples", "validationExamples", tokens, epochs, redactions, drops, "estimatedCostUsd",
             "estimatedSeconds", "trainJsonl", "validationJsonl", "datasetSha256", "expiresAt")
           VALUES (%s, %s, 'approved', 'requested', 'self-hosted', %s, 1, 1, 0, 1, 1, 0, '{}', 0, 60,
             %s, %s, %s, now() + interval '1 day')""",
        (proposal, user, str(base_model), train_jsonl, validation_jsonl, sha),
    )
    conn.execute(
        """INSERT INTO "FineTuneJob" (id, "proposalId", "userId", provider, "baseModel", state,
             "estimatedCostUsd", "updatedAt")
           VALUES (%s, %s, %s, 'self-hosted', %s, 'running', 0, now())""",
        (job, proposal, user, str(base_model)),
    )
    row = conn.execute(
        """INSERT INTO "TrainerJob" ("fineTuneJobId", "baseModel", "trainJsonl", "validationJsonl",
             "datasetSha256", hyperparameters, "maxAttempts")
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id::text AS id""",
        (
            job,
            str(base_model),
            train_jsonl,
            validation_jsonl,
            sha,
            json.dumps(hyperparameters or {}),
            max_attempts,
        ),
    ).fetchone()
    assert row is not None
    return {"id": row["id"], "fine_tune_job_id": job}


def job_row(conn: psycopg.Connection[dict[str, Any]], job_id: str) -> dict[str, Any] | None:
    return conn.execute(
        """SELECT id::text AS id, state, attempts, "maxAttempts" AS max_attempts, "claimedBy" AS claimed_by,
             "claimToken"::text AS claim_token, "heartbeatAt" AS heartbeat_at,
             "leaseExpiresAt" AS lease_expires_at, progress, "adapterPath" AS adapter_path, error,
             "cancelRequested" AS cancel_requested, "startedAt" AS started_at, "finishedAt" AS finished_at
           FROM "TrainerJob" WHERE id = %s""",
        (job_id,),
    ).fetchone()


def wait_for(
    check: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.05,
    on_timeout: Callable[[], str] | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    detail = f"\n{on_timeout()}" if on_timeout else ""
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{detail}")


def worker_config(database_url: str, adapter_dir: Path, worker_id: str, **overrides: Any) -> Config:
    values: dict[str, Any] = {
        "database_url": database_url,
        "adapter_dir": adapter_dir,
        "worker_id": worker_id,
        "poll_seconds": 0.05,
        "heartbeat_seconds": 0.1,
        "lease_seconds": 1.0,
        "step_delay_seconds": 0.0,
    }
    values.update(overrides)
    return Config(**values)


class WorkerProcess:
    """`python -m lora_trainer` as its own OS process, as it runs in production."""

    def __init__(self, database_url: str, adapter_dir: Path, worker_id: str, log_dir: Path, **settings: str):
        self.worker_id = worker_id
        self.log_path = log_dir / f"{worker_id}.log"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TRAINER_ADAPTER_DIR": str(adapter_dir),
            "TRAINER_WORKER_ID": worker_id,
            "TRAINER_POLL_SECONDS": "0.1",
            "TRAINER_HEARTBEAT_SECONDS": "0.25",
            "TRAINER_LEASE_SECONDS": "2",
            **settings,
        }
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lora_trainer"],
            cwd=TRAINER,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
        self.process.wait(timeout=30)
        self._log.close()


def partial_dirs(adapter_dir: Path) -> list[str]:
    return sorted(p.name for p in adapter_dir.glob(".partial-*")) if adapter_dir.exists() else []
