"""Exact timing of one technician's route: windows, shift, break, parts, capacity.

The construction heuristic asks it whether an insertion is feasible, and the
OR-Tools routes are re-timed through it, so every plan the engine returns has
its times, break and pickup quantities computed by this one piece of code.
"""

from __future__ import annotations

import bisect
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
    plain = _timeline(net, technician, visits, pickups)
    rule = tech.break_rule
    # A break only ever delays: a route late without one is late with one.
    if plain is None or rule is None or not visits:
        return plain
    # A gap reached before the break window opens is never better than the next gap:
    # the break starts when the window opens either way, and there one more visit is done.
    reached = (*plain.arrivals[1:], plain.return_)
    best = None
    for gap in range(
        bisect.bisect_right(reached, rule.window.start),
        bisect.bisect_right(plain.ends, rule.window.end) + 1,
    ):
        timing = _timeline(net, technician, visits, pickups, (gap, plain))
        if timing is not None and (best is None or _better(timing, best, net)):
            best = timing
            if (timing.lateness, timing.return_) == (plain.lateness, plain.return_):
                break  # the break costs nothing here: no other gap does better
    return best


def _better(a: Timing, b: Timing, net: Network) -> bool:
    weight = net.problem.lateness_weight
    return (a.cost(weight), a.return_) < (b.cost(weight), b.return_)


def _timeline(
    net: Network,
    technician: int,
    visits: Sequence[int],
    pickups: Mapping[int, Mapping[str, int]],
    with_break: tuple[int, Timing] | None = None,
) -> Timing | None:
    """Earliest-start timeline; None when a limit is broken.

    ``with_break`` is the gap the break is taken in (before visit ``gap``; at the
    end: before the return) and the timeline without a break. Visits before the
    gap keep that timeline's times, and so does the rest from the first visit
    that starts when it did there (waiting for its window absorbed the break):
    only the stretch in between is timed again.
    """
    tech = net.problem.technicians[technician]
    rows, service = net.rows, net.service
    window_start, window_end, due = net.window_start, net.window_end, net.due
    rule = tech.break_rule
    gap, plain = with_break if with_break is not None else (None, None)
    first = gap or 0
    arrivals: list[int] = [] if plain is None else list(plain.arrivals[:first])
    starts: list[int] = [] if plain is None else list(plain.starts[:first])
    ends: list[int] = [] if plain is None else list(plain.ends[:first])
    time = ends[-1] if ends else tech.shift.start
    previous = visits[first - 1] if first else net.start_node(technician)
    travel = lateness = 0  # of the stretch timed here; with a break, beyond the plain timeline's
    break_start = None
    for position in range(first, len(visits) + 1):
        node = visits[position] if position < len(visits) else net.end_node(technician)
        leg = rows[previous][node]
        travel += leg
        ready = arrival = time + leg
        if position == gap:
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
        if node_due is not None:
            lateness += max(0, end - node_due)
            if plain is not None:
                lateness -= max(0, plain.ends[position] - node_due)
        arrivals.append(arrival)
        starts.append(start)
        ends.append(end)
        if plain is not None and start == plain.starts[position]:
            arrivals += plain.arrivals[position + 1 :]
            starts += plain.starts[position + 1 :]
            ends += plain.ends[position + 1 :]
            return_ = plain.return_
            break
        time, previous = end, node
    if plain is not None:
        travel, lateness = plain.travel, plain.lateness + lateness
    depart = tech.shift.start
    if visits and gap != 0:
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
        gap,
        break_start,
        travel,
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
