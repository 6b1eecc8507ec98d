"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

Each test gets a fresh, migrated database of its own: a new SQLite file, or a new
PostgreSQL schema selected through ``search_path`` in the URL. Migrating is
cheap (well under 0.1 s), and tests may then commit, open several connections
and run threads exactly as the application does.

PostgreSQL tests are skipped when no server answers, unless
``FIELDOPS_REQUIRE_POSTGRES=1`` (set by CI) turns that into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audit import make_session_factory
from dispatch.db import make_engine
from dispatch.schema import upgrade

POSTGRES_URL = os.environ.get(
    "FIELDOPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("FIELDOPS_REQUIRE_POSTGRES") == "1"


def _postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    try:
        engine = make_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except (SQLAlchemyError, OSError) as exc:  # driver and network errors: "not reachable"
        return f"PostgreSQL at {POSTGRES_URL} not reachable: {exc.__class__.__name__}"
    return None


class DatabaseMaker:
    """Makes fresh migrated databases for one backend and removes them at the end."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.workdir = workdir
        self._admin = make_engine(POSTGRES_URL) if backend == "postgresql" else None

    @contextmanager
    def new_database(self) -> Iterator[str]:
        """A fresh migrated database, removed again on exit; yields its URL."""
        schema = f"fieldops_test_{uuid.uuid4().hex[:12]}"
        if self._admin is None:
            url = f"sqlite:///{self.workdir / f'{schema}.sqlite3'}"
        else:
            with self._admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        try:
            yield url
        finally:
            if self._admin is not None:
                with self._admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))

    def close(self) -> None:
        if self._admin is not None:
            self._admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_maker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseMaker]:
    """Source of fresh databases on one backend; the whole suite runs once per backend."""
    if request.param == "postgresql":
        problem = _postgres_problem()
        if problem:
            if REQUIRE_POSTGRES:
                pytest.fail(problem + " (FIELDOPS_REQUIRE_POSTGRES=1)")
            pytest.skip(problem)
    maker = DatabaseMaker(request.param, tmp_path_factory.mktemp(request.param))
    yield maker
    maker.close()


@pytest.fixture
def database_url(database_maker: DatabaseMaker, request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a fresh database migrated to the newest revision.

    Tests marked ``postgresql_only`` (row locks, concurrent writers) skip on SQLite, which
    serializes all writers and so has no race to prove.
    """
    if database_maker.backend != "postgresql" and request.node.get_closest_marker(
        "postgresql_only"
    ):
        pytest.skip("SQLite serializes all writers; the race is PostgreSQL's to prove")
    with database_maker.new_database() as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """The application's session factory (with the event log) on the test database."""
    return make_session_factory(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One session; tests commit or flush as the code under test requires."""
    with sessions() as session:
        yield session
