"""The OR-Tools routing model: the only module that imports ortools.

OR-Tools improves one *subproblem* at a time: a group of technicians, the jobs
on their routes and the unassigned jobs they could take. The model is built in
the order of the OR-Tools samples (index manager, transit, arc cost, dimensions,
restrictions, disjunctions, parameters) and starts from the current routes, not
from an OR-Tools first-solution strategy.

Parts are one dimension per SKU the subproblem's jobs need, counting what is
left in the van: it starts at the van stock, each job takes its parts, and a
warehouse call (one optional node per technician and warehouse) adds what it
picks up through the dimension's slack. Pickups summed over the group's vans stay
within what the warehouses have left for the group.

When re-planning with an incumbent, a "moves" dimension prices each job a vehicle
would take from the technician it is with in the published plan.

Three 9.15 traps:
``SetAllowedVehiclesForIndex`` raises TypeError from Python, so vehicles are
restricted with ``VehicleVar(index).SetValues([-1, *allowed])`` (-1 keeps the
visit droppable); ``ReadAssignmentFromRoutes`` closes the model, so it comes
last; and it closes it with *default* search parameters, which fixes the local
search operators and ignores ours, so the model is closed with ours first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from optimizer._network import Network

#: Called with (objective in score units, jobs served, seconds since the search began).
Progress = Callable[[float, int, float], None]


@dataclass(frozen=True)
class Subproblem:
    """What OR-Tools works on; OR-Tools vehicle ``k`` is technician ``vehicles[k]``."""

    vehicles: tuple[int, ...]
    jobs: tuple[int, ...]  # job nodes of the network
    allowed: Mapping[int, tuple[int, ...]]  # job node -> OR-Tools vehicles that may serve it
    routes: tuple[tuple[int, ...], ...]  # start routes per OR-Tools vehicle, network nodes
    fixed: tuple[tuple[int, ...], ...]  # jobs under way opening each vehicle's route, in order
    break_starts: tuple[int | None, ...]  # break start in each start route
    stock: tuple[Mapping[str, int], ...]  # per warehouse, what the group may pick up


@dataclass(frozen=True)
class SearchVariant:
    """How a search starts and how it gets away from local optima.

    ``from_routes``: start from the subproblem's routes; otherwise OR-Tools builds
    its own first solution (local cheapest insertion). ``gls_lambda``: how hard
    guided local search pushes away from local optima until the time limit; None
    stops at the first local optimum (the improvement step after a ruin).
    """

    from_routes: bool = True
    gls_lambda: float | None = 0.1


@dataclass(frozen=True)
class _Nodes:
    """OR-Tools node numbers and the network nodes they stand for."""

    network_node: list[int]  # jobs, warehouse calls, vehicle starts, vehicle ends
    pickup: dict[tuple[int, int], int]  # (vehicle, warehouse) -> OR-Tools node
    starts: list[int]
    ends: list[int]


def improve(
    net: Network,
    sub: Subproblem,
    variant: SearchVariant = SearchVariant(),
    *,
    time_limit_s: float,
    solution_limit: int | None = None,
    repeatable: bool = False,
    progress: Progress | None = None,
) -> list[list[int]] | None:
    """Best routes found for the subproblem's vehicles (network nodes), or None.

    With ``solution_limit`` the search stops after so many solutions. When
    ``repeatable``, nothing but the time limit depends on time, so a search that
    stops by itself (a descent, or at its solution limit) before the time limit
    gives the same routes run to run.
    """
    if time_limit_s <= 0 or not sub.vehicles:
        return None
    nodes = _number_nodes(net, sub)
    manager = pywrapcp.RoutingIndexManager(
        len(nodes.network_node), len(sub.vehicles), nodes.starts, nodes.ends
    )
    model = pywrapcp.RoutingModel(manager)
    model.SetArcCostEvaluatorOfAllVehicles(_register_matrix(model, net, nodes, with_service=False))
    time_dimension, breaks = _add_time(model, manager, net, sub, nodes)
    _add_capacity(model, net, sub, nodes)
    _add_parts(model, manager, net, sub, nodes)
    _add_move_cost(model, net, sub, nodes)
    _restrict_vehicles(model, manager, sub, nodes)
    _add_disjunctions(model, manager, net, sub, nodes)
    _pin_jobs_under_way(model, manager, sub)
    _add_sla(time_dimension, manager, net, sub)
    if progress is not None:
        _report_progress(model, net, sub, progress)
    parameters = _search_parameters(time_limit_s, variant, solution_limit, repeatable)
    if variant.from_routes and any(sub.routes):
        model.CloseModelWithParameters(parameters)
        initial = model.ReadAssignmentFromRoutes(_as_ortools_routes(net, sub, nodes), True)
        if initial is None:
            return None
        _place_breaks(initial, breaks, sub.break_starts)
        found = model.SolveFromAssignmentWithParameters(initial, parameters)
    else:
        found = model.SolveWithParameters(parameters)
    if found is None:
        return None
    return _extract(model, manager, nodes, found)


def _number_nodes(net: Network, sub: Subproblem) -> _Nodes:
    """Jobs, then warehouse-call nodes, then each vehicle's start and end.

    A vehicle gets a call node at the warehouse nearest its start when some job
    it may serve needs more of a part than its van holds, and at any warehouse its
    start route already calls at.
    """
    problem = net.problem
    network_node = list(sub.jobs)
    pickup: dict[tuple[int, int], int] = {}
    if net.n_warehouses:
        serves: list[list[int]] = [[] for _ in sub.vehicles]
        for job, vehicles in sub.allowed.items():
            for vehicle in vehicles:
                serves[vehicle].append(job)
        for vehicle, technician in enumerate(sub.vehicles):
            van = problem.technicians[technician].van_stock
            wanted = {v - net.n_jobs for v in sub.routes[vehicle] if not net.is_job(v)}
            if any(
                van.get(sku, 0) < quantity
                for job in serves[vehicle]
                for sku, quantity in problem.jobs[job].parts.items()
            ):
                start = net.start_node(technician)
                wanted.add(
                    min(
                        range(net.n_warehouses),
                        key=lambda w: net.travel[start, net.warehouse_node(w)],
                    )
                )
            for warehouse in sorted(wanted):
                pickup[vehicle, warehouse] = len(network_node)
                network_node.append(net.warehouse_node(warehouse))
    starts = [len(network_node) + k for k in range(len(sub.vehicles))]
    network_node += [net.start_node(t) for t in sub.vehicles]
    ends = [len(network_node) + k for k in range(len(sub.vehicles))]
    network_node += [net.end_node(t) for t in sub.vehicles]
    return _Nodes(network_node, pickup, starts, ends)


def _register_matrix(
    model: pywrapcp.RoutingModel, net: Network, nodes: _Nodes, *, with_service: bool
) -> int:
    """Travel (plus, for the time dimension, service at the origin) as a C++-side matrix."""
    index = nodes.network_node
    matrix = net.travel[index][:, index]
    if with_service:
        service = [net.service[v] if v < len(net.service) else 0 for v in index]
        matrix = matrix + np.array(service, dtype=np.int64)[:, None]
    return int(model.RegisterTransitMatrix(matrix.tolist()))


def _add_time(
    model: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    net: Network,
    sub: Subproblem,
    nodes: _Nodes,
) -> tuple[pywrapcp.RoutingDimension, dict[int, pywrapcp.IntervalVar]]:
    """Time with windows, shifts and each technician's break; returns the break intervals."""
    technicians = [net.problem.technicians[t] for t in sub.vehicles]
    horizon = max(t.shift.end for t in technicians)
    transit = _register_matrix(model, net, nodes, with_service=True)
    model.AddDimension(transit, horizon, horizon, False, "time")
    dimension = model.GetDimensionOrDie("time")
    first_depot = net.n_jobs + net.n_warehouses
    for node, network_node in enumerate(nodes.network_node):
        if network_node < first_depot:
            start = max(0, net.window_start[network_node])
            end = max(start, min(horizon, net.window_end[network_node]))
            dimension.CumulVar(manager.NodeToIndex(node)).SetRange(start, end)
    service_at = [0] * model.Size()
    for index in range(model.Size()):
        network_node = nodes.network_node[manager.IndexToNode(index)]
        if network_node < first_depot:
            service_at[index] = net.service[network_node]
    solver = model.solver()
    breaks = {}
    for vehicle, tech in enumerate(technicians):
        dimension.CumulVar(model.Start(vehicle)).SetRange(tech.shift.start, tech.shift.end)
        dimension.CumulVar(model.End(vehicle)).SetRange(tech.shift.start, tech.shift.end)
        if tech.break_rule is not None:
            rule = tech.break_rule
            interval = solver.FixedDurationIntervalVar(
                rule.window.start, rule.window.end, rule.duration, False, f"break {tech.id}"
            )
            dimension.SetBreakIntervalsOfVehicle([interval], vehicle, service_at)
            breaks[vehicle] = interval
        model.AddVariableMinimizedByFinalizer(dimension.CumulVar(model.End(vehicle)))
    return dimension, breaks


