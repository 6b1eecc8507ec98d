"""Concurrent reservations for the same part on PostgreSQL: none oversold, and how many a second.

    python benchmarks/reservations.py [--threads 16] [--attempts 1000] [--units 100]

The issue's target: 1,000 concurrent reservation attempts against 100 units → exactly
100 succeed, 0 oversold. A scratch database ``fieldops_bench_<pid>`` is created on the
server of ``DATABASE_URL`` (else postgresql://postgres@127.0.0.1:5432/test), migrated,
and dropped at the end, whatever happens. One warehouse holds ``--units`` of one part;
``--threads`` threads make the attempts, one unit for a job each (distinct job ids), every
attempt its own transaction and session through ``inventory.reservations.reserve``, as
the application makes them (pool pre-ping included). The figures are then checked
against the ledger; the exit status is 1 when anything disagrees.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, time
from time import perf_counter

from sqlalchemy import Engine, func, make_url, select, text
from sqlalchemy.orm import Session, sessionmaker

from dispatch.audit import make_session_factory
from dispatch.db import make_engine
from dispatch.schema import upgrade
from inventory import ledger, reservations, service
from inventory.models import Movement, MovementKind, Reservation, StockLevel
from inventory.service import VanData, WarehouseData

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
DAY = date(2026, 11, 24)
SKU = "FLT-2020"
CLERK = ledger.Actor(None, "benchmark")


def stock(sessions: sessionmaker[Session], units: int) -> None:
    """WH-1 holding ``units`` of the part, and the van the reservations are for."""
    with sessions() as session:
        service.upsert_parts(session, {SKU: "Air filter 20x20"})
        service.upsert_warehouses(
            session,
            [
                WarehouseData(
                    "WH-1",
                    "North depot",
                    59.91,
                    10.75,
                    time(7),
                    time(17),
                    10,
                    {SKU: units},
                )
            ],
        )
        service.upsert_vans(session, [VanData(1, "T-01", "Technician T-01", {})])
        session.commit()


def attempt(sessions: sessionmaker[Session], job_id: int) -> float | None:
    """One unit for one job in a transaction of its own: when it was held (committed),
    or None when it was refused."""
    with sessions() as session:
        try:
            reservations.reserve(
                session,
                job_id=job_id,
                day=DAY,
                location_code="WH-1",
                van_code="VAN-T-01",
                sku=SKU,
                quantity=1,
                actor=CLERK,
                reason="benchmark",
            )
        except ledger.InsufficientStock:
            session.rollback()
            return None
        session.commit()
        return perf_counter()


def race(engine: Engine, threads: int, attempts: int) -> tuple[list[float | None], float]:
    """Every attempt's outcome (seconds from the start to its commit, or None when it was
    refused), and the wall time of them all; the pool's connections are opened first."""
    warm = [engine.connect() for _ in range(threads)]
    for connection in warm:
        connection.close()
    sessions = make_session_factory(engine)
    start = threading.Barrier(threads + 1)

    def worker(first: int) -> list[float | None]:
        start.wait()
        return [attempt(sessions, job_id) for job_id in range(first, attempts + 1, threads)]

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(worker, first) for first in range(1, threads + 1)]
        start.wait()
        began = perf_counter()
        outcomes = [held for future in futures for held in future.result()]
        seconds = perf_counter() - began
    return [None if held is None else held - began for held in outcomes], seconds


def books(sessions: sessionmaker[Session]) -> dict[str, int]:
    """The balance, the ledger's sums and rows, and the reservation lines, as committed."""
    with sessions() as session:
        level = session.scalars(select(StockLevel)).one()
        on_hand, reserved, reserve_rows = session.execute(
            select(
                func.sum(Movement.on_hand_change),
                func.sum(Movement.reserved_change),
                func.count().filter(Movement.kind == MovementKind.RESERVE),
            )
        ).one()
        lines, held = session.execute(
            select(func.count(), func.coalesce(func.sum(Reservation.reserved), 0))
        ).one()
        return {
            "on_hand": level.on_hand,
            "reserved": level.reserved,
            "ledger_on_hand": int(on_hand),
            "ledger_reserved": int(reserved),
            "reserve_rows": int(reserve_rows),
            "lines": int(lines),
            "lines_reserved": int(held),
        }


def run(url: str, threads: int, attempts: int, units: int) -> bool:
    """The benchmark on a migrated empty database at ``url``; whether every check held."""
    engine = make_engine(url, pool_size=threads, max_overflow=0)
    try:
        upgrade(engine)
        sessions = make_session_factory(engine)
        stock(sessions, units)
        outcomes, seconds = race(engine, threads, attempts)
        after = books(sessions)
    finally:
        engine.dispose()
    held = [at for at in outcomes if at is not None]
    succeeded = len(held)
    oversold = max(succeeded - after["on_hand"], after["reserved"] - after["on_hand"], 0)
    expected = min(units, attempts)
    agrees = (
        after["ledger_on_hand"] == after["on_hand"]
        and after["ledger_reserved"] == after["reserved"] == after["lines_reserved"]
        and after["reserve_rows"] == after["lines"] == succeeded
    )
    print(f"threads            {threads}")
    print(f"attempts           {len(outcomes)}")
    print(f"succeeded          {succeeded} (expected {expected})")
    print(f"refused            {len(outcomes) - succeeded}")
    print(f"oversold           {oversold}")
    print(f"on hand / reserved {after['on_hand']} / {after['reserved']}")
    print(
        f"ledger             {after['reserve_rows']} reserve rows, sums {after['ledger_on_hand']}"
        f" on hand / {after['ledger_reserved']} reserved; {after['lines']} reservation lines"
        f" holding {after['lines_reserved']}: {'agrees' if agrees else 'DISAGREES'}"
    )
    print(f"wall time          {seconds:.2f} s")
    print(
        f"throughput         {len(outcomes) / seconds:.0f} attempts/s,"
        f" {succeeded / seconds:.0f} successes/s over the whole run"
    )
    if held:
        last = max(held)
        print(
            f"last success       after {last:.2f} s: {succeeded / last:.0f} successes/s"
            " while stock lasted"
        )
    return succeeded == expected and oversold == 0 and agrees


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a whole number above zero")
    return number


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--threads", type=positive, default=16)
    parser.add_argument("--attempts", type=positive, default=1000)
    parser.add_argument("--units", type=positive, default=100)
    args = parser.parse_args()

    admin_url = make_url(os.environ.get("DATABASE_URL", ADMIN_URL))
    if admin_url.get_backend_name() != "postgresql":
        raise SystemExit(f"DATABASE_URL must name a PostgreSQL server, not {admin_url.drivername}")
    name = f"fieldops_bench_{os.getpid()}"
    admin = make_engine(
        admin_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            print(f"database           {name} on {admin_url.host}:{admin_url.port or 5432}")
            ok = run(
                admin_url.set(database=name).render_as_string(hide_password=False),
                args.threads,
                args.attempts,
                args.units,
            )
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
