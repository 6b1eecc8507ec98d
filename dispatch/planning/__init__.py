"""Planning inside the product: problems from the database, runs, proposals, publishing.

Everything below is the package's public surface; times cross between the database's
instants and the optimizer's ticks only through ``DayClock``.
"""

from dispatch.planning.clock import DayClock as DayClock
from dispatch.planning.problem import UNDER_WAY as UNDER_WAY
from dispatch.planning.problem import PlanningError as PlanningError
from dispatch.planning.problem import build_problem as build_problem
from dispatch.planning.proposals import InfeasiblePlan as InfeasiblePlan
from dispatch.planning.proposals import PlanNotFound as PlanNotFound
from dispatch.planning.proposals import ProposalClosed as ProposalClosed
from dispatch.planning.proposals import SolveStart as SolveStart
from dispatch.planning.proposals import discard as discard
from dispatch.planning.proposals import get_plan as get_plan
from dispatch.planning.proposals import new_plan as new_plan
from dispatch.planning.proposals import published as published
from dispatch.planning.proposals import published_version as published_version
from dispatch.planning.proposals import replan_start as replan_start
from dispatch.planning.proposals import routes_of as routes_of
from dispatch.planning.proposals import save_proposal as save_proposal
from dispatch.planning.publish import ROUTE_EVENT as ROUTE_EVENT
from dispatch.planning.publish import ROUTE_PUBLISHED as ROUTE_PUBLISHED
from dispatch.planning.publish import StalePlan as StalePlan
from dispatch.planning.publish import publish as publish
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
