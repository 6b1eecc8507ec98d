"""Planning inside the product: the optimizer's problems built from the database.

Everything below is the package's public surface; times cross between the database's
instants and the optimizer's ticks only through ``DayClock``.
"""

from dispatch.planning.clock import DayClock as DayClock
from dispatch.planning.problem import UNDER_WAY as UNDER_WAY
from dispatch.planning.problem import PlanningError as PlanningError
from dispatch.planning.problem import build_problem as build_problem
from dispatch.planning.runs import RUN_TRANSITIONS as RUN_TRANSITIONS
from dispatch.planning.runs import RunInProgress as RunInProgress
from dispatch.planning.runs import RunNotFound as RunNotFound
from dispatch.planning.runs import RunTransitionRefused as RunTransitionRefused
from dispatch.planning.runs import active_run as active_run
from dispatch.planning.runs import cancel_run as cancel_run
from dispatch.planning.runs import fail_run as fail_run
from dispatch.planning.runs import finish_run as finish_run
from dispatch.planning.runs import record_progress as record_progress
from dispatch.planning.runs import request_run as request_run
from dispatch.planning.runs import start_run as start_run