def _place_breaks(
    initial: pywrapcp.Assignment,
    breaks: dict[int, pywrapcp.IntervalVar],
    break_starts: tuple[int | None, ...],
) -> None:
    """Give the start routes' breaks the times the route schedule chose for them."""
    for vehicle, interval in breaks.items():
        start = break_starts[vehicle]
        initial.Add(interval)
        initial.SetStartValue(interval, start if start is not None else interval.StartMin())
        initial.SetPerformedValue(interval, 1)


def _add_capacity(
    model: pywrapcp.RoutingModel, net: Network, sub: Subproblem, nodes: _Nodes
) -> None:
    technicians = [net.problem.technicians[t] for t in sub.vehicles]
    if all(t.capacity is None for t in technicians):
        return
    demand = [net.problem.jobs[v].demand if net.is_job(v) else 0 for v in nodes.network_node]
    capacities = [t.capacity if t.capacity is not None else sum(demand) for t in technicians]
    callback = model.RegisterUnaryTransitVector(demand)
    model.AddDimensionWithVehicleCapacity(callback, 0, capacities, True, "capacity")


def _add_parts(
    model: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    net: Network,
    sub: Subproblem,
    nodes: _Nodes,
) -> None:
    """One 'left in the van' dimension per SKU the jobs need (see module docstring)."""
    problem = net.problem
    skus = sorted({sku for job in sub.jobs for sku in problem.jobs[job].parts})
    solver = model.solver()
    for sku in skus:
        use = [
            -problem.jobs[v].parts.get(sku, 0) if net.is_job(v) else 0 for v in nodes.network_node
        ]
        supply = sum(stock.get(sku, 0) for stock in sub.stock)
        vans = [problem.technicians[t].van_stock.get(sku, 0) for t in sub.vehicles]
        name = f"part {sku}"
        model.AddDimension(
            model.RegisterUnaryTransitVector(use), supply, max(vans) + supply, False, name
        )
        dimension = model.GetDimensionOrDie(name)
        for vehicle, van in enumerate(vans):
            dimension.CumulVar(model.Start(vehicle)).SetValue(van)
            dimension.SlackVar(model.Start(vehicle)).SetValue(0)
        for node in range(len(sub.jobs)):
            dimension.SlackVar(manager.NodeToIndex(node)).SetValue(0)
        picked: dict[int, list[pywrapcp.IntVar]] = {}
        for (_, warehouse), node in nodes.pickup.items():
            index = manager.NodeToIndex(node)
            available = sub.stock[warehouse].get(sku, 0)
            slack = dimension.SlackVar(index)
            slack.SetRange(0, available)
            solver.Add(slack <= model.ActiveVar(index) * available)  # no call, no pickup
            picked.setdefault(warehouse, []).append(slack)
        for warehouse, slacks in picked.items():
            solver.Add(solver.Sum(slacks) <= sub.stock[warehouse].get(sku, 0))


