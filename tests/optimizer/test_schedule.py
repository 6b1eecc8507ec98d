"""The exact route schedule (``optimizer._schedule.evaluate``): waits, breaks, lateness, pickups.

These days are on a plane where one unit of distance is one minute's drive (a tick is a
second), so every expected time follows from the setup by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from optimizer._network import Network
from optimizer._schedule import evaluate
from optimizer.problem import Break, Job, Location, Problem, Technician, TimeWindow, Warehouse
from optimizer.travel import EuclideanTravel

MINUTE = 60
HOME = Location(0.0, 0.0)


def minutes(value: float) -> int:
    return round(value * MINUTE)


def worker(
    *,
    lunch: tuple[int, int, int] | None = None,
    van: Mapping[str, int] | None = None,
    capacity: int | None = None,
    shift: tuple[int, int] = (0, 8 * 60),
) -> Technician:
    """A technician at the origin; ``lunch`` is (earliest, latest, length) in minutes."""
    rule = None
    if lunch is not None:
        rule = Break(TimeWindow(minutes(lunch[0]), minutes(lunch[1])), minutes(lunch[2]))
    return Technician(
        "T-1",
        HOME,
        HOME,
        TimeWindow(minutes(shift[0]), minutes(shift[1])),
        break_rule=rule,
        van_stock=dict(van or {}),
        capacity=capacity,
    )


def task(
    ident: str,
    x: float,
    y: float = 0.0,
    length: int = 30,
    *,
    span: tuple[int, int] | None = None,
    due: int | None = None,
    parts: Mapping[str, int] | None = None,
    demand: int = 0,
) -> Job:
    """A job at (x, y) of ``length`` minutes; window and due in minutes."""
    return Job(
        ident,
        Location(x, y),
        minutes(length),
        window=None if span is None else TimeWindow(minutes(span[0]), minutes(span[1])),
        sla_due=None if due is None else minutes(due),
        parts=dict(parts or {}),
        demand=demand,
    )


def depot(ident: str, x: float, y: float, stock: Mapping[str, int]) -> Warehouse:
    return Warehouse(
        ident, Location(x, y), TimeWindow(0, minutes(10 * 60)), minutes(5), dict(stock)
    )


def network(
    tech: Technician, jobs: Sequence[Job], warehouses: Sequence[Warehouse] = ()
) -> Network:
    problem = Problem(
        "plane", EuclideanTravel(ticks_per_unit=MINUTE), (tech,), tuple(jobs), tuple(warehouses)
    )
    return Network.build(problem)


# --- breaks ---------------------------------------------------------------------------------


def test_break_in_a_waiting_gap_costs_no_time() -> None:
    """A break taken while waiting for a job's window makes the day end no later."""
    one = task("J-1", 10, span=(180, 240))  # 10 minutes away, opens three hours in
    lunch = (60, 120, 30)

    with_break = evaluate(network(worker(lunch=lunch), [one]), 0, [0])
    without = evaluate(network(worker(), [one]), 0, [0])

    assert with_break is not None and without is not None
    assert with_break.break_start is not None
    assert with_break.starts == without.starts == (minutes(180),)
    assert with_break.return_ == without.return_ == minutes(180 + 30 + 10)
    assert with_break.travel == without.travel == minutes(20)
    assert minutes(60) <= with_break.break_start <= minutes(120)
    assert with_break.break_start + minutes(30) <= with_break.starts[0]
    assert with_break.break_gap == 0


def test_route_that_cannot_fit_its_break_is_infeasible() -> None:
    """A three-hour job that must start at 0:10 spans the whole break window: no timing exists."""
    long_job = task("J-1", 10, length=180, span=(10, 10))

    assert evaluate(network(worker(), [long_job]), 0, [0]) is not None
    assert evaluate(network(worker(lunch=(60, 90, 30)), [long_job]), 0, [0]) is None


