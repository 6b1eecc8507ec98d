"""The OR-Tools routing model: the only module that imports ortools.

Built in the order of the OR-Tools samples (index manager, transit, arc cost,
dimensions, restrictions, disjunctions, parameters), then started from the
constructed routes rather than from an OR-Tools first-solution strategy.

Parts are one dimension per SKU the day's jobs need, counting what is left in the
van: it starts at the van stock, each job takes its parts, and a warehouse call
(one optional node per technician and warehouse) adds what it picks up through the
dimension's slack. Pickups summed over all vans stay within each warehouse's stock.

Two 9.15 traps (``../shared/design/STYLE.md``): ``SetAllowedVehiclesForIndex``
raises TypeError from Python, so vehicles are restricted with
``VehicleVar(index).SetValues([-1, *allowed])`` (-1 keeps the visit droppable);
and ``ReadAssignmentFromRoutes`` closes the model, so it comes last.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from optimizer._network import Network
from optimizer.eligibility import Eligibility

#: Called with (objective in score units, jobs served, seconds since the search began).
Progress = Callable[[float, int, float], None]


@dataclass(frozen=True)
class _Nodes:
    """OR-Tools node numbers and the network nodes they stand for."""

    network_node: list[int]  # ortools node -> network node (jobs, warehouses, starts, ends)
    pickup: dict[tuple[int, int], int]  # (technician, warehouse) -> ortools node
    starts: list[int]
    ends: list[int]

    @property
    def count(self) -> int:
        return len(self.network_node)


def improve(
    net: Network,
    allowed: Eligibility,
    routes: list[list[int]],
    *,
    time_limit_s: float,
    progress: Progress | None = None,
) -> list[list[int]] | None:
    """Improve ``routes`` (network nodes per technician) within the time limit.

    Returns the best routes found as network nodes, or None when OR-Tools
    returned nothing better than the start (or no solution at all).
    """
    if time_limit_s <= 0 or not any(allowed.allowed):
        return None
    nodes = _number_nodes(net, allowed, routes)
    manager = pywrapcp.RoutingIndexManager(nodes.count, len(net.problem.technicians), nodes.starts, nodes.ends)
    model = pywrapcp.RoutingModel(manager)
    travel = _register_matrix(model, net, nodes, with_service=False)
    model.SetArcCostEvaluatorOfAllVehicles(travel)
    time_dimension = _add_time(model, manager, net, nodes)
    _add_capacity(model, manager, net, nodes)
    _add_parts(model, manager, net, nodes)
    _restrict_vehicles(model, manager, net, allowed, nodes)
    _add_disjunctions(model, manager, net, allowed, nodes)
    _add_sla(time_dimension, manager, net, nodes)
    if progress is not None:
        _report_progress(model, net, nodes, progress)
    initial = model.ReadAssignmentFromRoutes(_as_ortools_routes(net, routes, nodes), True)
    if initial is None:
        return None
    found = model.SolveFromAssignmentWithParameters(initial, _search_parameters(time_limit_s))
    if found is None:
        return None
    return _extract(model, manager, nodes, found)


def _number_nodes(net: Network, allowed: Eligibility, routes: list[list[int]]) -> _Nodes:
    """Jobs, then one warehouse-call node per (technician, warehouse) that may be useful.

    A technician gets call nodes when some job they may serve needs more of a part
    than their van holds: at the warehouse nearest their start, and at any
    warehouse their constructed route already calls at.
    """
    problem = net.problem
    network_node = list(range(net.n_jobs))
    pickup: dict[tuple[int, int], int] = {}
    if net.n_warehouses:
        serves: list[set[int]] = [set() for _ in problem.technicians]
        for job, technicians in enumerate(allowed.allowed):
            for technician in technicians:
                serves[technician].add(job)
        for technician, tech in enumerate(problem.technicians):
            short = any(
                tech.van_stock.get(sku, 0) < quantity
                for job in serves[technician]
                for sku, quantity in problem.jobs[job].parts.items()
            )
            wanted = {v - net.n_jobs for v in routes[technician] if not net.is_job(v)}
            if short:
                start = net.start_node(technician)
                wanted.add(min(range(net.n_warehouses), key=lambda w: net.travel[start, net.warehouse_node(w)]))
            for warehouse in sorted(wanted):
                pickup[technician, warehouse] = len(network_node)
                network_node.append(net.warehouse_node(warehouse))
    starts, ends = [], []
    for technician in range(len(problem.technicians)):
        starts.append(len(network_node))
        network_node.append(net.start_node(technician))
    for technician in range(len(problem.technicians)):
        ends.append(len(network_node))
        network_node.append(net.end_node(technician))
    return _Nodes(network_node, pickup, starts, ends)


def _register_matrix(
    model: pywrapcp.RoutingModel, net: Network, nodes: _Nodes, *, with_service: bool
) -> int:
    """Travel (plus, for the time dimension, service at the origin) as a C++-side matrix."""
    index = nodes.network_node
    matrix = net.travel[index][:, index]
    if with_service:
        service = [net.service[v] if v < len(net.service) else 0 for v in index]
        matrix = matrix + [[s] for s in service]
    return model.RegisterTransitMatrix(matrix.tolist())


def _add_time(
    model: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, net: Network, nodes: _Nodes
) -> pywrapcp.RoutingDimension:
    problem = net.problem
    horizon = max(t.shift.end for t in problem.technicians)
    transit = _register_matrix(model, net, nodes, with_service=True)
    model.AddDimension(transit, horizon, horizon, False, "time")
    dimension = model.GetDimensionOrDie("time")
    for node, network_node in enumerate(nodes.network_node):
        if network_node >= net.n_jobs + net.n_warehouses:
            continue
        start = max(0, net.window_start[network_node])
        end = min(horizon, net.window_end[network_node])
        dimension.CumulVar(manager.NodeToIndex(node)).SetRange(start, max(start, end))
    service_at = [0] * model.Size()
    for index in range(model.Size()):
        network_node = nodes.network_node[manager.IndexToNode(index)]
        if network_node < len(net.service):
            service_at[index] = net.service[network_node]
    solver = model.solver()
    for vehicle, tech in enumerate(problem.technicians):
        dimension.CumulVar(model.Start(vehicle)).SetRange(tech.shift.start, tech.shift.end)
        dimension.CumulVar(model.End(vehicle)).SetRange(tech.shift.start, tech.shift.end)
        if tech.break_rule is not None:
            rule = tech.break_rule
            interval = solver.FixedDurationIntervalVar(
                rule.window.start, rule.window.end, rule.duration, False, f"break {tech.id}"
            )
            dimension.SetBreakIntervalsOfVehicle([interval], vehicle, service_at)
        model.AddVariableMinimizedByFinalizer(dimension.CumulVar(model.End(vehicle)))
    return dimension


def _add_capacity(
    model: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, net: Network, nodes: _Nodes
) -> None:
    problem = net.problem
    if all(t.capacity is None for t in problem.technicians):
        return
    demand = [
        problem.jobs[v].demand if net.is_job(v) else 0 for v in nodes.network_node
    ]
    callback = model.RegisterUnaryTransitVector(demand)
    capacities = [t.capacity if t.capacity is not None else sum(demand) for t in problem.technicians]
    model.AddDimensionWithVehicleCapacity(callback, 0, capacities, True, "capacity")


def _add_parts(
    model: pywrapcp.RoutingModel, manager: pywrapcp.RoutingIndexManager, net: Network, nodes: _Nodes
) -> None:
    """One 'left in the van' dimension per SKU the jobs need (see module docstring)."""
    problem = net.problem
    skus = sorted({sku for job in problem.jobs for sku in job.parts})
    solver = model.solver()
    for sku in skus:
        use = [-problem.jobs[v].parts.get(sku, 0) if net.is_job(v) else 0 for v in nodes.network_node]
        supply = sum(w.stock.get(sku, 0) for w in problem.warehouses)
        ceiling = max(t.van_stock.get(sku, 0) for t in problem.technicians) + supply
        model.AddDimension(model.RegisterUnaryTransitVector(use), supply, ceiling, False, f"part {sku}")
        dimension = model.GetDimensionOrDie(f"part {sku}")
        for vehicle, tech in enumerate(problem.technicians):
            dimension.CumulVar(model.Start(vehicle)).SetValue(tech.van_stock.get(sku, 0))
            dimension.SlackVar(model.Start(vehicle)).SetValue(0)
        picked_at: dict[int, list] = {}
        for node in range(net.n_jobs):
            dimension.SlackVar(manager.NodeToIndex(node)).SetValue(0)
        for (vehicle, warehouse), node in nodes.pickup.items():
            index = manager.NodeToIndex(node)
            stock = problem.warehouses[warehouse].stock.get(sku, 0)
            slack = dimension.SlackVar(index)
            slack.SetRange(0, stock)
            # An unvisited call picks nothing up.
            solver.Add(slack <= model.ActiveVar(index) * stock)
            picked_at.setdefault(warehouse, []).append(slack)
        for warehouse, slacks in picked_at.items():
            solver.Add(solver.Sum(slacks) <= problem.warehouses[warehouse].stock.get(sku, 0))


def _restrict_vehicles(
    model: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    net: Network,
    allowed: Eligibility,
    nodes: _Nodes,
) -> None:
    everyone = len(net.problem.technicians)
    for job, technicians in enumerate(allowed.allowed):
        if 0 < len(technicians) < everyone:
            model.VehicleVar(manager.NodeToIndex(job)).SetValues([-1, *technicians])
    for (vehicle, _), node in nodes.pickup.items():
        model.VehicleVar(manager.NodeToIndex(node)).SetValues([-1, vehicle])


def _add_disjunctions(
    model: pywrapcp.RoutingModel,
    manager: pywrapcp.RoutingIndexManager,
    net: Network,
    allowed: Eligibility,
    nodes: _Nodes,
) -> None:
    """Every job may be left out at its priority's penalty; nobody-eligible jobs always are."""
    problem = net.problem
    for job, technicians in enumerate(allowed.allowed):
        index = manager.NodeToIndex(job)
        if not technicians:
            model.ActiveVar(index).SetValue(0)
        penalty = problem.penalties[problem.jobs[job].priority] * problem.ticks_per_minute
        model.AddDisjunction([index], penalty)
    for node in nodes.pickup.values():
        model.AddDisjunction([manager.NodeToIndex(node)], 0)


