"""The queue's rules on a real Postgres with the bot's migrations: a job is claimed by one worker at a
time, a worker that lost its job can write nothing, expired leases are taken back a bounded number
of times, and the table's own guards refuse states outside the contract."""

import threading
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from support import enqueue, job_row
from tiny_model import chat_jsonl

from lora_trainer.job_queue import JobQueue, connect

JSONL = chat_jsonl(range(4))


@pytest.fixture
def queue(database_url):
    """queue(worker, lease): a JobQueue on its own connection, as each worker has."""
    opened: list[JobQueue] = []

    def make(worker: str, lease: float = 60) -> JobQueue:
        opened.append(JobQueue(connect(database_url), worker, lease))
        return opened[-1]

    yield make
    for q in opened:
        q.conn.close()


def expire_lease(db, job_id: str) -> None:
    """What time does to a worker that stopped heartbeating."""
    db.execute(
        """UPDATE "TrainerJob" SET "leaseExpiresAt" = now() - interval '1 second' WHERE id = %s""", (job_id,)
    )


def test_concurrent_workers_never_claim_the_same_job(db, queue):
    ids = {enqueue(db, base_model="m", train_jsonl=JSONL)["id"] for _ in range(24)}
    claims: dict[str, list[str]] = {}
    queues = {f"w{i}": queue(f"w{i}") for i in range(8)}
    barrier = threading.Barrier(8)

    def work(name: str) -> None:
        q = queues[name]
        mine = claims.setdefault(name, [])
        barrier.wait()
        while (job := q.claim()) is not None:
            mine.append(job.id)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [job for jobs in claims.values() for job in jobs]
    assert sorted(claimed) == sorted(ids), "every job claimed exactly once"
    assert sum(1 for jobs in claims.values() if jobs) >= 2, "the claims were spread over several workers"
    for name, jobs in claims.items():
        for job_id in jobs:
            row = job_row(db, job_id)
            assert (row["state"], row["attempts"], row["claimed_by"]) == ("running", 1, name)


def test_claims_the_oldest_job_and_skips_cancelled_ones(db, queue):
    first = enqueue(db, base_model="m", train_jsonl=JSONL)["id"]
    second = enqueue(db, base_model="m", train_jsonl=JSONL)["id"]
    third = enqueue(db, base_model="m", train_jsonl=JSONL)["id"]
    db.execute("""UPDATE "TrainerJob" SET "cancelRequested" = true WHERE id = %s""", (first,))
    q = queue("a")
    job = q.claim()
    assert job is not None and job.id == second
    # The reaper settles a queued job whose cancellation was asked, so it never waits forever.
    assert [(r["id"], r["state"]) for r in q.reap()] == [(first, "cancelled")]
    assert job_row(db, first)["error"] == "cancelled on request before it started"
    assert q.claim().id == third
    assert q.claim() is None


def test_a_worker_that_lost_its_job_can_write_nothing(db, queue, tmp_path):
    job_id = enqueue(db, base_model="m", train_jsonl=JSONL)["id"]
    a, b = queue("worker-a"), queue("worker-b")
    stale = a.claim()
    assert stale is not None and a.heartbeat(stale, {"step": 1}) is False
    expire_lease(db, job_id)
    assert [r["state"] for r in b.reap()] == ["queued"]
    fresh = b.claim()
    assert fresh is not None and fresh.id == job_id and fresh.claim_token != stale.claim_token
    assert b.heartbeat(fresh, {"step": 7, "loss": 1.5}) is False
    before = job_row(db, job_id)

    # Worker A comes back and tries every write it knows: each one is refused.
    partial, final = tmp_path / "partial", tmp_path / "final"
    partial.mkdir()
    (partial / "adapter_config.json").write_text("{}")
    assert a.heartbeat(stale, {"step": 99}) is None
    assert a.succeed(stale, {"step": 99}, partial, final) is None
    assert a.fail(stale, "boom", retry=True) is None
    assert a.cancel(stale, {"step": 99}) is False
    assert a.release(stale, {"step": 99}) is False
    assert partial.exists() and not final.exists(), "its adapter was not published"
    after = job_row(db, job_id)
    assert after == before
    assert (after["state"], after["claimed_by"], after["claim_token"]) == (
        "running",
        "worker-b",
        fresh.claim_token,
    )
    assert after["progress"] == {"step": 7, "loss": 1.5}
    assert after["attempts"] == 2