def test_break_between_two_jobs_delays_the_second() -> None:
    """With no slack anywhere, a break between two jobs pushes the second back by its length."""
    jobs = [task("J-1", 10, length=100), task("J-2", 20, length=30)]
    lunch = (110, 120, 20)

    timing = evaluate(network(worker(lunch=lunch), jobs), 0, [0, 1])

    assert timing is not None and timing.break_start is not None
    # J-1 ends at 110; the break starts then, or on reaching J-2 at 120, within 110-120.
    assert minutes(110) <= timing.break_start <= minutes(120)
    assert timing.starts[1] == minutes(110 + 10 + 20)
    assert timing.return_ == minutes(110 + 10 + 20 + 30 + 20)


def test_a_break_absorbed_by_a_later_wait_leaves_the_rest_of_the_day_as_without_it() -> None:
    """Lunch after J-1 only shortens the wait for J-2's window: J-2 and J-3 keep their times."""
    jobs = [
        task("J-1", 10, length=60),
        task("J-2", 20, span=(120, 200)),
        task("J-3", 30, length=30),
    ]
    lunch = (60, 90, 20)

    timing = evaluate(network(worker(lunch=lunch), jobs), 0, [0, 1, 2])
    without = evaluate(network(worker(), jobs), 0, [0, 1, 2])

    assert timing is not None and without is not None
    assert timing.break_gap == 1 and timing.break_start == minutes(80)
    assert timing.starts == without.starts == (minutes(10), minutes(120), minutes(160))
    assert timing.arrivals == without.arrivals
    assert timing.return_ == without.return_ == minutes(220)


def test_a_job_reached_before_the_break_window_opens_is_done_before_the_break() -> None:
    """J-1 is reached at 0:10 and lunch opens at 0:50: J-1 is done first, not after lunch.

    Either way the day ends as late (J-2's window opens at 3:20), but waiting 40 minutes
    at J-1's door for lunch would make no sense to the technician.
    """
    jobs = [task("J-1", 10, length=10), task("J-2", 20, span=(200, 300))]

    timing = evaluate(network(worker(lunch=(50, 150, 30)), jobs), 0, [0, 1])

    assert timing is not None
    assert timing.starts == (minutes(10), minutes(200))
    assert timing.break_gap == 1 and timing.break_start == minutes(50)
    assert timing.return_ == minutes(250)


def test_a_break_that_delays_a_job_past_its_due_adds_the_lateness() -> None:
    """No slack: the lunch between the jobs makes J-2 end 20 minutes after its due."""
    jobs = [task("J-1", 10, length=100), task("J-2", 20, length=30, due=150)]

    timing = evaluate(network(worker(lunch=(110, 120, 20)), jobs), 0, [0, 1])
    without = evaluate(network(worker(), jobs), 0, [0, 1])

    assert without is not None and without.lateness == 0
    assert timing is not None and timing.lateness == minutes(20)
    assert timing.ends[1] == minutes(170)


def test_shift_end_is_a_hard_limit() -> None:
    """A route back one minute after the shift ends is infeasible; on the minute it is fine."""
    one = task("J-1", 30, length=60)  # back at 120 minutes

    assert evaluate(network(worker(shift=(0, 120)), [one]), 0, [0]) is not None
    assert evaluate(network(worker(shift=(0, 119)), [one]), 0, [0]) is None


def test_window_missed_is_infeasible() -> None:
    """A job whose window closes before the technician can reach it cannot be timed."""
    late = task("J-1", 30, span=(0, 29))

    assert evaluate(network(worker(), [late]), 0, [0]) is None


# --- lateness -----------------------------------------------------------------------------------


def test_lateness_counts_ticks_past_the_sla_due() -> None:
    """A job ending at 0:40 with an SLA due at 0:35 is five minutes late; due at 0:45, on time."""
    late = evaluate(network(worker(), [task("J-1", 10, due=35)]), 0, [0])
    on_time = evaluate(network(worker(), [task("J-1", 10, due=45)]), 0, [0])

    assert late is not None and on_time is not None
    assert late.ends == (minutes(40),)
    assert late.lateness == minutes(5)
    assert on_time.lateness == 0
    assert late.cost(2) == late.travel + 2 * minutes(5)