def _add_sla(
    dimension: pywrapcp.RoutingDimension,
    manager: pywrapcp.RoutingIndexManager,
    net: Network,
    nodes: _Nodes,
) -> None:
    """Lateness past the SLA due time costs ``lateness_weight`` per tick (score per minute)."""
    weight = net.problem.lateness_weight
    for job in range(net.n_jobs):
        due = net.due[job]
        if due is not None:
            latest_start = max(0, due - net.service[job])
            dimension.SetCumulVarSoftUpperBound(manager.NodeToIndex(job), latest_start, weight)


def _report_progress(
    model: pywrapcp.RoutingModel, net: Network, nodes: _Nodes, progress: Progress
) -> None:
    began = time.monotonic()
    ticks = net.problem.ticks_per_minute

    def on_solution() -> None:
        served = sum(1 for job in range(net.n_jobs) if model.NextVar(job).Value() != job)
        progress(model.CostVar().Value() / ticks, served, time.monotonic() - began)

    model.AddAtSolutionCallback(on_solution)


def _as_ortools_routes(net: Network, routes: list[list[int]], nodes: _Nodes) -> list[list[int]]:
    """Network routes in OR-Tools node numbers (jobs keep theirs; calls map to their copy)."""
    return [
        [v if net.is_job(v) else nodes.pickup[technician, v - net.n_jobs] for v in route]
        for technician, route in enumerate(routes)
    ]


def _search_parameters(time_limit_s: float) -> pywrapcp.DefaultRoutingSearchParameters:
    parameters = pywrapcp.DefaultRoutingSearchParameters()
    parameters.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    parameters.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    parameters.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
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
