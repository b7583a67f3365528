"""The worker end to end in this process, on the real database: claim, train the tiny model on the
job's dataset, report progress while training, and settle the job (succeeded with the adapter on
disk, cancelled, failed after bounded retries, refused, or lost)."""

import json
import threading

import pytest
from support import enqueue, job_row, partial_dirs, wait_for, worker_config
from tiny_model import chat_jsonl

from lora_trainer.worker import Worker


@pytest.fixture
def make_worker(database_url, adapter_dir):
    made: list[Worker] = []

    def make(worker_id: str = "worker-a", **overrides) -> Worker:
        made.append(Worker(worker_config(database_url, adapter_dir, worker_id, **overrides)))
        return made[-1]

    yield make
    for worker in made:
        worker.stop.set()
        worker.close()


def in_background(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run_once, daemon=True)
    thread.start()
    return thread


def test_trains_the_bot_built_dataset_reporting_progress_then_succeeds(
    db, make_worker, tiny_model, bot_dataset, adapter_dir
):
    ids = enqueue(
        db,
        base_model=tiny_model,
        train_jsonl=bot_dataset["trainJsonl"],
        validation_jsonl=bot_dataset["validationJsonl"],
        sha256=bot_dataset["sha256"],
        hyperparameters={"maxSteps": 8, "batchSize": 4, "learningRate": 0.01, "evalSteps": 2},
    )
    worker = make_worker(step_delay_seconds=0.15)
    thread = in_background(worker)
    # Progress reaches the row while the job runs, not only at the end.
    during = wait_for(
        lambda: (
            (r := job_row(db, ids["id"]))["state"] == "running"
            and (r["progress"] or {}).get("step", 0) >= 2
            and r
        ),
        timeout=120,
        what="progress while running",
    )
    assert during["progress"]["totalSteps"] == 8 and during["progress"]["step"] < 8
    assert during["progress"]["loss"] is not None
    assert during["heartbeat_at"] is not None and during["lease_expires_at"] > during["heartbeat_at"]
    thread.join(timeout=120)
    assert not thread.is_alive()

    row = job_row(db, ids["id"])
    assert (row["state"], row["attempts"], row["claimed_by"], row["error"]) == (
        "succeeded",
        1,
        "worker-a",
        None,
    )
    assert row["progress"]["step"] == row["progress"]["totalSteps"] == 8
    assert row["progress"]["loss"] > 0 and row["progress"]["evalLoss"] > 0
    assert row["lease_expires_at"] is None and row["finished_at"] is not None
    adapter = adapter_dir / ids["id"]
    assert row["adapter_path"] == str(adapter)
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == str(
        tiny_model
    )
    assert (adapter / "adapter_model.safetensors").stat().st_size > 0
    assert partial_dirs(adapter_dir) == []
    assert worker.run_once() is False, "nothing else to do"


def test_cancellation_is_honoured_mid_training(db, make_worker, tiny_model, adapter_dir):
    ids = enqueue(
        db, base_model=tiny_model, train_jsonl=chat_jsonl(range(8)), hyperparameters={"maxSteps": 200}
    )
    thread = in_background(make_worker(step_delay_seconds=0.1))
    wait_for(lambda: (job_row(db, ids["id"])["progress"] or {}).get("step", 0) >= 2, 120, "training to start")
    # What the bot does to cancel a running job (trainer/README.md).
    db.execute("""UPDATE "TrainerJob" SET "cancelRequested" = true WHERE id = %s""", (ids["id"],))
    thread.join(timeout=30)
    assert not thread.is_alive(), "stopped within a few steps"
    row = job_row(db, ids["id"])
    assert row["state"] == "cancelled"
    assert row["error"].startswith("cancelled on request at step ")
    assert 2 <= row["progress"]["step"] < 200
    assert row["adapter_path"] is None and not (adapter_dir / ids["id"]).exists()
    assert partial_dirs(adapter_dir) == []