def test_expired_leases_are_retried_a_bounded_number_of_times_then_fail_with_the_reason(db, queue):
    job_id = enqueue(db, base_model="m", train_jsonl=JSONL, max_attempts=2)["id"]
    q = queue("gpu-1")
    assert q.claim().attempt == 1
    expire_lease(db, job_id)
    assert [r["state"] for r in q.reap()] == ["queued"]
    row = job_row(db, job_id)
    assert row["error"].startswith("worker gpu-1 stopped heartbeating: its lease expired at ")
    assert row["error"].endswith("on attempt 1 of 2")
    assert (row["claim_token"], row["lease_expires_at"], row["finished_at"]) == (None, None, None)

    assert q.claim().attempt == 2
    expire_lease(db, job_id)
    assert [r["state"] for r in q.reap()] == ["failed"]
    row = job_row(db, job_id)
    assert row["error"].startswith("gave up after 2 attempts: worker gpu-1 stopped heartbeating")
    assert row["finished_at"] is not None
    assert q.claim() is None
    assert q.reap() == []


def test_a_live_lease_is_not_taken_back(db, queue):
    job_id = enqueue(db, base_model="m", train_jsonl=JSONL)["id"]
    a, b = queue("a", lease=60), queue("b")
    assert a.claim() is not None
    assert b.reap() == []
    assert b.claim() is None
    assert job_row(db, job_id)["claimed_by"] == "a"


def test_a_worker_shutting_down_gives_the_job_back_without_using_an_attempt(db, queue):
    job_id = enqueue(db, base_model="m", train_jsonl=JSONL, max_attempts=1)["id"]
    q = queue("a")
    job = q.claim()
    assert q.release(job, {"step": 4})
    row = job_row(db, job_id)
    assert (row["state"], row["attempts"]) == ("queued", 0)
    assert row["error"] == "released by worker a shutting down at step 4"
    assert q.claim().attempt == 1, "still claimable with max_attempts 1"


def test_a_failure_is_retried_while_attempts_remain_and_a_bad_job_is_not(db, queue):
    retried = enqueue(db, base_model="m", train_jsonl=JSONL, max_attempts=2)["id"]
    q = queue("a")
    assert q.fail(q.claim(), "OSError: disk full", retry=True) == "queued"
    assert q.fail(q.claim(), "OSError: disk full", retry=True) == "failed"
    assert job_row(db, retried)["error"] == "gave up after 2 attempts: OSError: disk full"
    refused = enqueue(db, base_model="m", train_jsonl=JSONL, max_attempts=3)["id"]
    assert q.fail(q.claim(), "the training file is not chat JSONL", retry=False) == "failed"
    row = job_row(db, refused)
    assert (row["attempts"], row["error"]) == (1, "the training file is not chat JSONL")


def test_forgetting_the_person_deletes_the_job_and_its_worker_loses_it(db, queue):
    ids = enqueue(db, base_model="m", train_jsonl=JSONL)
    q = queue("a")
    job = q.claim()
    # What the bot's data-rights code does: the user's rows go, their fine-tune jobs with them.
    db.execute(
        """DELETE FROM "User" WHERE id = (SELECT "userId" FROM "FineTuneJob" WHERE id = %s)""",
        (ids["fine_tune_job_id"],),
    )
    assert job_row(db, ids["id"]) is None, "the dataset went with the bot's job"
    assert q.heartbeat(job, {"step": 1}) is None


