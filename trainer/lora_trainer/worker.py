"""The worker loop: take back expired jobs, claim the next one, train it with a heartbeat running
beside the training, and settle the job (succeeded, failed, cancelled, or queued again).

The heartbeat runs on its own thread and database connection, so a long optimizer step never lets
the lease lapse. It also carries the news back: a cancellation request, or the loss of the job (the
row was taken back by another worker or deleted). Training checks after every step whether to stop.
"""

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg

from .config import Config
from .dataset import parse_chat_jsonl, verify_sha256
from .errors import JobInputError
from .hyperparameters import parse_hyperparameters
from .job_queue import ClaimedJob, JobQueue, connect
from .training import ProgressBoard, train_adapter

log = logging.getLogger("lora_trainer")
T = TypeVar("T")
PARTIAL_PREFIX = ".partial-"
SWEEP_SECONDS = 600


class Heartbeat(threading.Thread):
    """Renews the lease of one job every `heartbeat_seconds` and records its progress."""

    def __init__(self, config: Config, job: ClaimedJob, board: ProgressBoard):
        super().__init__(name=f"heartbeat-{job.id[:8]}", daemon=True)
        self.config = config
        self.job = job
        self.board = board
        self.cancel_requested = threading.Event()
        self.lost = threading.Event()
        self._finishing = threading.Event()
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        # The lease the claim gave runs from about now.
        self._renewed_at = time.monotonic()

    def run(self) -> None:
        try:
            while not self._finishing.wait(self.config.heartbeat_seconds) and not self.lost.is_set():
                self.beat()
        finally:
            if self._conn is not None:
                self._conn.close()

    def beat(self) -> None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.config.database_url)
            queue = JobQueue(self._conn, self.config.worker_id, self.config.lease_seconds)
            cancel = queue.heartbeat(self.job, self.board.snapshot())
        except psycopg.Error as error:
            log.warning("heartbeat for job %s failed: %s", self.job.id, _first_line(error))
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            # Past the lease another worker may already have taken the job: stop rather than race it.
            if (
                time.monotonic() - self._renewed_at
                > self.config.lease_seconds - self.config.heartbeat_seconds
            ):
                log.warning("job %s: could not renew its lease in time, giving it up", self.job.id)
                self.lost.set()
            return
        self._renewed_at = time.monotonic()
        if cancel is None:
            self.lost.set()
        elif cancel:
            self.cancel_requested.set()

    def finish(self) -> None:
        self._finishing.set()
        if self.is_alive():
            self.join()