def test_lateness_sums_over_the_route() -> None:
    """Two late jobs on one route add their lateness."""
    jobs = [task("J-1", 10, due=30), task("J-2", 20, due=60)]  # ends at 40 and 80

    timing = evaluate(network(worker(), jobs), 0, [0, 1])

    assert timing is not None
    assert timing.lateness == minutes(10) + minutes(20)


# --- parts and pickups ------------------------------------------------------------------------


def test_pickups_are_the_shortfall_at_the_latest_earlier_call() -> None:
    """The van's stock is used first; each shortfall goes to the last warehouse call before it."""
    jobs = [task("J-1", 10, parts={"FLT": 2}), task("J-2", 20, parts={"FLT": 2, "BELT": 1})]
    warehouses = [
        depot("WH-A", 5, 0, {"FLT": 9, "BELT": 9}),
        depot("WH-B", 15, 0, {"FLT": 9, "BELT": 9}),
    ]
    net = network(worker(van={"FLT": 1}), jobs, warehouses)
    wh_a, wh_b = net.warehouse_node(0), net.warehouse_node(1)

    timing = evaluate(net, 0, [wh_a, 0, wh_b, 1])

    assert timing is not None
    # J-1 needs 2, the van has 1: WH-A supplies 1. J-2 needs 2 FLT and a BELT: all from WH-B.
    assert {k: dict(v) for k, v in timing.pickups.items()} == {
        0: {"FLT": 1},
        2: {"FLT": 2, "BELT": 1},
    }


def test_an_earlier_call_collects_for_later_jobs_when_no_call_follows() -> None:
    """A single opening call picks up what both later jobs lack beyond the van's stock."""
    jobs = [task("J-1", 10, parts={"FLT": 1}), task("J-2", 20, parts={"FLT": 2})]
    net = network(worker(van={"FLT": 1}), jobs, [depot("WH-A", 5, 0, {"FLT": 9})])

    timing = evaluate(net, 0, [net.warehouse_node(0), 0, 1])

    assert timing is not None
    assert {k: dict(v) for k, v in timing.pickups.items()} == {0: {"FLT": 2}}


def test_shortfall_with_no_earlier_call_is_infeasible() -> None:
    """A job needing a part the van lacks, the only call after it, cannot be timed with parts."""
    jobs = [task("J-1", 10, parts={"FLT": 1})]
    net = network(worker(), jobs, [depot("WH-A", 5, 0, {"FLT": 9})])
    call = net.warehouse_node(0)

    assert evaluate(net, 0, [0, call]) is None
    assert evaluate(net, 0, [0]) is None
    assert evaluate(net, 0, [0], parts=False) is not None
    assert evaluate(net, 0, [call, 0]) is not None


def test_warehouse_call_takes_its_pickup_time_inside_its_hours() -> None:
    """A call waits for the warehouse to open and lasts its pickup time."""
    jobs = [task("J-1", 10, parts={"FLT": 1})]
    opens_late = Warehouse(
        "WH-A", Location(5, 0), TimeWindow(minutes(60), minutes(120)), minutes(5), {"FLT": 1}
    )
    net = network(worker(), jobs, [opens_late])

    timing = evaluate(net, 0, [net.warehouse_node(0), 0])

    assert timing is not None
    assert timing.starts[0] == minutes(60)
    assert timing.ends[0] == minutes(65)
    assert timing.starts[1] == minutes(65 + 5)


# --- capacity -----------------------------------------------------------------------------------


def test_capacity_exceeded_is_infeasible() -> None:
    """Demands of 3 and 3 exceed a capacity of 5 together, not apart; 5 exactly fits."""
    jobs = [task("J-1", 10, demand=3), task("J-2", 20, demand=3), task("J-3", 15, demand=2)]
    net = network(worker(capacity=5), jobs)

    assert evaluate(net, 0, [0]) is not None
    assert evaluate(net, 0, [1]) is not None
    assert evaluate(net, 0, [0, 1]) is None
    assert evaluate(net, 0, [0, 2]) is not None
