"""Search processes: how many, started fresh rather than forked, safe from threads, robust.

``solve`` is called by the planning service from a worker thread, so its processes must
never be forks of a process that has threads; ``workers`` says how many there are.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import threading
import time
from types import MappingProxyType

import pytest

import optimizer._parallel as parallel
from optimizer._network import Network
from optimizer.eligibility import Eligibility, eligibility
from optimizer.io import read_problem
from optimizer.problem import Problem
from optimizer.solution import Solution, Stop, StopKind
from optimizer.solve import SolveParams, solve
from tests.optimizer.conftest import SCENARIOS, assert_sound

#: Changed by a test in this process; a search process that was not forked sees it as imported.
MARK = "as imported"


class _ReadMark:
    """A search task that answers with what ``MARK`` is in the process running it."""

    def __call__(self, net: Network, allowed: Eligibility, report: parallel.Report) -> str:
        return MARK


class _Die:
    """A search task whose process dies without a word, as a crash in OR-Tools would."""

    def __call__(self, net: Network, allowed: Eligibility, report: parallel.Report) -> str:
        os._exit(3)


class _Report:
    """A search task that reports progress twice and answers with its own process id."""

    def __call__(self, net: Network, allowed: Eligibility, report: parallel.Report) -> int:
        report(2.0, 1)
        report(1.0, 2)
        return os.getpid()


class _Sleep:
    """A search task that overruns: it answers with its id after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(self, net: Network, allowed: Eligibility, report: parallel.Report) -> float:
        time.sleep(self.seconds)
        return self.seconds


@pytest.fixture(scope="module")
def oslo_day() -> Problem:
    return read_problem(SCENARIOS / "oslo-5x30.json")


@pytest.fixture(scope="module")
def network(oslo_day: Problem) -> tuple[Network, Eligibility]:
    net = Network.build(oslo_day)
    return net, eligibility(net)


class _Watcher(threading.Thread):
    """A thread that keeps noting how many child processes this process has, until stopped."""

    def __init__(self) -> None:
        super().__init__()
        self.stop = threading.Event()
        self.seen: list[int] = []

    def run(self) -> None:
        while not self.stop.is_set():
            self.seen.append(len(multiprocessing.active_children()))
            time.sleep(0.01)


def _solve_watched(problem: Problem, workers: int, seconds: float) -> tuple[Solution, list[int]]:
    """Solve in a thread of its own while another thread runs, watching the child processes."""
    watcher = _Watcher()
    outcome: list[Solution] = []

    def planner() -> None:
        outcome.append(solve(problem, SolveParams(time_limit_s=seconds, workers=workers)))

    watcher.start()
    worker = threading.Thread(target=planner)
    worker.start()
    worker.join(timeout=60)
    watcher.stop.set()
    watcher.join()
    assert not worker.is_alive()
    return outcome[0], watcher.seen


def test_solve_from_a_thread_while_another_thread_runs(oslo_day: Problem) -> None:
    """Called from a worker thread beside a running one, solve searches in 2 processes and
    the plan passes the checker."""
    solution, children = _solve_watched(oslo_day, workers=2, seconds=1.5)

    assert_sound(oslo_day, solution)
    assert max(children) == 2  # the search ran in two processes
    assert multiprocessing.active_children() == []  # and they are gone


def test_one_worker_searches_in_the_calling_process(oslo_day: Problem) -> None:
    """With workers=1 the search starts no process."""
    solution, children = _solve_watched(oslo_day, workers=1, seconds=1.0)

    assert_sound(oslo_day, solution)
    assert len(children) > 1  # watched while the search ran
    assert set(children) == {0}


def test_no_time_to_search_starts_no_process(oslo_day: Problem) -> None:
    """With no time beyond the construction, two workers start no process either."""
    solution, children = _solve_watched(oslo_day, workers=2, seconds=0.0)

    assert_sound(oslo_day, solution)
    assert set(children) <= {0}


def _plan_is_sound(path: str, workers: int) -> bool:
    """Solve the day in the process this runs in; True when the checker accepts the plan."""
    problem = read_problem(path)
    solution = solve(problem, SolveParams(time_limit_s=0.5, workers=workers))
    return assert_sound(problem, solution).feasible