class Worker:
    def __init__(self, config: Config, stop: threading.Event | None = None):
        self.config = config
        self.stop = stop or threading.Event()
        self._conn: psycopg.Connection[dict[str, Any]] | None = None
        self._next_sweep = 0.0

    def queue(self) -> JobQueue:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.config.database_url)
        return JobQueue(self._conn, self.config.worker_id, self.config.lease_seconds)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def settle(self, write: Callable[[JobQueue], T]) -> T:
        """Runs a job's final write, on a new connection if the one that sat idle through the
        training was dropped meanwhile: hours of training are not thrown away for a lost socket.
        The writes are fenced, so trying one again cannot do it twice."""
        try:
            return write(self.queue())
        except psycopg.OperationalError as error:
            log.warning("database connection lost (%s), reconnecting to record the job", _first_line(error))
            self.close()
            return write(self.queue())

    def run_forever(self) -> None:
        log.info("worker %s started, adapters go to %s", self.config.worker_id, self.config.adapter_dir)
        self.config.adapter_dir.mkdir(parents=True, exist_ok=True)
        while not self.stop.is_set():
            try:
                if self._conn is None or time.monotonic() >= self._next_sweep:
                    self.sweep()
                worked = self.run_once()
            except psycopg.OperationalError as error:
                log.warning("database unavailable (%s), retrying", _first_line(error))
                self.close()
                worked = False
            if not worked:
                self.stop.wait(self.config.poll_seconds)
        self.close()
        log.info("worker %s stopped", self.config.worker_id)

    def run_once(self) -> bool:
        """Takes back expired jobs, then claims and runs one job. False when there was none."""
        queue = self.queue()
        settled = queue.reap()
        for row in settled:
            log.warning("job %s taken back, now %s: %s", row["id"], row["state"], row["error"])
        if settled:
            # A worker that stopped heartbeating may have left an unfinished adapter behind.
            self.sweep()
        job = queue.claim()
        if job is None:
            return False
        log.info("job %s claimed (attempt %s of %s)", job.id, job.attempt, job.max_attempts)
        self.run_job(queue, job)
        return True

    def run_job(self, queue: JobQueue, job: ClaimedJob) -> None:
        board = ProgressBoard()
        heartbeat = Heartbeat(self.config, job, board)
        heartbeat.start()
        self.config.adapter_dir.mkdir(parents=True, exist_ok=True)
        partial = self.config.adapter_dir / f"{PARTIAL_PREFIX}{job.id}-{job.claim_token[:8]}"
        final = self.config.adapter_dir / job.id

        def should_stop() -> bool:
            return heartbeat.lost.is_set() or heartbeat.cancel_requested.is_set() or self.stop.is_set()

        try:
            try:
                verify_sha256(job.train_jsonl, job.validation_jsonl, job.dataset_sha256)
                train = parse_chat_jsonl(job.train_jsonl, "training")
                validation = (
                    parse_chat_jsonl(job.validation_jsonl, "validation") if job.validation_jsonl else None
                )
                hyperparameters = parse_hyperparameters(job.hyperparameters)
                outcome = train_adapter(
                    job.base_model,
                    train,
                    validation,
                    hyperparameters,
                    partial,
                    progress=board,
                    should_stop=should_stop,
                    step_delay_seconds=self.config.step_delay_seconds,
                )
            except JobInputError as error:
                heartbeat.finish()
                reason = str(error)
                state = self.settle(lambda q: q.fail(job, reason, retry=False))
                log.warning("job %s refused (%s): %s", job.id, state or "no longer ours", error)
                return
            except Exception as error:
                heartbeat.finish()
                if heartbeat.lost.is_set():
                    log.warning("job %s: lost it while training, then: %s", job.id, _describe(error))
                    return
                log.exception("job %s: attempt %s failed", job.id, job.attempt)
                reason = _describe(error)
                state = self.settle(lambda q: q.fail(job, reason, retry=True))
                log.warning("job %s is now %s", job.id, state or "no longer ours")
                return
            heartbeat.finish()
            progress = board.snapshot()
            if heartbeat.lost.is_set():
                log.warning("job %s is no longer ours (taken back or deleted): nothing written", job.id)
            elif heartbeat.cancel_requested.is_set():
                self.settle(lambda q: q.cancel(job, progress))
                log.info("job %s cancelled at step %s", job.id, progress["step"])
            elif outcome.completed:
                state = self.settle(lambda q: q.succeed(job, progress, partial, final))
                log.info("job %s: %s", job.id, state or "lost before it could be recorded, discarded")
            else:
                self.settle(lambda q: q.release(job, progress))
                log.info("job %s released at step %s (shutting down)", job.id, progress["step"])
        finally:
            heartbeat.finish()
            shutil.rmtree(partial, ignore_errors=True)

    def sweep(self) -> None:
        """Removes from the adapter directory what no job owns any more: unfinished adapters left by
        workers that died (never one a live worker is writing: the directory is named for the job and
        the claim token writing it), and the adapters of jobs whose row was deleted, which is what
        happens when a person asks to be forgotten (their FineTuneJob goes, and its TrainerJob with
        it). Runs at start, after a lease was taken back, and every SWEEP_SECONDS while running."""
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        if not self.config.adapter_dir.is_dir():
            return
        queue = self.queue()
        for path in sorted(self.config.adapter_dir.iterdir()):
            if path.name.startswith(PARTIAL_PREFIX):
                job_id, _, token_prefix = path.name[len(PARTIAL_PREFIX) :].rpartition("-")
                if not queue.holds(job_id, token_prefix):
                    shutil.rmtree(path, ignore_errors=True)
                    log.info("removed %s, left by a worker that stopped", path.name)
            elif path.is_dir() and _is_uuid(path.name) and not queue.exists(path.name):
                shutil.rmtree(path, ignore_errors=True)
                log.info("removed the adapter of job %s: its row was deleted", path.name)


def _is_uuid(name: str) -> bool:
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False


def _describe(error: BaseException) -> str:
    """The library's own words, first line only and bounded: enough to act on, no stack, and short
    enough that no dataset text it might quote ends up in the row."""
    return f"{type(error).__name__}: {_first_line(error)}"[:500]


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "(no message)"
