"""The board's and the map's data: routes, timelines and jobs left out, read from a plan."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dispatch.models import Technician
from dispatch.planning.board import NOT_IN_PLAN, PALETTE, colours, day_board, day_map
from dispatch.planning.edits import pin
from dispatch.planning.proposals import published
from inventory import service as inventory_service
from tests.dispatch.test_edits import movable, oslo, propose_and_publish

__all__ = ["oslo"]  # the fixture used here

OFFSET = "+01:00"  # Europe/Oslo in November


def document(session: Session, day: date) -> dict[str, Any]:
    current = published(session, day)
    assert current is not None
    found: dict[str, Any] = current[1].document
    return found


def route_jobs(plan: dict[str, Any]) -> dict[str, list[str]]:
    """Each technician's jobs in the plan, in visiting order."""
    return {
        route["technician"]: [s["id"] for s in route["stops"] if s["type"] == "job"]
        for route in plan["routes"]
    }


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_every_routed_job_is_on_its_technicians_row_once_in_route_order(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        plan = document(session, oslo)
        board = day_board(session, oslo, plan)

    rows = {row["code"]: row for row in board["technicians"]}
    assert list(rows) == sorted(rows) and board["timezone"] == "Europe/Oslo"
    on_board = {
        code: [item["reference"] for item in row["items"] if item["kind"] == "job"]
        for code, row in rows.items()
    }
    assert on_board == {code: route_jobs(plan).get(code, []) for code in rows}
    served = [ref for refs in on_board.values() for ref in refs]
    assert len(served) == len(set(served)) == sum(map(len, route_jobs(plan).values()))


def test_items_carry_the_days_offset_never_overlap_and_stay_in_the_shift(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        board = day_board(session, oslo, document(session, oslo))

    kinds: Counter[str] = Counter()
    for row in board["technicians"]:
        assert row["shift_start"].endswith(OFFSET) and row["shift_end"].endswith(OFFSET)
        items = row["items"]
        kinds.update(item["kind"] for item in items)
        for item in items:
            assert item["start"].endswith(OFFSET) and item["end"].endswith(OFFSET), item
            assert at(row["shift_start"]) <= at(item["start"]) <= at(item["end"])
            assert at(item["end"]) <= at(row["shift_end"])
        for earlier, later in pairwise(items):
            assert at(earlier["end"]) <= at(later["start"]), (row["code"], earlier, later)
    assert {"job", "travel", "break", "warehouse"} <= set(kinds)


def test_travel_items_are_the_drives_not_the_waiting(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    """Travel adds up to the plan's travel minutes, one rounding per leg at most, although
    some gaps between stops hold waiting and breaks too."""
    with sessions() as session:
        current = published(session, oslo)
        assert current is not None
        board = day_board(session, oslo, current[1].document)
        planned_travel = current[1].summary["travel_minutes"]

    travel = timedelta()
    gaps = timedelta()
    legs = 0
    for row in board["technicians"]:
        for item in row["items"]:
            if item["kind"] == "travel":
                travel += at(item["end"]) - at(item["start"])
                legs += 1
        if row["items"]:
            gaps += at(row["return"]) - at(row["depart"])
    assert abs(travel.total_seconds() / 60 - planned_travel) <= legs
    assert travel < gaps


def test_jobs_left_out_carry_the_plans_reason_or_that_the_plan_does_not_know_them(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        plan = document(session, oslo)
        assert plan["unassigned"], "oslo-5x30 leaves jobs out (skills nobody has)"
        forgotten = plan["unassigned"][0]["id"]
        older = {**plan, "unassigned": plan["unassigned"][1:]}
        board = day_board(session, oslo, plan)
        older_board = day_board(session, oslo, older)

    reasons = {item["id"]: item["reason"] for item in plan["unassigned"]}
    assert {item["reference"]: item["reason"] for item in board["unassigned"]} == reasons
    for item in board["unassigned"]:
        assert item["status"] and item["priority"] and item["title"]
    assert {i["reference"]: i["reason"] for i in older_board["unassigned"]}[forgotten] == (
        NOT_IN_PLAN
    )


def pins(board: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (row["code"], item["reference"])
        for row in board["technicians"]
        for item in row["items"]
        if item["kind"] == "job" and item["pinned"]
    }


def test_a_pinned_job_is_marked_on_the_row_it_is_pinned_to(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        before = pins(day_board(session, oslo, document(session, oslo)))
        job, technician, _, _ = movable(session, oslo)
        pin(session, oslo, job, expected_version=1, user_id=None)
        session.commit()
        after = pins(day_board(session, oslo, document(session, oslo)))

    assert (technician, job) not in before
    assert after == before | {(technician, job)}
    assert before, "oslo-5x30 pins a job in the scenario"


def test_the_map_draws_each_route_from_home_through_its_stops_in_order(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        plan = document(session, oslo)
        found = day_map(session, oslo, plan)
        homes = {
            t.code: [t.home_longitude, t.home_latitude]
            for t in session.scalars(select(Technician))
        }
        warehouses = {w.code for w in inventory_service.warehouses(session)}

    assert found["type"] == "FeatureCollection"
    features = found["features"]
    lines = [f for f in features if f["properties"]["kind"] == "route"]
    jobs = {f["properties"]["reference"]: f for f in features if f["properties"]["kind"] == "job"}
    routed = route_jobs(plan)
    assert [line["properties"]["technician"] for line in lines] == sorted(
        code for code, refs in routed.items() if refs
    )
    for line in lines:
        code = line["properties"]["technician"]
        coordinates = line["geometry"]["coordinates"]
        assert line["geometry"]["type"] == "LineString" and coordinates[0] == homes[code]
        assert line["properties"]["jobs"] == len(routed[code])
        job_positions = [jobs[ref]["geometry"]["coordinates"] for ref in routed[code]]
        assert [c for c in coordinates if c in job_positions] == job_positions
        for sequence, ref in enumerate(routed[code], start=1):
            point = jobs[ref]["properties"]
            assert point["technician"] == code and point["sequence"] == sequence
            assert point["colour"] == line["properties"]["colour"]
            assert point["start"].endswith(OFFSET) and point["reason"] is None
    for item in plan["unassigned"]:
        point = jobs[item["id"]]["properties"]
        assert point["technician"] is None and point["reason"] == item["reason"]
        assert point["start"] is None
    assert len(jobs) == sum(map(len, routed.values())) + len(plan["unassigned"])
    assert {
        f["properties"]["code"] for f in features if f["properties"]["kind"] == "warehouse"
    } == warehouses


def test_sla_risk_follows_the_planned_end_and_for_jobs_left_out_the_days_end(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        found = day_map(session, oslo, document(session, oslo))

    day_end = datetime.fromisoformat(f"{oslo + timedelta(days=1)}T00:00:00{OFFSET}")
    for feature in found["features"]:
        point = feature["properties"]
        if point["kind"] != "job":
            continue
        due = at(point["sla_due"]) if point["sla_due"] else None
        if due is None:
            expected = False
        elif point["end"] is None:
            expected = due < day_end
        else:
            expected = at(point["end"]) > due
        assert point["sla_risk"] is expected, point


def test_colours_follow_technician_codes_and_agree_on_board_and_map(
    sessions: sessionmaker[Session], oslo: date
) -> None:
    with sessions() as session:
        plan = document(session, oslo)
        board = day_board(session, oslo, plan)
        found = day_map(session, oslo, plan)
        by_code = colours(session)
        propose_and_publish(session, oslo)  # a second plan: the colours stay
        session.commit()
        again = day_board(session, oslo, document(session, oslo))

    assert list(by_code.values()) == list(PALETTE[: len(by_code)])
    assert list(by_code) == sorted(by_code)
    assert {row["code"]: row["colour"] for row in board["technicians"]} == {
        code: by_code[code] for code in (row["code"] for row in board["technicians"])
    }
    for feature in found["features"]:
        if feature["properties"]["kind"] == "route":
            properties = feature["properties"]
            assert properties["colour"] == by_code[properties["technician"]]
    assert [r["colour"] for r in again["technicians"]] == [
        r["colour"] for r in board["technicians"]
    ]
