"""The optimizer's ``Problem`` for one service day, built straight from the rows.

It reads what ``dispatch.scenario.export_scenario`` reads, with the same rules (the
technicians working that day, the day's open jobs, a pin to someone not working dropped),
so that for any day ``build_problem`` equals ``optimizer.scenario_problem`` of the export,
plus what the format cannot say: the jobs already under way, which open their technician's
route. Stock is what each van and warehouse has for the day (on hand less what other
days hold, ``inventory.reservations.available_for_day``); times are converted by ``DayClock``.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.days import plannable_jobs, service_day, technicians_working
from dispatch.enums import JobStatus
from dispatch.models import DayPlan, Event, Job, Plan, ServiceDay, Technician
from dispatch.planning.clock import DayClock
from inventory import reservations
from inventory import service as inventory_service
from inventory.models import StockLocation
from optimizer import (
    Break,
    GeodesicTravel,
    InvalidProblem,
    Location,
    Problem,
    TimeWindow,
    TravelModel,
    Warehouse,
)
from optimizer import Job as PlanJob
from optimizer import Technician as PlanTechnician

#: Ticks in a day: an instant on the day has ticks from 0 up to this.
DAY_TICKS = 24 * 3600

#: Jobs a technician has set off for or is working on: they stay at the head of the route.
UNDER_WAY = frozenset({JobStatus.EN_ROUTE, JobStatus.ON_SITE, JobStatus.PAUSED})


class PlanningError(ValueError):
    """A day that cannot be planned as stored; ``problems`` names every reason at once."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def build_problem(session: Session, day: date, *, now: datetime | None = None) -> Problem:
    """The day to plan, as the optimizer takes it, read from the database.

    Parameters
    ----------
    session
        Read only. One query per table read (SQLAlchemy splits ``selectinload`` into
        batches of 500 keys), never one per technician or job: 17 for 120 jobs.
    day
        A date with a ``ServiceDay`` (its time zone and travel rule).
    now
        For a re-plan during the day: when ``now`` falls on ``day``, the rest of the day
        from ``now`` is planned (``rest_of_day``). Otherwise the whole day.

    Returns
    -------
    Problem
        Technicians in id order, jobs in id order, warehouses in creation order. Each
        technician's ``fixed_jobs`` are their jobs under way (en route, on site, paused),
        in the order they were started.

    Raises
    ------
    PlanningError
        No service day on ``day``; its time zone or travel model is unknown; or a job is
        under way with a technician who does not work that day (turn it back or put it on
        hold first: the planner must not move work that has started).
    """
    settings = service_day(session, day)
    if settings is None:
        raise PlanningError([f"date: no service day on {day.isoformat()}"])
    try:
        clock = DayClock.of(day, settings.timezone)
    except ValueError as exc:
        raise PlanningError([f"service day {day.isoformat()}: {exc}"]) from None
    travel = _travel(settings)

    technicians = technicians_working(session, day)
    working = {technician.id: technician for technician in technicians}
    vans = inventory_service.vans_of(session, working.keys())
    warehouses = inventory_service.warehouses(session)
    jobs = plannable_jobs(session, day)
    fixed = _jobs_under_way(session, jobs, working, day)
    free = reservations.available_for_day(session, day, [*vans.values(), *warehouses])
    extra, taken = _in_hand(session, day, jobs, fixed, working, vans)
    try:
        problem = Problem(
            name=settings.name,
            travel=travel,
            technicians=tuple(
                _technician(
                    t,
                    clock,
                    _van_stock(vans.get(t.id), free, extra.get(t.id, Counter())),
                    fixed.get(t.id, ()),
                )
                for t in technicians
            ),
            jobs=tuple(_job(job, clock, working) for job in jobs),
            warehouses=tuple(_warehouse(w, clock, free[w.id], taken) for w in warehouses),
            date=day.isoformat(),
            timezone=settings.timezone,
        )
    except InvalidProblem as exc:  # rows the schema lets through but the format refuses
        raise PlanningError(exc.problems) from None
    if now is not None and 0 <= clock.ticks(now) < DAY_TICKS:
        return rest_of_day(problem, clock.ticks(now))
    return problem