def _add_move_cost(
    model: pywrapcp.RoutingModel, net: Network, sub: Subproblem, nodes: _Nodes
) -> None:
    """A job served by another vehicle than its incumbent costs ``net.move_cost``.

    The cost depends on job and vehicle both, so each vehicle gets its own unary
    transit, the move cost at every job it would take from another technician, in
    a dimension whose span (the sum along the route) is priced one for one. That is
    exact, like one arc cost matrix per vehicle (``SetArcCostEvaluatorOfVehicle``
    with the cost on the arcs leaving such jobs), but registers a vector per
    vehicle rather than a matrix. Without an incumbent the model is left as it was.
    """
    if not net.move_cost or not any(job in net.incumbent for job in sub.jobs):
        return
    transits = [
        model.RegisterUnaryTransitVector(
            [net.move_cost * net.moves(technician, [v]) for v in nodes.network_node]
        )
        for technician in sub.vehicles
    ]
    model.AddDimensionWithVehicleTransits(
        transits, 0, net.move_cost * len(sub.jobs), True, "moves"
    )
    model.GetDimensionOrDie("moves").SetSpanCostCoefficientForAllVehicles(1)


def _restrict_vehicles(
    model: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    sub: Subproblem,
    nodes: _Nodes,
) -> None:
    for node, job in enumerate(sub.jobs):
        vehicles = sub.allowed[job]
        if len(vehicles) < len(sub.vehicles):
            model.VehicleVar(manager.NodeToIndex(node)).SetValues([-1, *vehicles])
    for (vehicle, _), node in nodes.pickup.items():
        model.VehicleVar(manager.NodeToIndex(node)).SetValues([-1, vehicle])


