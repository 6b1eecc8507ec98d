"""Alembic environment: runs on the connection (or engine) handed over in attributes.

``dispatch.schema`` hands over a Connection; pytest-alembic hands over an Engine.
"""

from alembic import context
from sqlalchemy import Connection, Engine

from dispatch.schema import TARGET_METADATA

#: Tables other libraries keep in our database: procrastinate's (migration 0007) and
#: APScheduler's job store (created by ``fieldops scheduler``).
FOREIGN_TABLES = ("procrastinate_", "apscheduler_jobs")


def _ours(name: str | None, type_: str, _parents: object) -> bool:
    """Other libraries' tables are not in our models: leave them out of diffs."""
    return not (type_ == "table" and name is not None and name.startswith(FOREIGN_TABLES))


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=TARGET_METADATA,
        include_name=_ours,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connectable: Engine | Connection | None = context.config.attributes.get("connection")
if connectable is None:
    raise RuntimeError(
        "run migrations through dispatch.schema (fieldops init-db), not bare alembic"
    )
if isinstance(connectable, Engine):
    with connectable.connect() as connection:
        run_migrations(connection)
        connection.commit()
else:
    run_migrations(connectable)
