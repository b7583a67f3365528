"""Shared fixtures: a real Postgres database migrated with the bot's real migrations (Prisma's
`migrate deploy`, as the bot runs them), the tiny model, the bot-built dataset, and worker processes.

The server comes from DATABASE_URL (.ci/run starts one with shared/scripts/postgres-pgvector.sh and
exports it). Each session creates its own database on it and drops it at the end, so runs (and
other users of the server) do not see each other's rows.
"""

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# Before torch is imported anywhere: one thread per process. The machines have two cores, and
# several training processes with a thread per core each run many times slower than with one.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Nothing may come from the network: models and tokenizers are the ones the tests make.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import psycopg
import pytest
from support import WorkerProcess

from lora_trainer.job_queue import connect

TRAINER = Path(__file__).resolve().parents[1]
REPO = TRAINER.parent


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


class _Started:
    """A command started when the session starts and awaited by the fixture that needs its result:
    the migrations and the bot-built dataset take Node.js a few seconds each, which then overlap
    with the seconds torch takes to import in the first tests."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None):
        self.command = command
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def result(self) -> str:
        out, err = self.process.communicate(timeout=300)
        if self.process.returncode != 0:
            pytest.fail(f"{' '.join(self.command)} failed ({self.process.returncode}):\n{out}\n{err}")
        return out


_session: dict[str, Any] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    _session["dataset"] = _Started(["node", "--import", "tsx", str(TRAINER / "tests" / "build-dataset.ts")])
    server = os.environ.get("DATABASE_URL", "")
    if not server or not (REPO / "node_modules" / "prisma").is_dir():
        return  # the database_url fixture explains what is missing to the tests that need it
    name = f"trainer_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(server, name)
    _session.update(server=server, name=name, url=url)
    # The bot's own migration command, so the table the worker sees is the one the bot creates.
    _session["migration"] = _Started(
        ["npm", "run", "-s", "prisma", "--", "migrate", "deploy"], env={**os.environ, "DATABASE_URL": url}
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for started in (_session.get("dataset"), _session.get("migration")):
        if started is not None and started.process.poll() is None:
            started.process.kill()
            started.process.wait()
    if "name" in _session:
        with psycopg.connect(_session["server"], autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{_session["name"]}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url() -> str:
    if not os.environ.get("DATABASE_URL"):
        pytest.fail(
            "DATABASE_URL is not set: the worker tests need a Postgres server. Start one with\n"
            '  eval "$(../shared/scripts/postgres-pgvector.sh start)"\n(.ci/run does this).'
        )
    if "migration" not in _session:
        pytest.fail("the bot's node_modules are missing: run `npm ci` at the repository root first")
    _session["migration"].result()
    return _session["url"]


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    conn = connect(database_url)
    conn.execute('TRUNCATE "TrainerJob", "FineTuneJob", "FineTuneProposal", "User" CASCADE')
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_model import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def bot_dataset() -> dict[str, Any]:
    """A dataset built by the bot's own code (src/core/fine-tune/dataset.ts)."""
    return json.loads(_session["dataset"].result())


@pytest.fixture
def adapter_dir(tmp_path: Path) -> Path:
    return tmp_path / "adapters"


@pytest.fixture
def start_worker(
    database_url: str, adapter_dir: Path, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(worker_id: str, **settings: str) -> WorkerProcess:
        worker = WorkerProcess(database_url, adapter_dir, worker_id, tmp_path, **settings)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