def test_the_table_refuses_states_outside_the_contract(db):
    job_id = enqueue(db, base_model="m", train_jsonl=JSONL)["id"]
    with pytest.raises(psycopg.errors.CheckViolation, match="TrainerJob_state_check"):
        db.execute("""UPDATE "TrainerJob" SET state = 'done' WHERE id = %s""", (job_id,))
    with pytest.raises(psycopg.errors.CheckViolation, match="TrainerJob_running_is_claimed_check"):
        db.execute("""UPDATE "TrainerJob" SET state = 'running' WHERE id = %s""", (job_id,))
    with pytest.raises(psycopg.errors.UniqueViolation, match="TrainerJob_fineTuneJobId_key"):
        db.execute(
            """INSERT INTO "TrainerJob" ("fineTuneJobId", "baseModel", "trainJsonl", "datasetSha256")
               SELECT "fineTuneJobId", 'm', 'x', 'y' FROM "TrainerJob" WHERE id = %s""",
            (job_id,),
        )


def readme_sql() -> list[str]:
    """The statements the README tells the bot to run, exactly as written there."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = text.split("```sql\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def run_prepared(db, name: str, statement: str, *args):
    db.execute(f"PREPARE {name} AS {statement}")
    try:
        return db.execute(
            sql.SQL("EXECUTE {}({})").format(sql.Identifier(name), sql.SQL(", ").join(map(sql.Literal, args)))
        )
    finally:
        db.execute(f"DEALLOCATE {name}")


def test_the_sql_the_readme_gives_the_bot_does_what_it_says(db, queue):
    insert, poll, cancel, give_up = readme_sql()
    first = enqueue(db, base_model="m", train_jsonl=JSONL)
    # Queueing the same bot job again changes nothing: the retried launch then reads the row.
    again = run_prepared(db, "q", insert, first["fine_tune_job_id"], "m", "other", None, "x", "{}")
    assert again.rowcount == 0
    polled = run_prepared(db, "p", poll, first["fine_tune_job_id"]).fetchone()
    assert (polled["state"], polled["progress"], polled["adapterPath"]) == ("queued", None, None)

    # Cancelling a queued job ends it at once.
    run_prepared(db, "c", cancel, first["fine_tune_job_id"])
    row = job_row(db, first["id"])
    assert (row["state"], row["cancel_requested"]) == ("cancelled", True)
    assert row["finished_at"] is not None

    # Cancelling a running one asks its worker, which sees it at the next heartbeat.
    second = enqueue(db, base_model="m", train_jsonl=JSONL)
    q = queue("a")
    job = q.claim()
    run_prepared(db, "c", cancel, second["fine_tune_job_id"])
    assert job_row(db, second["id"])["state"] == "running"
    assert q.heartbeat(job, {"step": 3}) is True
    assert q.cancel(job, {"step": 3})
    row = job_row(db, second["id"])
    assert (row["state"], row["error"]) == ("cancelled", "cancelled on request at step 3")
    # A job that already ended is left as it is.
    assert run_prepared(db, "c", cancel, second["fine_tune_job_id"]).rowcount == 0

    # Giving up on a job no worker took: only a queued one, and only after the timeout.
    third = enqueue(db, base_model="m", train_jsonl=JSONL)
    assert run_prepared(db, "g", give_up, third["fine_tune_job_id"]).rowcount == 0
    db.execute(
        """UPDATE "TrainerJob" SET "updatedAt" = now() - interval '25 hours' WHERE id = %s""",
        (third["id"],),
    )
    assert run_prepared(db, "g", give_up, third["fine_tune_job_id"]).rowcount == 1
    row = job_row(db, third["id"])
    assert (row["state"], row["error"]) == ("failed", "no trainer worker took the job within 24 hours")
    assert queue("b").claim() is None
    # A running job is never given up on by the bot (its lease is the workers' business).
    fourth = enqueue(db, base_model="m", train_jsonl=JSONL)
    queue("c").claim()
    db.execute(
        """UPDATE "TrainerJob" SET "updatedAt" = now() - interval '25 hours' WHERE id = %s""",
        (fourth["id"],),
    )
    assert run_prepared(db, "g", give_up, fourth["fine_tune_job_id"]).rowcount == 0