def _add_disjunctions(
    model: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    net: Network,
    sub: Subproblem,
    nodes: _Nodes,
) -> None:
    """Every job may be left out at its priority's penalty; warehouse calls for free."""
    problem = net.problem
    for node, job in enumerate(sub.jobs):
        penalty = problem.penalties[problem.jobs[job].priority] * problem.ticks_per_minute
        model.AddDisjunction([manager.NodeToIndex(node)], penalty)
    for node in nodes.pickup.values():
        model.AddDisjunction([manager.NodeToIndex(node)], 0)


def _pin_jobs_under_way(
    model: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, sub: Subproblem
) -> None:
    """Jobs under way open their vehicle's route, in their order, and are always served.

    Without this OR-Tools moves them like any other job, and every plan it finds for a
    group holding one would have to be thrown away. ``VehicleVar`` without ``-1`` makes
    the job mandatory despite its disjunction.
    """
    solver = model.solver()
    node_of = {job: node for node, job in enumerate(sub.jobs)}
    for vehicle, fixed in enumerate(sub.fixed):
        previous = model.Start(vehicle)
        for job in fixed:
            index = manager.NodeToIndex(node_of[job])
            model.VehicleVar(index).SetValues([vehicle])
            solver.Add(model.NextVar(previous) == index)
            previous = index


def _add_sla(
    dimension: pywrapcp.RoutingDimension,
    manager: pywrapcp.RoutingIndexManager,
    net: Network,
    sub: Subproblem,
) -> None:
    """Lateness past the SLA due time costs ``lateness_weight`` per tick (score per minute)."""
    weight = net.problem.lateness_weight
    for node, job in enumerate(sub.jobs):
        due = net.due[job]
        if due is not None:
            latest_start = max(0, due - net.service[job])
            dimension.SetCumulVarSoftUpperBound(manager.NodeToIndex(node), latest_start, weight)


def _report_progress(
    model: pywrapcp.RoutingModel, net: Network, sub: Subproblem, progress: Progress
) -> None:
    began = time.monotonic()
    ticks = net.problem.ticks_per_minute

    def on_solution() -> None:
        served = sum(1 for node in range(len(sub.jobs)) if model.NextVar(node).Value() != node)
        progress(model.CostVar().Value() / ticks, served, time.monotonic() - began)

    model.AddAtSolutionCallback(on_solution)


def _as_ortools_routes(net: Network, sub: Subproblem, nodes: _Nodes) -> list[list[int]]:
    """Start routes in OR-Tools node numbers."""
    node_of_job = {job: node for node, job in enumerate(sub.jobs)}
    return [
        [node_of_job[v] if net.is_job(v) else nodes.pickup[vehicle, v - net.n_jobs] for v in route]
        for vehicle, route in enumerate(sub.routes)
    ]


def _search_parameters(
    time_limit_s: float, variant: SearchVariant, solution_limit: int | None, repeatable: bool
) -> pywrapcp.DefaultRoutingSearchParameters:
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.LOCAL_CHEAPEST_INSERTION
    )
    metaheuristics = routing_enums_pb2.LocalSearchMetaheuristic
    if variant.gls_lambda is None:
        parameters.local_search_metaheuristic = metaheuristics.GREEDY_DESCENT
    else:
        parameters.local_search_metaheuristic = metaheuristics.GUIDED_LOCAL_SEARCH
        parameters.guided_local_search_lambda_coefficient = variant.gls_lambda
    parameters.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
    if solution_limit is not None:
        parameters.solution_limit = solution_limit
    if repeatable:
        # The large-neighbourhood operators' inner searches stop at 0.1 s by default: a
        # time limit, so a loaded machine would change where the search goes.
        parameters.lns_time_limit.CopyFrom(parameters.time_limit)
    return parameters


def _extract(
    model: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    nodes: _Nodes,
    assignment: pywrapcp.Assignment,
) -> list[list[int]]:
    routes = []
    for vehicle in range(model.vehicles()):
        route = []
        index = assignment.Value(model.NextVar(model.Start(vehicle)))
        while not model.IsEnd(index):
            route.append(nodes.network_node[manager.IndexToNode(index)])
            index = assignment.Value(model.NextVar(index))
        routes.append(route)
    return routes
