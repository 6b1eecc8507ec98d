"""Search processes: started once per ``solve``, never by forking the caller.

OR-Tools' search uses one core, so searches run side by side in processes. The
caller may have threads (the planning service calls ``solve`` from a worker), and
forking a process that has threads can copy a lock some other thread holds into
the child, where nobody will ever release it. So the processes start fresh
(``forkserver`` where the platform has it: after the first solve, a new process
forks from a clean server that has already imported the engine; ``spawn``
elsewhere). Each receives the network and eligibility once, then runs the
searches it is sent until it is told to stop.

Like any code starting fresh processes, a script calling ``solve`` with more than
one worker must keep its top-level code under ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any, Protocol, TypeVar

from optimizer._network import Network
from optimizer.eligibility import Eligibility

#: Seconds a search may overrun its budget before its process is given up on and ended.
GRACE_S = 30.0
#: Seconds a rival search may overrun its budget once another has answered (``rivals``).
#: OR-Tools' descent at 400 jobs returned 0.7-1.6 s after its own time limit.
RIVAL_GRACE_S = 0.2

Result_co = TypeVar("Result_co", covariant=True)
#: Receives (score, jobs served) of the whole plan while a search runs.
Report = Callable[[float, int], None]


class Task(Protocol[Result_co]):
    """One search: picklable, run where the network is, reporting progress as it goes."""

    def __call__(self, net: Network, allowed: Eligibility, report: Report) -> Result_co: ...


class Runner(Protocol):
    """Runs up to ``count`` searches side by side (``InProcess``: any number, in turn)."""

    @property
    def count(self) -> int: ...

    def run(
        self,
        tasks: Sequence[Task[Result_co]],
        budget_s: float,
        report: Report,
        *,
        rivals: bool = False,
    ) -> list[Result_co | None]: ...


def context() -> ForkServerContext | SpawnContext:
    """The multiprocessing context of the search processes (never ``fork``)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    server = multiprocessing.get_context("forkserver")
    # Read when the server starts: then every process starts with the engine imported.
    server.set_forkserver_preload(["optimizer._search"])
    return server


@contextmanager
def runner(net: Network, allowed: Eligibility, count: int) -> Iterator[Runner]:
    """``count`` search processes for the duration of a solve; none (in-process) for one.

    A daemonic process (a ``multiprocessing.Pool`` worker, say) may not have children,
    so there the search runs in-process whatever ``count`` says.
    """
    if count <= 1 or multiprocessing.current_process().daemon:
        yield InProcess(net, allowed)
        return
    workers = Workers(net, allowed, count)
    try:
        yield workers
    finally:
        workers.close()


class InProcess:
    """Runs one search at a time in the calling process: no process to start or feed.

    A repeatable run gives it as many searches as ``Workers`` would run side by side,
    so that the plan does not depend on the number of workers.
    """

    count = 1

    def __init__(self, net: Network, allowed: Eligibility) -> None:
        self._net = net
        self._allowed = allowed

    def run(
        self,
        tasks: Sequence[Task[Result_co]],
        budget_s: float,
        report: Report,
        *,
        rivals: bool = False,
    ) -> list[Result_co | None]:
        return [task(self._net, self._allowed, report) for task in tasks]


class Workers:
    """``count`` search processes holding one network; ``run`` sends them one search each.

    A process that dies, or overruns its budget by more than ``GRACE_S``, yields
    None for its search and takes no more: the plan keeps what it had.
    """

    def __init__(self, net: Network, allowed: Eligibility, count: int) -> None:
        ctx = context()
        self._answers: Queue[tuple[int, int, str, Any]] = ctx.Queue()
        self._inboxes: list[Queue[tuple[int, Task[Any]] | None]] = [
            ctx.Queue() for _ in range(count)
        ]
        self._processes: list[BaseProcess] = [
            ctx.Process(target=_serve, args=(k, net, allowed, inbox, self._answers), daemon=True)
            for k, inbox in enumerate(self._inboxes)
        ]
        # Starting (and sending the network) takes a while: let the caller build its first
        # plan meanwhile. Starting fresh processes from a thread is safe; forking is not.
        starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="search-processes")
        self._started = starter.submit(self._start)
        starter.shutdown(wait=False)
        self._runs = 0

    def _start(self) -> None:
        for process in self._processes:
            process.start()

    @property
    def count(self) -> int:
        return len(self._processes)

    def run(
        self,
        tasks: Sequence[Task[Result_co]],
        budget_s: float,
        report: Report,
        *,
        rivals: bool = False,
    ) -> list[Result_co | None]:
        """Run ``tasks`` side by side (at most ``count``), relaying their progress to ``report``.

        Results come in the order of ``tasks``, whichever search finishes first. With
        ``rivals`` (searches of the same plan, of which the best is kept), a search
        still running ``RIVAL_GRACE_S`` after the budget is given up on once another
        has answered, so that the solve ends when it was asked to.
        """
        self._started.result()  # raises here what starting raised
        self._runs += 1
        run = self._runs
        results: list[Result_co | None] = [None] * len(tasks)
        waiting = set()
        for k, task in enumerate(tasks):
            if self._processes[k].is_alive():
                self._inboxes[k].put((run, task))
                waiting.add(k)
        answered = 0
        began = time.monotonic()
        give_up, rivals_give_up = began + budget_s + GRACE_S, began + budget_s + RIVAL_GRACE_S
        while waiting and time.monotonic() < give_up:
            timeout = 0.5
            if rivals and answered:  # one has: wait no longer than this for the others
                timeout = min(timeout, rivals_give_up - time.monotonic())
                if timeout <= 0:
                    break
            try:
                answer_run, k, kind, payload = self._answers.get(timeout=timeout)
            except queue.Empty:
                waiting = {k for k in waiting if self._processes[k].is_alive()}
                continue
            if answer_run != run:
                continue  # from a search given up on earlier
            if kind == "done":
                results[k] = payload
                waiting.discard(k)
                answered += 1
            else:
                report(*payload)
        for k in waiting:
            self._processes[k].kill()
        return results

    def close(self) -> None:
        """Tell each process to stop, and end those that do not."""
        self._started.exception()  # wait until starting is over, whatever it raised
        started = [process for process in self._processes if process.pid is not None]
        for inbox, process in zip(self._inboxes, self._processes, strict=True):
            if process.is_alive():
                inbox.put(None)
        for process in started:
            process.join(timeout=1)
            if process.is_alive():
                process.kill()
                process.join()
        self._answers.close()
        for inbox in self._inboxes:
            inbox.close()
            inbox.cancel_join_thread()  # a task for a process that died may never be read


def _serve(
    k: int,
    net: Network,
    allowed: Eligibility,
    inbox: Queue[tuple[int, Task[Any]] | None],
    answers: Queue[tuple[int, int, str, Any]],
) -> None:
    """A search process: run each task received, until told to stop."""
    while (message := inbox.get()) is not None:
        run, task = message

        def report(score: float, served: int, run: int = run) -> None:
            answers.put((run, k, "progress", (score, served)))

        answers.put((run, k, "done", task(net, allowed, report)))