def test_solve_in_a_daemonic_process_searches_in_it() -> None:
    """A pool worker may not start processes, so there solve searches in-process instead."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        sound = pool.apply(_plan_is_sound, (str(SCENARIOS / "oslo-5x30.json"), 2))

    assert sound


@pytest.mark.parametrize("workers", [0, -2])
def test_fewer_than_one_worker_is_refused(workers: int) -> None:
    """``SolveParams(workers=0)`` (or less) is refused, naming the field."""
    with pytest.raises(ValueError, match="workers"):
        SolveParams(workers=workers)


@pytest.mark.parametrize("workers", [1.5, True, "2"])
def test_workers_must_be_a_whole_number(workers: object) -> None:
    """A fractional, boolean or text number of workers is refused as a type error."""
    with pytest.raises(TypeError, match="workers"):
        SolveParams(workers=workers)  # type: ignore[arg-type]


@pytest.mark.parametrize("seconds", [-1.0, math.nan, math.inf])
def test_time_limit_must_be_finite_and_not_negative(seconds: float) -> None:
    """A negative, NaN or infinite time limit is refused, naming the field."""
    with pytest.raises(ValueError, match="time_limit_s"):
        SolveParams(time_limit_s=seconds)


def test_search_processes_are_not_forks_of_the_caller(
    network: tuple[Network, Eligibility], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process forked from the caller would share its memory; ours import the code afresh."""
    monkeypatch.setattr(f"{__name__}.MARK", "changed by the caller")
    net, allowed = network

    with parallel.runner(net, allowed, 2) as searches:
        answers = searches.run([_ReadMark(), _ReadMark()], 10.0, lambda score, served: None)

    assert answers == ["as imported", "as imported"]


def test_processes_relay_progress_and_serve_several_runs(
    network: tuple[Network, Eligibility],
) -> None:
    """Each run's progress reaches the caller, and the same two processes serve every run."""
    net, allowed = network
    reports: list[tuple[float, int]] = []

    with parallel.runner(net, allowed, 2) as searches:
        first = searches.run([_Report(), _Report()], 10.0, lambda *report: reports.append(report))
        second = searches.run([_Report(), _Report()], 10.0, lambda *report: None)

    assert sorted(reports) == [(1.0, 2), (1.0, 2), (2.0, 1), (2.0, 1)]
    assert first == second
    assert len(set(first)) == 2
    assert os.getpid() not in first


def test_a_process_that_dies_costs_its_search_only(network: tuple[Network, Eligibility]) -> None:
    """A search whose process dies yields None at once; the other process keeps serving."""
    net, allowed = network

    with parallel.runner(net, allowed, 2) as searches:
        began = time.monotonic()
        tasks: list[parallel.Task[str]] = [_Die(), _ReadMark()]
        answers = searches.run(tasks, 10.0, lambda score, served: None)
        waited = time.monotonic() - began
        again = searches.run([_ReadMark(), _ReadMark()], 10.0, lambda score, served: None)

    assert answers == [None, "as imported"]
    assert waited < 10.0  # not the budget, let alone the grace period
    assert again == [None, "as imported"]


def test_a_rival_that_overruns_is_given_up_once_another_has_answered(
    network: tuple[Network, Eligibility],
) -> None:
    """Rival searches of one plan: the late one yields None soon after the budget; searches
    that are not rivals (parts of a plan) are all waited for."""
    net, allowed = network
    budget_s, late_s = 0.5, 3.0

    with parallel.runner(net, allowed, 2) as searches:
        searches.run([_ReadMark(), _ReadMark()], 10.0, lambda score, served: None)  # started
        began = time.monotonic()
        rivals = searches.run(
            [_Sleep(late_s), _Sleep(0.0)], budget_s, lambda score, served: None, rivals=True
        )
        waited = time.monotonic() - began

    assert rivals == [None, 0.0]
    assert waited < budget_s + parallel.RIVAL_GRACE_S + 0.5 < late_s

    with parallel.runner(net, allowed, 2) as searches:
        parts = searches.run([_Sleep(1.0), _Sleep(0.0)], budget_s, lambda score, served: None)
    assert parts == [1.0, 0.0]


def test_a_rival_is_not_given_up_because_another_died(
    network: tuple[Network, Eligibility],
) -> None:
    net, allowed = network
    tasks: list[parallel.Task[object]] = [_Die(), _Sleep(1.0)]
    with parallel.runner(net, allowed, 2) as searches:
        answers = searches.run(tasks, 0.2, lambda score, served: None, rivals=True)
    assert answers == [None, 1.0]


def test_a_process_that_cannot_start_is_an_error_for_the_caller(
    network: tuple[Network, Eligibility],
) -> None:
    """What cannot be sent to a search process fails the run loudly, not with no search."""
    net, _ = network
    unpicklable = Eligibility(allowed=(), excluded={0: lambda: None})  # type: ignore[dict-item]

    with (
        pytest.raises((pickle.PicklingError, AttributeError, TypeError)),
        parallel.runner(net, unpicklable, 2) as searches,
    ):
        searches.run([_ReadMark(), _ReadMark()], 10.0, lambda score, served: None)

    assert multiprocessing.active_children() == []


def test_problems_and_plans_survive_pickling() -> None:
    """What crosses to a search process comes back equal, its mappings still read-only."""
    problem = read_problem(SCENARIOS / "oslo-5x30.json")
    stop = Stop(StopKind.WAREHOUSE, "W-1", 10, 20, 30, {"FLT-2020": 2})

    copy = pickle.loads(pickle.dumps(problem))
    stop_copy = pickle.loads(pickle.dumps(stop))

    assert copy == problem
    assert stop_copy == stop
    assert isinstance(copy.technicians[0].van_stock, MappingProxyType)
    assert isinstance(copy.penalties, MappingProxyType)
    assert isinstance(stop_copy.pickup, MappingProxyType)
