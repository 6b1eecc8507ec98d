"""Exact timing of one technician's route: windows, shift, break, parts, capacity.

The construction heuristic asks it whether an insertion is feasible, and the
OR-Tools routes are re-timed through it, so every plan the engine returns has
its times, break and pickup quantities computed by this one piece of code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from optimizer._network import Network


@dataclass(frozen=True, slots=True)
class Timing:
    """When each visit happens, where the break goes, and what the route costs."""

    arrivals: tuple[int, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    depart: int
    return_: int
    break_gap: int | None  # break taken before visit ``break_gap`` (== len: before return)
    break_start: int | None
    travel: int
    lateness: int
    pickups: Mapping[int, Mapping[str, int]]  # visit position -> parts picked up there

    def cost(self, lateness_weight: int) -> int:
        return self.travel + lateness_weight * self.lateness


def evaluate(
    net: Network, technician: int, visits: Sequence[int], *, parts: bool = True
) -> Timing | None:
    """Timing of ``visits`` (job and warehouse nodes, in order), or None if infeasible.

    Infeasible means: a window or the shift end missed, no place for the break,
    the van running out of a part with no earlier pickup to cover it (unless
    ``parts`` is false), or the capacity exceeded. Warehouse stock shared between
    routes is the caller's concern (see ``Timing.pickups``).
    """
    tech = net.problem.technicians[technician]
    if tech.capacity is not None:
        demand = sum(net.problem.jobs[v].demand for v in visits if net.is_job(v))
        if demand > tech.capacity:
            return None
    pickups = _pickups(net, technician, visits) if parts else {}
    if pickups is None:
        return None
    rule = tech.break_rule
    if rule is None or not visits:
        return _timeline(net, technician, visits, None, pickups)
    best = None
    for gap in _break_gaps(net, technician, visits, rule.window.end):
        timing = _timeline(net, technician, visits, gap, pickups)
        if timing is not None and (best is None or _better(timing, best, net)):
            best = timing
    return best


def _better(a: Timing, b: Timing, net: Network) -> bool:
    weight = net.problem.lateness_weight
    return (a.cost(weight), a.return_) < (b.cost(weight), b.return_)


def _break_gaps(net: Network, technician: int, visits: Sequence[int], latest: int) -> list[int]:
    """Gaps where the break can still start in time: those reached no later than ``latest``."""
    tech = net.problem.technicians[technician]
    rows, service, window_start = net.rows, net.service, net.window_start
    gaps = [0]
    time, previous = tech.shift.start, net.start_node(technician)
    for position, node in enumerate(visits):
        time = max(time + rows[previous][node], window_start[node]) + service[node]
        if time > latest:
            break
        gaps.append(position + 1)
        previous = node
    return gaps


def _timeline(
    net: Network,
    technician: int,
    visits: Sequence[int],
    break_gap: int | None,
    pickups: Mapping[int, Mapping[str, int]],
) -> Timing | None:
    """Earliest-start timeline with the break in ``break_gap``; None when a limit is broken."""
    tech = net.problem.technicians[technician]
    rows, service = net.rows, net.service
    window_start, window_end, due = net.window_start, net.window_end, net.due
    rule = tech.break_rule
    arrivals, starts, ends = [], [], []
    time, previous = tech.shift.start, net.start_node(technician)
    total_travel = lateness = 0
    break_start = None
    for position, node in enumerate([*visits, net.end_node(technician)]):
        leg = rows[previous][node]
        total_travel += leg
        ready = arrival = time + leg
        if position == break_gap:
            assert rule is not None
            # Travel first and break on arrival; if that starts too late, break before leaving.
            break_start = max(arrival, rule.window.start)
            if break_start > rule.window.end:
                break_start = max(time, rule.window.start)
                if break_start > rule.window.end:
                    return None
                ready = arrival = break_start + rule.duration + leg
            else:
                ready = break_start + rule.duration
        if position == len(visits):
            if ready > tech.shift.end:
                return None
            return_ = ready
            break
        start = max(ready, window_start[node])
        if start > window_end[node]:
            return None
        end = start + service[node]
        node_due = due[node] if node < net.n_jobs else None
        if node_due is not None and end > node_due:
            lateness += end - node_due
        arrivals.append(arrival)
        starts.append(start)
        ends.append(end)
        time, previous = end, node
    depart = tech.shift.start
    if visits and break_gap != 0:
        # Leave home as late as still arrives in time, rather than wait on site.
        first_leg = rows[net.start_node(technician)][visits[0]]
        depart = max(depart, starts[0] - first_leg)
        arrivals[0] = depart + first_leg
    return Timing(
        tuple(arrivals),
        tuple(starts),
        tuple(ends),
        depart,
        return_,
        break_gap,
        break_start,
        total_travel,
        lateness,
        pickups,
    )


def _pickups(
    net: Network, technician: int, visits: Sequence[int]
) -> dict[int, dict[str, int]] | None:
    """Parts each warehouse call must pick up so the van never runs short, or None.

    The van starts with its stock; a shortfall at a job is added to the latest
    warehouse call before it. Without such a call the route is infeasible.
    """
    tech = net.problem.technicians[technician]
    jobs = net.problem.jobs
    stock = dict(tech.van_stock)
    pickups: dict[int, dict[str, int]] = {}
    last_call = None
    for position, node in enumerate(visits):
        if node >= net.n_jobs:
            last_call = position
            pickups[position] = {}
            continue
        for sku, quantity in jobs[node].parts.items():
            have = stock.get(sku, 0)
            if have < quantity:
                if last_call is None:
                    return None
                missing = quantity - have
                pickups[last_call][sku] = pickups[last_call].get(sku, 0) + missing
                have += missing
            stock[sku] = have - quantity
    return pickups