def rest_of_day(problem: Problem, now: int) -> Problem:
    """The day from ``now`` (ticks) on: nobody's route starts earlier, and a break whose
    window has passed counts as taken.

    A technician whose shift is over keeps it as it was when they have work under way
    (they finish it), and is left an empty shift otherwise.
    """
    technicians = []
    for technician in problem.technicians:
        shift, rule = technician.shift, technician.break_rule
        if now < shift.end or not technician.fixed_jobs:
            shift = TimeWindow(min(max(shift.start, now), shift.end), shift.end)
        if rule is not None and now > rule.window.end:
            rule = None
        elif rule is not None and now > rule.window.start:
            rule = Break(TimeWindow(now, rule.window.end), rule.duration)
        technicians.append(dataclasses.replace(technician, shift=shift, break_rule=rule))
    return dataclasses.replace(problem, technicians=tuple(technicians))


def _travel(settings: ServiceDay) -> TravelModel:
    if settings.travel_model != "geodesic":
        where = f"service day {settings.day.isoformat()}"
        raise PlanningError(
            [f"{where}: unknown travel model {settings.travel_model!r} (known: 'geodesic')"]
        )
    return GeodesicTravel(settings.travel_speed_kmh, settings.travel_circuity)


def _jobs_under_way(
    session: Session, jobs: Sequence[Job], working: Mapping[int, Technician], day: date
) -> dict[int, tuple[str, ...]]:
    """Each working technician's jobs under way (by reference), in the order they started."""
    under_way = [job for job in jobs if job.status in UNDER_WAY and job.technician_id is not None]
    stranded = [job for job in under_way if job.technician_id not in working]
    if stranded:
        raise PlanningError(
            [
                f"job {job.reference}: {job.status.value} with technician"
                f" {job.technician.code if job.technician else job.technician_id},"
                f" who does not work on {day.isoformat()}"
                for job in stranded
            ]
        )
    started = _starts(session, under_way)
    # Jobs the log has no start for (written without it) follow, in planned order.
    under_way.sort(
        key=lambda job: (
            started.get(job.id, math.inf),
            job.planned_start or datetime.max.replace(tzinfo=UTC),
            job.id,
        )
    )
    fixed: dict[int, tuple[str, ...]] = {}
    for job in under_way:
        assert job.technician_id is not None  # filtered above; tells the type checker
        fixed[job.technician_id] = (*fixed.get(job.technician_id, ()), job.reference)
    return fixed


def _in_hand(
    session: Session,
    day: date,
    jobs: Sequence[Job],
    fixed: Mapping[int, tuple[str, ...]],
    working: Mapping[int, Technician],
    vans: Mapping[int, StockLocation],
) -> tuple[dict[int, Counter[str]], Counter[tuple[int, str]]]:
    """What each technician has beyond their van's books (by technician id), and what
    has left the warehouses for them (by warehouse id and SKU).

    Two things the books may not know yet. The published route's warehouse calls
    before a job under way have been made: what is still held at the warehouse from
    those calls rides in the van. And a job under way has its parts in hand: what no
    reservation held for it rides in the van too. Two queries, however far the day is.
    """
    passed = _calls_passed(session, day, fixed, working)
    owners = {van.id: technician_id for technician_id, van in vans.items()}
    extra: dict[int, Counter[str]] = {}
    taken: Counter[tuple[int, str]] = Counter()
    held: dict[int, Counter[str]] = {}
    for line in reservations.lines_of_day(session, day):
        held.setdefault(line.job_id, Counter())[line.part.sku] += line.reserved
        owner = owners.get(line.van_id)
        at_warehouse = line.location_id != line.van_id
        if owner is not None and at_warehouse and line.sequence <= passed.get(owner, -1):
            extra.setdefault(owner, Counter())[line.part.sku] += line.reserved
            taken[line.location_id, line.part.sku] += line.reserved
    for job in jobs:
        if job.status in UNDER_WAY and job.technician_id is not None:
            for part in job.parts:
                missing = part.quantity - held.get(job.id, Counter())[part.sku]
                if missing > 0:
                    extra.setdefault(job.technician_id, Counter())[part.sku] += missing
    return extra, taken


def _calls_passed(
    session: Session,
    day: date,
    fixed: Mapping[int, tuple[str, ...]],
    working: Mapping[int, Technician],
) -> dict[int, int]:
    """Where each technician is on their published route: the index of their last stop
    that is a job under way (by technician id; none for those not under way)."""
    document = session.scalar(
        select(Plan.document)
        .join(DayPlan, DayPlan.plan_id == Plan.id)
        .where(DayPlan.service_date == day)
    )
    if document is None:
        return {}
    by_code = {technician.code: technician.id for technician in working.values()}
    passed = {}
    for route in document["routes"]:
        technician_id = by_code.get(route["technician"])
        under_way = set(fixed.get(technician_id, ())) if technician_id is not None else set()
        stops = route["stops"]
        last = max((i for i, stop in enumerate(stops) if stop.get("id") in under_way), default=-1)
        if technician_id is not None and last >= 0:
            passed[technician_id] = last
    return passed


