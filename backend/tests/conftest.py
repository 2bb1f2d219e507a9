"""Shared fixtures: a real app on a temp SQLite file (or a fresh PostgreSQL database), a live uvicorn server, a tiny
local model."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from llm_trainer.api.app import create_app
from llm_trainer.core.config import Settings
from llm_trainer.db.base import make_engine, make_session_factory
from llm_trainer.db.migrate import upgrade_to_head
from tests.helpers.tiny_model import build_tiny_bert

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATASETS = REPO_ROOT.parent / "shared" / "datasets"
# What a browser on the user's machine sends as Host (the server refuses other names: DNS rebinding).
LOCAL_URL = "http://127.0.0.1"

# Tests never touch the network: the hub is unreachable by construction.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MODELSCOPE_OFFLINE", "1")  # tests that use ModelScope unset it and serve a loopback fake
# A PostgreSQL server (CI starts one): API and database tests then run a second time on it, each in a fresh database.
POSTGRES_URL = os.environ.get("LLM_TRAINER_TEST_POSTGRES_URL", "")
POSTGRES_SUITES = ("api", "db")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    suite = Path(str(metafunc.definition.path)).parent.name
    if POSTGRES_URL and suite in POSTGRES_SUITES and "database_url" in metafunc.fixturenames:
        metafunc.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """'' (the SQLite file in the data dir), or the URL of a fresh PostgreSQL database dropped after the test."""
    if getattr(request, "param", "sqlite") != "postgresql":
        yield ""
        return
    from uuid import uuid4

    from sqlalchemy import create_engine, make_url, text

    name = f"llmt_test_{uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(admin, name)
        admin.dispose()


def _drop(admin: Engine, name: str) -> None:
    """Drop a test database; FORCE cannot end an autovacuum worker (the superuser's) that happens to be in it, so a
    refusal is retried until the worker is done (seen once in CI: InsufficientPrivilege at teardown)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    for attempt in range(40):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except DBAPIError:
            if attempt == 39:
                raise
            time.sleep(0.25)


@pytest.fixture(scope="session", autouse=True)
def model_roots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests keep their tiny local models in pytest's temp folder: that is the allowed model root (servers and
    workers started by tests inherit it through the environment)."""
    os.environ["LLM_TRAINER_MODEL_ROOTS"] = str(tmp_path_factory.getbasetemp().resolve())
    yield
    os.environ.pop("LLM_TRAINER_MODEL_ROOTS", None)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path, database_url: str) -> Settings:
    return Settings(data_dir=data_dir, frontend_dist=data_dir / "no-ui", database_url=database_url)


@pytest.fixture
def factory(settings: Settings):
    """A session factory on the test's migrated database (for service/worker tests without HTTP)."""
    settings.ensure_dirs()
    engine = make_engine(settings.database)
    upgrade_to_head(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url=LOCAL_URL) as c:
        yield c


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, log_path: Path | None = None, env: dict[str, str] | None = None):
    """Start a real uvicorn process on a free port with its own data dir; returns (process, base URL) once it
    answers (fault tests kill it themselves)."""
    port = _free_port()
    env = {**os.environ, "LLM_TRAINER_DATA_DIR": str(data_dir), **(env or {})}
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it open
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_trainer.cli", "serve", "--port", str(port)],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL,
    )
    if log_path:
        out.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


@contextmanager
def run_server(data_dir: Path, log_path: Path | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start a real uvicorn process on a free port with its own data dir; yields the base URL, stops it after."""
    proc, url = start_server(data_dir, log_path, env)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def live_server(data_dir: Path, database_url: str) -> Iterator[str]:
    """A real uvicorn process on a free port with its own data dir (and database); yields the base URL."""
    with run_server(data_dir, env={"LLM_TRAINER_DATABASE_URL": database_url}) as url:
        yield url


TINY_TEXTS = ["这家店的菜很好吃", "送餐太慢了，饭都凉了", "味道不错，还会再来", "难吃，差评", "服务很好", "包装破了"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), TINY_TEXTS)
