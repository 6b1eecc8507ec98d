"""procrastinate's job queue tables, functions and types, on PostgreSQL only

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

On PostgreSQL plan runs go through procrastinate, whose queue lives in the same
database (and schema) as the runs, so that a run and its queue job are written in one
transaction. Its schema is procrastinate's own ``schema.sql`` as shipped in the
installed package, whose version pyproject.toml pins to one minor release: moving to
another release takes a migration that applies procrastinate's migration scripts
between the two. SQLite has no queue table: the local worker reads ``plan_runs``.
"""

from alembic import op
from procrastinate.schema import SchemaManager

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = [
    "procrastinate_events",
    "procrastinate_periodic_defers",
    "procrastinate_jobs",
    "procrastinate_workers",
]
TYPES = [
    "procrastinate_job_to_defer_v1",
    "procrastinate_job_event_type",
    "procrastinate_job_status",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # Several statements in one, with no parameters: psycopg reads '%' as a placeholder.
    bind.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TABLE {table} CASCADE")
    functions = bind.exec_driver_sql(
        "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%%'"
    ).scalars()
    for function in list(functions):
        op.execute(f"DROP FUNCTION {function}")
    for type_name in TYPES:
        op.execute(f"DROP TYPE {type_name}")