def _van_stock(
    van: StockLocation | None, free: Mapping[int, Mapping[str, int]], extra: Counter[str]
) -> dict[str, int]:
    """What a van has for the day's plan, in its listing order: what it has free for the
    day and what its technician has beyond the books."""
    stock = {} if van is None else dict(free[van.id])
    for sku, quantity in extra.items():
        stock[sku] = stock.get(sku, 0) + quantity
    return {sku: quantity for sku, quantity in stock.items() if quantity}


def _less(
    stock: Mapping[str, int], location_id: int, taken: Counter[tuple[int, str]]
) -> dict[str, int]:
    return {sku: max(0, n - taken[location_id, sku]) for sku, n in stock.items()}


def _starts(session: Session, jobs: Collection[Job]) -> dict[int, int]:
    """Where each job's latest start (its move to en route) is in the event log, by job id.

    The log is the only record of when a job started; a job turned back and started again
    ranks by its second start. One query for all the jobs.
    """
    if not jobs:
        return {}
    changes = session.execute(
        select(Event.entity_id, Event.changes)
        .where(
            Event.entity_type == Job.__tablename__,
            Event.entity_id.in_([str(job.id) for job in jobs]),
            Event.action == "updated",
        )
        .order_by(Event.id)
    )
    latest: dict[int, int] = {}
    for position, (entity_id, change) in enumerate(changes):
        status = change.get("status")
        if isinstance(status, list) and status[-1] == JobStatus.EN_ROUTE.value:
            latest[int(entity_id)] = position
    return latest


def _technician(
    technician: Technician,
    clock: DayClock,
    van_stock: dict[str, int],
    fixed_jobs: tuple[str, ...],
) -> PlanTechnician:
    shift = technician.shift_on(clock.day)
    assert shift is not None  # technicians_working returns only those with a shift
    home = Location(technician.home_latitude, technician.home_longitude)
    end = (
        home
        if technician.end_latitude is None or technician.end_longitude is None
        else Location(technician.end_latitude, technician.end_longitude)
    )
    break_rule = None
    if (
        technician.break_earliest is not None
        and technician.break_latest is not None
        and technician.break_minutes is not None
    ):
        break_rule = Break(
            TimeWindow(
                clock.clock_ticks(technician.break_earliest),
                clock.clock_ticks(technician.break_latest),
            ),
            technician.break_minutes * 60,
        )
    return PlanTechnician(
        id=technician.code,
        start=home,
        end=end,
        shift=TimeWindow(clock.clock_ticks(shift.start_time), clock.clock_ticks(shift.end_time)),
        skills=frozenset(technician.skills),
        break_rule=break_rule,
        van_stock=van_stock,
        fixed_jobs=fixed_jobs,
    )


def _job(job: Job, clock: DayClock, working: Mapping[int, Technician]) -> PlanJob:
    window = None
    if job.window_start is not None and job.window_end is not None:
        window = TimeWindow(clock.ticks(job.window_start), clock.ticks(job.window_end))
    # As the export does: the format allows pins only to the day's technicians.
    pinned = working.get(job.pinned_technician_id) if job.pinned_technician_id else None
    return PlanJob(
        id=job.reference,
        location=Location(job.site.latitude, job.site.longitude),
        service=job.duration_min * 60,
        priority=job.priority,
        skills=frozenset(job.required_skills),
        window=window,
        sla_due=clock.ticks(job.sla_due) if job.sla_due is not None else None,
        pinned_to=pinned.code if pinned is not None else None,
        parts={part.sku: part.quantity for part in job.parts},
    )


def _warehouse(
    warehouse: StockLocation,
    clock: DayClock,
    free: Mapping[str, int],
    taken: Counter[tuple[int, str]],
) -> Warehouse:
    # The warehouse_complete constraint guarantees these are set on warehouses.
    assert (
        warehouse.latitude is not None
        and warehouse.longitude is not None
        and warehouse.opens is not None
        and warehouse.closes is not None
        and warehouse.pickup_minutes is not None
    )
    return Warehouse(
        id=warehouse.code,
        location=Location(warehouse.latitude, warehouse.longitude),
        hours=TimeWindow(clock.clock_ticks(warehouse.opens), clock.clock_ticks(warehouse.closes)),
        pickup_service=warehouse.pickup_minutes * 60,
        stock=_less(free, warehouse.id, taken),
    )
