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
from sqlalchemy import Engine, inspect, text

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


def test_stock_stored_before_the_ledger_becomes_its_opening_balance(
    empty_database: Engine,
) -> None:
    """0008 on a database with stock: each level enters the ledger once, and the way back
    down and up again works with the rows in place."""
    upgrade(empty_database, "0007")
    with empty_database.begin() as connection:
        connection.execute(text("INSERT INTO parts (id, sku, name) VALUES (1, 'FLT', 'Filter')"))
        connection.execute(
            text(
                "INSERT INTO stock_locations (id, code, kind, name, technician_id)"
                " VALUES (1, 'VAN-T-01', 'van', 'Van', 7)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO stock_levels (location_id, part_id, on_hand, position)"
                " VALUES (1, 1, 4, 0)"
            )
        )
    upgrade(empty_database)
    with empty_database.connect() as connection:
        rows = connection.execute(
            text("SELECT kind, on_hand_change, reason FROM stock_movements")
        ).all()
        level = connection.execute(text("SELECT on_hand, reserved FROM stock_levels")).one()
    assert [tuple(row) for row in rows] == [("adjust", 4, "opening balance")]
    assert tuple(level) == (4, 0)
    downgrade(empty_database, "0007")
    upgrade(empty_database)
