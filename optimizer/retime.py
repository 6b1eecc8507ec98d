"""Timing a route whose order a person chose, the way the engine times every route.

A dispatcher's edit (a job assigned, moved or taken off) gives a route a new order of
stops. The route is then timed by the engine's own route schedule (``_schedule``: waiting
for windows, the floating break, parts picked up at warehouse calls), with warehouse
calls added and dropped as the construction adds and drops them, so that a route edited
by hand is timed exactly like one the engine planned. When no timing exists, the error
names the first rule the order cannot keep.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from optimizer._candidates import UNKNOWN_LEG
from optimizer._network import Network, places
from optimizer._schedule import Timing, evaluate
from optimizer.problem import Problem
from optimizer.solution import Route, Solution, StopKind
from optimizer.solve import timed_route

#: Parts a warehouse still has for this route: (warehouse node, SKU) -> quantity.
StockLeft = Counter[tuple[int, str]]


def retime_route(problem: Problem, solution: Solution, route: Route) -> Route:
    """``route``'s jobs and warehouse calls in their order, timed by the engine's schedule.

    The times and breaks ``route`` states are ignored. Where the van would run short of
    a part before any warehouse call, a call is added just before that job, at the
    warehouse that keeps the route cheapest among those with the parts left after the
    other routes' pick-ups; calls that end up picking nothing up are dropped. Jobs the
    technician has under way must open the route, as ``check`` requires; that and the
    rules between routes are the checker's to judge, not this function's.

    Parameters
    ----------
    problem
        The day.
    solution
        The plan the route goes into: its other routes' pick-ups share the warehouses'
        stock. The technician's own route in it, if any, is ignored.
    route
        The technician and the stops in the wanted order.

    Returns
    -------
    Route
        The route as the plan states it: arrival, start and end of every stop, the
        break, the pick-ups.

    Raises
    ------
    ValueError
        The technician, a job or a warehouse is not one of the day's; or no timing of
        this order exists, the message saying why for the dispatcher (a window or the
        shift end missed, no room for the break, a part no warehouse call can supply,
        the capacity exceeded).
    """
    technician = _technician_index(problem, route.technician)
    visits = _nodes(problem, route)
    net = _network(problem, technician, visits)
    visits = _with_call(net, technician, visits, _stock_left(net, solution, route.technician))
    timing = evaluate(net, technician, visits)
    if timing is None:
        raise ValueError(_why_untimed(net, technician, visits))
    visits, timing = _without_idle_calls(net, technician, visits, timing)
    return timed_route(net, technician, visits, timing)


def _technician_index(problem: Problem, technician_id: str) -> int:
    for index, technician in enumerate(problem.technicians):
        if technician.id == technician_id:
            return index
    raise ValueError(f"{technician_id} is not one of the day's technicians")


def _nodes(problem: Problem, route: Route) -> list[int]:
    """The route's jobs and warehouse calls as the engine's nodes, breaks left out."""
    job_node = {job.id: j for j, job in enumerate(problem.jobs)}
    warehouse_node = {w.id: len(problem.jobs) + i for i, w in enumerate(problem.warehouses)}
    nodes = []
    for stop in route.stops:
        if stop.kind == StopKind.BREAK:
            continue
        known = job_node if stop.kind == StopKind.JOB else warehouse_node
        if stop.id not in known:
            raise ValueError(f"{stop.kind.value} {stop.id} is not one of the day's")
        nodes.append(known[stop.id])
    return nodes


def _network(problem: Problem, technician: int, visits: Sequence[int]) -> Network:
    """The day's network with only the legs this route can use: the whole day's matrix
    would cost a second on a large day, for one route."""
    where = places(problem)
    net = Network.build(problem, np.full((len(where), len(where)), UNKNOWN_LEG, dtype=np.int64))
    nodes = [
        net.start_node(technician),
        net.end_node(technician),
        *visits,
        *(net.warehouse_node(w) for w in range(net.n_warehouses)),
    ]
    net.travel[np.ix_(nodes, nodes)] = problem.travel.matrix([where[n] for n in nodes])
    return net


def _stock_left(net: Network, solution: Solution, technician_id: str) -> StockLeft:
    """Each warehouse's stock less what the plan's other routes pick up there."""
    left: StockLeft = Counter()
    for w, warehouse in enumerate(net.problem.warehouses):
        for sku, quantity in warehouse.stock.items():
            left[net.warehouse_node(w), sku] = quantity
    index = {w.id: net.warehouse_node(i) for i, w in enumerate(net.problem.warehouses)}
    for other in solution.routes:
        if other.technician == technician_id:
            continue
        for stop in other.stops:
            if stop.kind == StopKind.WAREHOUSE and stop.id in index:
                for sku, quantity in stop.pickup.items():
                    left[index[stop.id], sku] -= quantity
    return left


def _first_unsupplied(
    net: Network, technician: int, visits: Sequence[int]
) -> tuple[int, str] | None:
    """The first visit whose parts the van lacks with no warehouse call before it, and the part.

    After a call the schedule adds any shortfall to the latest call, so only the jobs
    before the first call can be left short.
    """
    van = Counter(net.problem.technicians[technician].van_stock)
    for position, node in enumerate(visits):
        if not net.is_job(node):
            return None
        for sku, quantity in net.problem.jobs[node].parts.items():
            if van[sku] < quantity:
                return position, sku
            van[sku] -= quantity
    return None


def _with_call(net: Network, technician: int, visits: list[int], left: StockLeft) -> list[int]:
    """``visits``, with a warehouse call before the first job the van cannot supply.

    As the construction does (``_construct.variants``): one call per warehouse and route,
    just before the job; the cheapest timing wins among the warehouses whose stock left
    covers what the route then picks up there.
    """
    short = _first_unsupplied(net, technician, visits)
    if short is None:
        return visits
    position, sku = short
    weight = net.problem.lateness_weight
    best: tuple[tuple[int, int], list[int]] | None = None
    for w in range(net.n_warehouses):
        node = net.warehouse_node(w)
        if node in visits:
            continue
        tried = [*visits[:position], node, *visits[position:]]
        timing = evaluate(net, technician, tried)
        if timing is None or not _stock_covers(tried, timing, left):
            continue
        key = (timing.cost(weight), timing.return_)
        if best is None or key < best[0]:
            best = (key, tried)
    if best is None:
        if evaluate(net, technician, visits, parts=False) is None:
            raise ValueError(_why_untimed(net, technician, visits))  # not for want of parts
        problem = net.problem
        raise ValueError(
            f"{problem.technicians[technician].id}'s van has not enough {sku} for job "
            f"{problem.jobs[visits[position]].id}, and no call at a warehouse with it left "
            "fits in the route before that job."
        )
    return best[1]


def _stock_covers(visits: Sequence[int], timing: Timing, left: StockLeft) -> bool:
    return all(
        quantity <= left[visits[position], sku]
        for position, parts in timing.pickups.items()
        for sku, quantity in parts.items()
    )


def _without_idle_calls(
    net: Network, technician: int, visits: list[int], timing: Timing
) -> tuple[list[int], Timing]:
    """Warehouse calls that pick nothing up left out, when the route still times without them."""
    idle = {position for position, parts in timing.pickups.items() if not parts}
    if not idle:
        return visits, timing
    shorter = [node for position, node in enumerate(visits) if position not in idle]
    shorter_timing = evaluate(net, technician, shorter)
    if shorter_timing is None:
        return visits, timing
    return shorter, shorter_timing


def _why_untimed(net: Network, technician: int, visits: Sequence[int]) -> str:
    """The first rule the order breaks, for a route the schedule cannot time.

    Walks the route at its earliest without the break: a window or the shift end missed
    there is missed with any break; when the walk keeps them all, the break is what
    finds no room.
    """
    problem = net.problem
    tech = problem.technicians[technician]
    if tech.capacity is not None:
        load = sum(problem.jobs[v].demand for v in visits if net.is_job(v))
        if load > tech.capacity:
            return (
                f"{tech.id}'s route would carry {load}, more than the capacity of {tech.capacity}."
            )
    time, previous = tech.shift.start, net.start_node(technician)
    for node in visits:
        start = max(time + int(net.travel[previous, node]), net.window_start[node])
        if start > net.window_end[node]:
            if net.is_job(node):
                what = f"Job {problem.jobs[node].id}"
                limit = "its window closes"
            else:
                what = f"A pick-up at {problem.warehouses[node - net.n_jobs].id}"
                limit = "the last pick-up before closing"
            return (
                f"{what} could start at {_clock(problem, start)} at the earliest in "
                f"{tech.id}'s route, after {limit} at {_clock(problem, net.window_end[node])}."
            )
        time, previous = start + net.service[node], node
    back = time + int(net.travel[previous, net.end_node(technician)])
    if back > tech.shift.end:
        return (
            f"{tech.id} would be back at {_clock(problem, back)} at the earliest, after the "
            f"shift ends at {_clock(problem, tech.shift.end)}."
        )
    rule = tech.break_rule
    assert rule is not None  # with no break to place, the walk above is the schedule
    return (
        f"{tech.id}'s {rule.duration // problem.ticks_per_minute}-minute break finds no "
        f"room between {_clock(problem, rule.window.start)} and "
        f"{_clock(problem, rule.window.end)} without missing a window or the shift end."
    )


def _clock(problem: Problem, ticks: int) -> str:
    """A time as a dispatcher reads it: HH:MM on a service day, minutes otherwise."""
    minutes = ticks // problem.ticks_per_minute
    if problem.date is None:
        return str(minutes)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
