"""Create and evolve the database schema with Alembic, from code or the CLI.

The migration scripts ship inside the package (``dispatch/migrations``) so an
installed ``fieldops`` can upgrade a database without a source checkout.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, MetaData

import dispatch.field_models  # defines tables on Base.metadata
import dispatch.models  # noqa: F401  (defines tables on Base.metadata)
from dispatch.db import Base
from inventory.models import InventoryBase

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

#: Everything the migrations must create; compared against them by the drift test.
TARGET_METADATA: list[MetaData] = [Base.metadata, InventoryBase.metadata]


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configuration pointing at the packaged migrations.

    When ``connection`` is given the migrations run on it (and inside its
    transaction) instead of opening their own.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database at ``engine`` up to ``revision``."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database at ``engine`` down to ``revision`` (``"base"`` empties it)."""
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)
