"""The TrainerJob table, from the worker's side. All of the worker's SQL is here.

Claiming takes the oldest queued row with FOR UPDATE SKIP LOCKED, so workers on several machines
never take the same job, and gives it a new claimToken. Every later write by the worker requires
that token and state 'running' (it is "fenced"): a worker whose lease expired and whose job was taken
back, or whose job was deleted, updates no row, learns that it lost the job, and stops. Time is the
database's (now()), so the workers' clocks do not matter. Sessions run in UTC because Prisma stores
TIMESTAMP(3) columns as UTC.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

TABLE = '"TrainerJob"'


def connect(database_url: str) -> psycopg.Connection[dict[str, Any]]:
    # Keepalives: the worker's main connection sits idle for as long as a training takes, and a
    # connection silently dropped on the way (a NAT, a firewall) should fail fast, not hang.
    conn = psycopg.connect(
        database_url,
        autocommit=True,
        row_factory=dict_row,
        application_name="lora-trainer",
        keepalives=1,
        keepalives_idle=60,
        keepalives_interval=10,
        keepalives_count=3,
    )
    conn.execute("SET TIME ZONE 'UTC'")
    return conn


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    claim_token: str
    attempt: int
    max_attempts: int
    base_model: str
    train_jsonl: str
    validation_jsonl: str | None
    dataset_sha256: str
    hyperparameters: Any


class JobQueue:
    def __init__(self, conn: psycopg.Connection[dict[str, Any]], worker_id: str, lease_seconds: float):
        self.conn = conn
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds

    def reap(self) -> list[dict[str, Any]]:
        """Takes back running jobs whose lease expired (their worker died, hung or lost the database):
        queued again while attempts remain, failed when none do, cancelled if cancellation was asked.
        Also settles queued rows that can never be claimed (cancel requested, no attempts left)."""
        return self.conn.execute(
            f"""
            WITH stale AS (
              SELECT id FROM {TABLE}
              WHERE (state = 'running' AND "leaseExpiresAt" < now())
                 OR (state = 'queued' AND ("cancelRequested" OR attempts >= "maxAttempts"))
              FOR UPDATE SKIP LOCKED
            ), settled AS (
              SELECT t.id,
                CASE WHEN t."cancelRequested" THEN 'cancelled'
                     WHEN t.attempts >= t."maxAttempts" THEN 'failed'
                     ELSE 'queued' END AS next,
                CASE WHEN t.state = 'running' THEN format(
                  'worker %s stopped heartbeating: its lease expired at %s UTC, on attempt %s of %s',
                  t."claimedBy", to_char(t."leaseExpiresAt", 'YYYY-MM-DD HH24:MI:SS'), t.attempts,
                  t."maxAttempts") END AS why
              FROM {TABLE} t JOIN stale USING (id)
            )
            UPDATE {TABLE} t SET
              state = s.next,
              error = CASE
                WHEN s.next = 'cancelled' THEN coalesce('cancelled on request, after ' || s.why,
                                                        'cancelled on request before it started')
                WHEN s.next = 'failed' THEN 'gave up after ' || t.attempts || ' attempts: '
                                            || coalesce(s.why, t.error, 'no attempts left')
                ELSE s.why END,
              "claimToken" = NULL,
              "leaseExpiresAt" = NULL,
              "finishedAt" = CASE WHEN s.next = 'queued' THEN NULL ELSE now() END,
              "updatedAt" = now()
            FROM settled s
            WHERE t.id = s.id
            RETURNING t.id::text AS id, t.state, t.error
            """
        ).fetchall()

    def claim(self) -> ClaimedJob | None:
        row = self.conn.execute(
            f"""
            WITH next AS (
              SELECT id FROM {TABLE}
              WHERE state = 'queued' AND NOT "cancelRequested" AND attempts < "maxAttempts"
              ORDER BY "createdAt", id
              LIMIT 1
              FOR UPDATE SKIP LOCKED
            )
            UPDATE {TABLE} t SET
              state = 'running',
              attempts = t.attempts + 1,
              "claimedBy" = %(worker)s,
              "claimToken" = gen_random_uuid(),
              "heartbeatAt" = now(),
              "leaseExpiresAt" = now() + make_interval(secs => %(lease)s),
              "startedAt" = now(),
              "finishedAt" = NULL,
              progress = NULL,
              "updatedAt" = now()
            FROM next
            WHERE t.id = next.id
            RETURNING t.id::text AS id, t."claimToken"::text AS claim_token, t.attempts,
              t."maxAttempts" AS max_attempts, t."baseModel" AS base_model, t."trainJsonl" AS train_jsonl,
              t."validationJsonl" AS validation_jsonl, t."datasetSha256" AS dataset_sha256,
              t.hyperparameters
            """,
            {"worker": self.worker_id, "lease": self.lease_seconds},
        ).fetchone()
        if row is None:
            return None
        return ClaimedJob(
            id=row["id"],
            claim_token=row["claim_token"],
            attempt=row["attempts"],
            max_attempts=row["max_attempts"],
            base_model=row["base_model"],
            train_jsonl=row["train_jsonl"],
            validation_jsonl=row["validation_jsonl"],
            dataset_sha256=row["dataset_sha256"],
            hyperparameters=row["hyperparameters"],
        )

    def heartbeat(self, job: ClaimedJob, progress: dict[str, Any]) -> bool | None:
        """Renews the lease and records progress. Returns whether cancellation was requested, or None
        when the job is no longer this worker's (taken back, deleted, or settled by someone else)."""
        row = self.conn.execute(
            f"""
            UPDATE {TABLE} SET
              "heartbeatAt" = now(),
              "leaseExpiresAt" = now() + make_interval(secs => %(lease)s),
              progress = %(progress)s,
              "updatedAt" = now()
            WHERE id = %(id)s AND "claimToken" = %(token)s AND state = 'running'
            RETURNING "cancelRequested" AS cancel
            """,
            {"lease": self.lease_seconds, "progress": Jsonb(progress), **_fence(job)},
        ).fetchone()
        return None if row is None else bool(row["cancel"])

    def succeed(self, job: ClaimedJob, progress: dict[str, Any], partial: Path, final: Path) -> str | None:
        """Moves the adapter from `partial` to `final` and marks the job succeeded, both while holding
        the row's lock with this worker's token: a worker that lost the job can neither publish its
        adapter nor overwrite the row. A job whose cancellation was asked in the meantime ends
        cancelled instead, its adapter unpublished. Returns the new state, or None (and moves nothing)
        when the job is not ours."""
        with self.conn.transaction():
            mine = self.conn.execute(
                f"""SELECT "cancelRequested" AS cancel FROM {TABLE}
                    WHERE id = %(id)s AND "claimToken" = %(token)s AND state = 'running' FOR UPDATE""",
                _fence(job),
            ).fetchone()
            if mine is None:
                return None
            if mine["cancel"]:
                self.cancel(job, progress)
                return "cancelled"
            if partial.exists():
                if final.exists():
                    # Left by an attempt that moved its adapter but could not record it: replace it.
                    shutil.rmtree(final)
                partial.rename(final)
            elif not final.exists():
                raise FileNotFoundError(f"the trained adapter is missing from {partial}")
            # else: this worker moved it already, in a try whose commit was lost (see Worker.settle).
            self.conn.execute(
                f"""
                UPDATE {TABLE} SET
                  state = 'succeeded', "adapterPath" = %(path)s, progress = %(progress)s, error = NULL,
                  "leaseExpiresAt" = NULL, "finishedAt" = now(), "updatedAt" = now()
                WHERE id = %(id)s AND "claimToken" = %(token)s
                """,
                {"path": str(final), "progress": Jsonb(progress), **_fence(job)},
            )
        return "succeeded"

    def holds(self, job_id: str, token_prefix: str) -> bool:
        """Whether some worker is running `job_id` under a token starting with `token_prefix`."""
        row = self.conn.execute(
            f"""SELECT 1 FROM {TABLE} WHERE id::text = %(id)s AND state = 'running'
                AND "claimToken"::text LIKE %(prefix)s""",
            {"id": job_id, "prefix": token_prefix + "%"},
        ).fetchone()
        return row is not None

    def exists(self, job_id: str) -> bool:
        row = self.conn.execute(f"SELECT 1 FROM {TABLE} WHERE id::text = %s", (job_id,)).fetchone()
        return row is not None

    def fail(self, job: ClaimedJob, reason: str, *, retry: bool) -> str | None:
        """Ends this attempt with `reason`: queued again while attempts remain and `retry`, else failed.
        Returns the new state, or None when the job is not ours."""
        row = self.conn.execute(
            f"""
            UPDATE {TABLE} SET
              state = CASE WHEN "cancelRequested" THEN 'cancelled'
                           WHEN %(retry)s AND attempts < "maxAttempts" THEN 'queued'
                           ELSE 'failed' END,
              error = CASE WHEN "cancelRequested" THEN 'cancelled on request, after an error: ' || %(reason)s
                           WHEN %(retry)s AND attempts >= "maxAttempts"
                           THEN 'gave up after ' || attempts || ' attempts: ' || %(reason)s
                           ELSE %(reason)s END,
              "claimToken" = NULL, "leaseExpiresAt" = NULL, "updatedAt" = now(),
              "finishedAt" = CASE WHEN %(retry)s AND attempts < "maxAttempts" AND NOT "cancelRequested"
                                  THEN NULL ELSE now() END
            WHERE id = %(id)s AND "claimToken" = %(token)s AND state = 'running'
            RETURNING state
            """,
            {"retry": retry, "reason": reason, **_fence(job)},
        ).fetchone()
        return None if row is None else row["state"]

    def cancel(self, job: ClaimedJob, progress: dict[str, Any]) -> bool:
        row = self.conn.execute(
            f"""
            UPDATE {TABLE} SET
              state = 'cancelled', progress = %(progress)s,
              error = 'cancelled on request at step ' || %(step)s,
              "claimToken" = NULL, "leaseExpiresAt" = NULL, "finishedAt" = now(), "updatedAt" = now()
            WHERE id = %(id)s AND "claimToken" = %(token)s AND state = 'running'
            RETURNING 1
            """,
            {"progress": Jsonb(progress), "step": str(progress.get("step", 0)), **_fence(job)},
        ).fetchone()
        return row is not None

    def release(self, job: ClaimedJob, progress: dict[str, Any]) -> bool:
        """Gives the job back when this worker shuts down: queued again, and the attempt it had used
        does not count, since the job did nothing wrong."""
        row = self.conn.execute(
            f"""
            UPDATE {TABLE} SET
              state = CASE WHEN "cancelRequested" THEN 'cancelled' ELSE 'queued' END,
              attempts = CASE WHEN "cancelRequested" THEN attempts ELSE greatest(attempts - 1, 0) END,
              progress = %(progress)s,
              error = CASE WHEN "cancelRequested" THEN 'cancelled on request'
                           ELSE 'released by worker ' || "claimedBy" || ' shutting down at step ' || %(step)s
                           END,
              "claimToken" = NULL, "leaseExpiresAt" = NULL, "updatedAt" = now(),
              "finishedAt" = CASE WHEN "cancelRequested" THEN now() END
            WHERE id = %(id)s AND "claimToken" = %(token)s AND state = 'running'
            RETURNING 1
            """,
            {"progress": Jsonb(progress), "step": str(progress.get("step", 0)), **_fence(job)},
        ).fetchone()
        return row is not None


def _fence(job: ClaimedJob) -> dict[str, str]:
    return {"id": job.id, "token": job.claim_token}