def test_a_failing_job_is_retried_a_bounded_number_of_times_then_fails_with_the_reason(
    db, make_worker, tmp_path
):
    missing = tmp_path / "no-such-model"
    ids = enqueue(db, base_model=missing, train_jsonl=chat_jsonl(range(4)), max_attempts=2)
    worker = make_worker()
    assert worker.run_once() is True
    row = job_row(db, ids["id"])
    assert (row["state"], row["attempts"]) == ("queued", 1)
    assert str(missing) in row["error"]
    assert worker.run_once() is True
    row = job_row(db, ids["id"])
    assert (row["state"], row["attempts"]) == ("failed", 2)
    assert row["error"].startswith("gave up after 2 attempts: ")
    assert str(missing) in row["error"]
    assert worker.run_once() is False


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"train_jsonl": chat_jsonl(range(2)) + "{oops\n"},
            "the training file is not chat JSONL: line 3: not valid JSON",
        ),
        ({"sha256": "0" * 64}, "the dataset does not match its datasetSha256"),
        ({"hyperparameters": {"epoch": 3}}, "unknown hyperparameters epoch"),
    ],
)
def test_a_job_that_cannot_succeed_fails_at_once_without_retries(db, make_worker, tiny_model, change, reason):
    job = {"base_model": tiny_model, "train_jsonl": chat_jsonl(range(4)), **change}
    ids = enqueue(db, max_attempts=3, **job)
    assert make_worker().run_once() is True
    row = job_row(db, ids["id"])
    assert (row["state"], row["attempts"]) == ("failed", 1)
    assert row["error"].startswith(reason)


def test_a_job_deleted_while_training_is_dropped_and_nothing_is_written(
    db, make_worker, tiny_model, adapter_dir
):
    ids = enqueue(
        db, base_model=tiny_model, train_jsonl=chat_jsonl(range(8)), hyperparameters={"maxSteps": 200}
    )
    thread = in_background(make_worker(step_delay_seconds=0.1))
    wait_for(lambda: (job_row(db, ids["id"])["progress"] or {}).get("step", 0) >= 1, 120, "training to start")
    # A person asked to be forgotten: the bot deletes their fine-tune job, and this row with it.
    db.execute("""DELETE FROM "FineTuneJob" WHERE id = %s""", (ids["fine_tune_job_id"],))
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert job_row(db, ids["id"]) is None
    assert not (adapter_dir / ids["id"]).exists()
    assert partial_dirs(adapter_dir) == []


def test_the_sweep_removes_what_no_job_owns_and_keeps_the_rest(db, make_worker, adapter_dir):
    kept = enqueue(db, base_model="m", train_jsonl=chat_jsonl(range(2)))
    forgotten = enqueue(db, base_model="m", train_jsonl=chat_jsonl(range(2)))
    running = enqueue(db, base_model="m", train_jsonl=chat_jsonl(range(2)))
    worker = make_worker()
    claimed = worker.queue().claim()  # the oldest: `kept`, now running under this claim
    assert claimed.id == kept["id"]
    layout = {
        kept["id"]: True,  # an adapter whose row exists
        forgotten["id"]: False,  # its row is deleted below: a person asked to be forgotten
        f".partial-{kept['id']}-{claimed.claim_token[:8]}": True,  # being written by a live claim
        f".partial-{running['id']}-deadbeef": False,  # left by a worker that died
        "not-a-job": True,  # not the trainer's to judge
    }
    for name in layout:
        (adapter_dir / name).mkdir(parents=True)
        (adapter_dir / name / "adapter_config.json").write_text("{}")
    db.execute("""DELETE FROM "FineTuneJob" WHERE id = %s""", (forgotten["fine_tune_job_id"],))
    worker.sweep()
    assert sorted(p.name for p in adapter_dir.iterdir()) == sorted(n for n, keep in layout.items() if keep)


def test_a_connection_dropped_during_training_does_not_cost_the_training(
    db, make_worker, tiny_model, adapter_dir
):
    ids = enqueue(
        db, base_model=tiny_model, train_jsonl=chat_jsonl(range(8)), hyperparameters={"maxSteps": 6}
    )
    worker = make_worker(step_delay_seconds=0.2)
    thread = in_background(worker)
    wait_for(lambda: (job_row(db, ids["id"])["progress"] or {}).get("step", 0) >= 2, 120, "training to start")
    # The server ends the worker's main session, idle since the claim (a restart, an idle timeout).
    db.execute("SELECT pg_terminate_backend(%s)", (worker._conn.info.backend_pid,))
    thread.join(timeout=60)
    row = job_row(db, ids["id"])
    assert (row["state"], row["attempts"]) == ("succeeded", 1)
    assert (adapter_dir / ids["id"] / "adapter_model.safetensors").exists()
