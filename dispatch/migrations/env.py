"""Alembic environment: runs on the connection handed over by ``dispatch.schema``."""

from alembic import context

from dispatch.schema import TARGET_METADATA

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through dispatch.schema (fieldops init-db), not bare alembic")

context.configure(
    connection=connection,
    target_metadata=TARGET_METADATA,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
