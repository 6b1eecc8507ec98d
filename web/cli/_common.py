"""What every ``fieldops`` command shares: the group, errors, the database, files.

Expected failures (bad file, bad argument, bad scenario) end with a message and exit
status 2; a database that cannot be reached or used with exit status 1; never a traceback.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
)
from sqlalchemy.orm import Session

from dispatch.audit import set_actor
from dispatch.db import make_engine
from dispatch.schema import upgrade
from mobile_api.http import ENGINE_KEY, SESSIONS_KEY
from web.app import create_app, instance_path

#: Problems listed one per line before the rest are counted ("… and N more").
PROBLEMS_SHOWN = 20


class InputError(click.ClickException):
    """Bad input from the user: message and exit status 2, like a usage error."""

    exit_code = 2

    @classmethod
    def listing(cls, headline: str, problems: list[str]) -> InputError:
        """The headline, then each problem on its own indented line, at most twenty of them."""
        shown = problems[:PROBLEMS_SHOWN]
        if len(problems) > len(shown):
            shown.append(f"… and {len(problems) - len(shown)} more")
        return cls(f"{headline}:\n  " + "\n  ".join(shown))


class EnvironmentFailure(click.ClickException):
    """Something outside the user's input failed (database down, port taken): exit status 1."""

    exit_code = 1


class _Text(click.ParamType):
    """A string argument that is UTF-8 text: a terminal may pass any bytes, stored text may not."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not is_utf8(text):
            self.fail("is not UTF-8 text", param, ctx)
        return text


TEXT = _Text()


def is_utf8(text: str) -> bool:
    """False for strings holding bytes Python could not decode (``surrogateescape``)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Commands(click.Group):
    """The command group: a database error ends any command with a message, not a traceback.

    Data the database refuses is bad input that validation let through (exit 2); any
    other error (unreachable, not a database, no permission) is the environment's (exit 1).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (IntegrityError, DataError) as exc:
            raise InputError(f"the database refused the data: {exc.orig}") from None
        except DBAPIError as exc:
            raise EnvironmentFailure(f"cannot use the database: {exc.orig}") from None


@click.group(cls=_Commands)
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    type=TEXT,
    help="SQLAlchemy URL (default: DATABASE_URL, else SQLite in the instance folder).",
)
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """Field-service dispatch and route optimizer.

    Every command and the app use one database: --database-url, else DATABASE_URL, else
    fieldops.sqlite3 in the instance folder (FIELDOPS_INSTANCE_PATH moves it).
    """
    ctx.obj = {"DATABASE_URL": database_url} if database_url else {}


def main() -> None:
    """Console-script entry point."""
    cli()


def database(ctx: click.Context) -> Flask:
    """The app on this command's database, built once, its schema at the newest version.

    Prints which database it is; the engine closes with the command.
    """
    if "app" not in ctx.meta:
        config = ctx.find_object(dict) or {}
        if "DATABASE_URL" in config:
            check_database_url(config["DATABASE_URL"])
        try:
            app = create_app(config)
        except OSError as exc:  # the instance folder cannot be made or read
            raise InputError(
                f"{exc.filename}: {exc.strerror} (the instance folder is {instance_path()};"
                " FIELDOPS_INSTANCE_PATH moves it)"
            ) from None
        engine = app.extensions[ENGINE_KEY]
        ctx.call_on_close(engine.dispose)
        click.echo(f"Database: {shown_url(app.config['DATABASE_URL'])}", err=True)
        upgrade(engine)
        ctx.meta["app"] = app
    built: Flask = ctx.meta["app"]
    return built


def database_engine(ctx: click.Context) -> Engine:
    engine: Engine = database(ctx).extensions[ENGINE_KEY]
    return engine


@contextmanager
def transaction(ctx: click.Context) -> Iterator[Session]:
    """A session on the command's database, committed when the block succeeds."""
    sessions = database(ctx).extensions[SESSIONS_KEY]
    with sessions.begin() as session:
        set_actor(session, user_id=None, name=f"cli:{ctx.info_name}")
        yield session


def check_database_url(url: str) -> None:
    """Refuse a URL that is not one, names a driver that is not installed, or a missing folder.

    The URL is not echoed: it may hold a password.
    """
    example = "for example sqlite:///path/to/fieldops.sqlite3 or postgresql://user@host/db"
    try:
        make_engine(url).dispose()  # parses, loads the dialect and its driver; connects to nothing
    except NoSuchModuleError:
        raise InputError(
            f"--database-url / DATABASE_URL names a kind of database fieldops does not know"
            f" ({make_url(url).drivername}); it supports SQLite and PostgreSQL ({example})"
        ) from None
    except (ArgumentError, ValueError):
        raise InputError(
            f"--database-url / DATABASE_URL is not a database URL ({example})"
        ) from None
    except ImportError as exc:
        raise InputError(
            f"--database-url / DATABASE_URL names a database driver that is not installed"
            f" ({exc.name}); fieldops supports SQLite and PostgreSQL ({example})"
        ) from None
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        file = Path(parsed.database)
        if file.is_dir():
            raise InputError(f"the database {file} is a folder, not a file")
        if not file.parent.is_dir():
            raise InputError(f"the database's folder {file.parent} does not exist")


def shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def output_path(_ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Check an output file's folder before any work is done, so a long run is not wasted."""
    if value is not None and not value.parent.is_dir():
        raise click.BadParameter(f"folder {str(value.parent)!r} does not exist", param=param)
    return value


def iso_date(_ctx: click.Context, _param: click.Parameter, value: str) -> date:
    """A DATE argument: YYYY-MM-DD, refused with an example otherwise."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"DATE must look like 2026-11-24, got {value!r}") from None


def finite_seconds(_ctx: click.Context, param: click.Parameter, value: float) -> float:
    if math.isnan(value):
        raise click.BadParameter("must be a number of seconds", param=param)
    return value


def write_text(path: Path, text: str) -> None:
    """Write the whole file or leave it as it was: a file beside it, renamed over it."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {exc.strerror}") from None


def read_text(file: Path) -> str:
    try:
        # utf-8-sig: spreadsheet programs start UTF-8 files with a byte order mark.
        return file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{file} is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"cannot read {file}: {exc.strerror}") from None


def read_json(file: Path) -> Any:
    text = read_text(file)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{file} is not JSON: {exc}") from None
    except RecursionError:
        raise InputError(f"{file} is not JSON fieldops reads: nested too deeply") from None
