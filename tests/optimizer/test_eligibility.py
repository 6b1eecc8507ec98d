"""Eligibility: who may serve which job before the search starts, and why a job has nobody."""

from __future__ import annotations

import pytest

from optimizer._network import Network
from optimizer.eligibility import eligibility
from optimizer.problem import Job, Problem, Technician
from optimizer.solution import Reason
from tests.optimizer.conftest import (
    CENTRE,
    EAST,
    HOME_EAST,
    HOME_WEST,
    NORTH,
    SOUTH,
    WEST,
    day,
    job,
    technician,
    warehouse,
)

LUNCH = ("11:30", "13:00", 30)


def crew() -> list[Technician]:
    """Four technicians with overlapping skills, all working the whole day."""
    return [
        technician("T-1", {"hvac", "electrical"}, home=HOME_WEST, lunch=LUNCH),
        technician("T-2", {"hvac"}, home=HOME_EAST, lunch=LUNCH),
        technician("T-3", {"plumbing"}, home=HOME_WEST),
        technician("T-4", {"hvac", "plumbing"}, home=HOME_EAST, lunch=LUNCH),
    ]


def by_definition(problem: Problem, one: Job) -> tuple[int, ...]:
    """Indices of the technicians holding every skill of the job and honouring its pin."""
    return tuple(
        t
        for t, tech in enumerate(problem.technicians)
        if one.skills <= tech.skills and one.pinned_to in (None, tech.id)
    )


def test_allowed_technicians_are_those_with_the_skills_and_the_pin() -> None:
    """With no time or parts limits in play, the allowed set is exactly skills and pin."""
    jobs = [
        job("J-ANY", CENTRE),
        job("J-HVAC", NORTH, skills={"hvac"}),
        job("J-BOTH", SOUTH, skills={"hvac", "plumbing"}),
        job("J-ELEC", EAST, skills={"electrical"}),
        job("J-PINNED", WEST, skills={"hvac"}, pinned="T-2"),
        job("J-PIN-ONLY", WEST, pinned="T-3"),
        job("J-PIN-WRONG", WEST, skills={"plumbing"}, pinned="T-1"),
    ]
    problem = day(crew(), jobs)

    result = eligibility(Network.build(problem))

    for j, one in enumerate(problem.jobs):
        assert result.allowed[j] == by_definition(problem, one), one.id
    names = {one.id: result.allowed[j] for j, one in enumerate(problem.jobs)}
    assert names["J-ANY"] == (0, 1, 2, 3)
    assert names["J-BOTH"] == (3,)
    assert names["J-PINNED"] == (1,)
    assert names["J-PIN-WRONG"] == ()
    excluded = {problem.jobs[j].id: item for j, item in result.excluded.items()}
    assert set(excluded) == {"J-PIN-WRONG"}
    assert excluded["J-PIN-WRONG"].code == Reason.PINNED_TECHNICIAN_UNAVAILABLE


def test_shift_and_window_narrow_the_allowed_set() -> None:
    """A morning job is allowed only to the skilled technicians working in the morning."""
    technicians = [
        technician("T-1", {"hvac"}, shift=("08:00", "12:00")),
        technician("T-2", {"hvac"}, shift=("12:00", "20:00"), home=HOME_EAST),
        technician("T-3", {"plumbing"}, shift=("08:00", "16:00")),
    ]
    problem = day(technicians, [job("J-1", NORTH, skills={"hvac"}, span=("09:00", "10:00"))])

    result = eligibility(Network.build(problem))

    assert result.allowed == ((0,),)
    assert result.excluded == {}


def test_job_that_fits_only_through_a_warehouse_call_is_eligible() -> None:
    """No van holds the part but the warehouse does: every skilled technician stays eligible."""
    problem = day(
        crew(),
        [job("J-1", NORTH, skills={"hvac"}, parts={"FLT-2020": 2})],
        [warehouse(stock={"FLT-2020": 2}, hours=("10:00", "11:00"))],
    )

    result = eligibility(Network.build(problem))

    assert result.allowed == (by_definition(problem, problem.jobs[0]),)
    assert result.allowed[0] == (0, 1, 3)
    assert result.excluded == {}


def test_warehouse_closed_during_the_window_leaves_only_the_van() -> None:
    """With the warehouse opening after the job's window, only the van with the part may go."""
    technicians = [
        technician("T-1", {"hvac"}, van={"FLT-2020": 1}),
        technician("T-2", {"hvac"}, home=HOME_EAST),
    ]
    problem = day(
        technicians,
        [job("J-1", NORTH, skills={"hvac"}, span=("08:30", "09:30"), parts={"FLT-2020": 1})],
        [warehouse(stock={"FLT-2020": 5}, hours=("13:00", "17:00"))],
    )

    result = eligibility(Network.build(problem))

    assert result.allowed == ((0,),)


def test_parts_nowhere_is_excluded_with_the_part_named() -> None:
    """A part short everywhere makes the job ineligible for all, and the reason names the part."""
    problem = day(
        crew(),
        [job("J-1", NORTH, parts={"RTR-AX3000": 3})],
        [warehouse(stock={"RTR-AX3000": 2})],
    )

    result = eligibility(Network.build(problem))

    assert result.allowed == ((),)
    assert result.excluded[0].code == Reason.PARTS_UNAVAILABLE
    assert "RTR-AX3000" in result.excluded[0].reason


@pytest.mark.parametrize(
    ("van", "stock", "needs"),
    [
        ({"FLT-2020": 1}, {"FLT-2020": 1}, {"FLT-2020": 2}),
        ({"FLT-2020": 1}, {"BELT-WM": 1}, {"FLT-2020": 1, "BELT-WM": 1}),
    ],
    ids=["same-part-split", "one-part-each"],
)
def test_parts_shared_between_van_and_warehouse_are_eligible(
    van: dict[str, int], stock: dict[str, int], needs: dict[str, int]
) -> None:
    """What the van lacks, one warehouse call can fetch: the van's technician is eligible."""
    problem = day(
        [technician("T-1", van=van)], [job("J-1", NORTH, parts=needs)], [warehouse(stock=stock)]
    )

    result = eligibility(Network.build(problem))

    assert result.allowed == ((0,),)
    assert result.excluded == {}
