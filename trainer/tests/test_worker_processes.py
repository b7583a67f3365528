"""Workers as separate OS processes (`python -m lora_trainer`), as they run on GPU machines: two at
once share the queue without taking the same job; one killed mid-training (SIGKILL) loses its job to
the other once its lease expires, and the job completes; one frozen (SIGSTOP) and presumed dead that
comes back (SIGCONT) finds its job taken and writes nothing; one told to stop (SIGTERM) gives its job
back, which another worker then completes."""

import signal

from support import enqueue, job_row, partial_dirs, wait_for
from tiny_model import chat_jsonl

# 0.3 s per step: slow enough to act mid-training, fast enough for the tests.
SLOW = {"TRAINER_STEP_DELAY_SECONDS": "0.3"}
STEPS = {"maxSteps": 10, "batchSize": 2}


def progress_step(db, job_id: str) -> int:
    row = job_row(db, job_id)
    return (row["progress"] or {}).get("step", 0) if row["state"] == "running" else 0


def logs(*workers) -> callable:
    return lambda: "\n".join(f"--- {w.worker_id}\n{w.log()[-3000:]}" for w in workers)


def test_two_workers_share_the_queue_and_a_killed_workers_job_is_retried_by_the_other(
    db, start_worker, tiny_model, adapter_dir
):
    jobs = [
        enqueue(db, base_model=tiny_model, train_jsonl=chat_jsonl(range(8)), hyperparameters=STEPS)["id"]
        for _ in range(2)
    ]
    workers = {w.worker_id: w for w in (start_worker("gpu-a", **SLOW), start_worker("gpu-b", **SLOW))}
    show = logs(*workers.values())
    # Both train at the same time, one job each.
    wait_for(
        lambda: all(progress_step(db, j) >= 1 for j in jobs),
        180,
        "both jobs to make progress",
        on_timeout=show,
    )
    rows = {j: job_row(db, j) for j in jobs}
    assert {r["claimed_by"] for r in rows.values()} == set(workers)
    victim_job, survivor_job = jobs
    victim = workers[rows[victim_job]["claimed_by"]]
    survivor = workers[rows[survivor_job]["claimed_by"]]

    victim.signal(signal.SIGKILL)
    victim.process.wait(timeout=10)
    # The survivor finishes its own job, then takes the dead worker's back once the lease expires.
    done = wait_for(
        lambda: all(job_row(db, j)["state"] == "succeeded" for j in jobs) and [job_row(db, j) for j in jobs],
        180,
        "both jobs to succeed",
        on_timeout=show,
    )
    retried, own = done
    assert (own["attempts"], own["claimed_by"]) == (1, survivor.worker_id)
    assert (retried["attempts"], retried["claimed_by"], retried["error"]) == (2, survivor.worker_id, None)
    for row in done:
        assert row["progress"]["step"] == 10
        assert (adapter_dir / row["id"] / "adapter_model.safetensors").exists()
    assert f"worker {victim.worker_id} stopped heartbeating" in survivor.log()
    # The killed worker's unfinished adapter was swept away once its job was taken back.
    assert partial_dirs(adapter_dir) == []


def test_a_worker_presumed_dead_that_comes_back_cannot_overwrite_the_job_and_sigterm_releases_a_job(
    db, start_worker, tiny_model, adapter_dir
):
    job = enqueue(db, base_model=tiny_model, train_jsonl=chat_jsonl(range(8)), hyperparameters=STEPS)["id"]
    stale = start_worker("gpu-stale", **SLOW)
    show = logs(stale)
    wait_for(lambda: progress_step(db, job) >= 1, 180, "the first worker to train", on_timeout=show)
    stale.signal(signal.SIGSTOP)  # hung: no heartbeats, no steps, still holding its connections
    taken_over_at = job_row(db, job)
    fresh = start_worker("gpu-fresh", **SLOW)
    show = logs(stale, fresh)
    wait_for(
        lambda: job_row(db, job)["claimed_by"] == "gpu-fresh" and progress_step(db, job) >= 2,
        180,
        "the second worker to take the job over",
        on_timeout=show,
    )
    mine = job_row(db, job)
    assert mine["attempts"] == 2 and mine["claim_token"] != taken_over_at["claim_token"]

    stale.signal(signal.SIGCONT)  # it wakes up believing it still holds the job
    wait_for(lambda: "is no longer ours" in stale.log(), 60, "the stale worker to notice", on_timeout=show)
    done = wait_for(
        lambda: (r := job_row(db, job))["state"] == "succeeded" and r,
        120,
        "the job to succeed",
        on_timeout=show,
    )
    assert (done["claimed_by"], done["attempts"], done["claim_token"]) == (
        "gpu-fresh",
        2,
        mine["claim_token"],
    )
    assert done["progress"]["step"] == 10
    assert sorted(p.name for p in adapter_dir.iterdir()) == [job], "one adapter, nothing half-written"
    assert stale.process.poll() is None, "the stale worker carries on, ready for other jobs"

    # SIGTERM mid-training: the worker stops after the step, gives the job back and exits 0.
    second = enqueue(db, base_model=tiny_model, train_jsonl=chat_jsonl(range(8)), hyperparameters=STEPS)["id"]
    wait_for(lambda: progress_step(db, second) >= 1, 120, "a worker to train the second job", on_timeout=show)
    holder = {"gpu-stale": stale, "gpu-fresh": fresh}[job_row(db, second)["claimed_by"]]
    other = fresh if holder is stale else stale
    holder.signal(signal.SIGTERM)
    released = wait_for(
        lambda: (r := job_row(db, second))["error"] and r,
        60,
        "the job to be given back",
        interval=0.02,
        on_timeout=show,
    )
    assert released["error"].startswith(f"released by worker {holder.worker_id} shutting down at step ")
    # Given back without using an attempt (unless the other worker has claimed it again already).
    assert released["attempts"] == (0 if released["state"] == "queued" else 1)
    assert holder.process.wait(timeout=120) == 0
    done = wait_for(
        lambda: (r := job_row(db, second))["state"] == "succeeded" and r,
        120,
        "the released job",
        on_timeout=show,
    )
    assert (done["claimed_by"], done["attempts"], done["error"]) == (other.worker_id, 1, None)
