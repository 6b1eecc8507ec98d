"""Migrations upgrade from empty, downgrade cleanly, and match the models (pytest-alembic)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.config import Config
from pytest_alembic.tests import (  # noqa: F401  (collected as tests here)
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
from sqlalchemy import Engine, inspect

from dispatch.db import make_engine
from dispatch.schema import MIGRATIONS_DIR, downgrade, upgrade
from tests.conftest import DatabaseMaker


@pytest.fixture
def alembic_config() -> Config:
    """pytest-alembic reads the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


@pytest.fixture
def empty_database(database_maker: DatabaseMaker) -> Iterator[Engine]:
    """An engine on a database with no tables at all."""
    with database_maker.new_database() as url:
        engine = make_engine(url)
        downgrade(engine, "base")
        yield engine
        engine.dispose()


@pytest.fixture
def alembic_engine(empty_database: Engine) -> Engine:
    return empty_database


def test_downgrade_to_base_leaves_only_the_version_table(empty_database: Engine) -> None:
    """Upgrade then downgrade to base removes every table the migrations created."""
    upgrade(empty_database)
    assert "jobs" in inspect(empty_database).get_table_names()
    downgrade(empty_database, "base")
    assert set(inspect(empty_database).get_table_names()) <= {"alembic_version"}
