"""Planning inside the product: the optimizer's problems built from the database.

Everything below is the package's public surface; times cross between the database's
instants and the optimizer's ticks only through ``DayClock``.
"""

from dispatch.planning.clock import DayClock as DayClock
from dispatch.planning.problem import UNDER_WAY as UNDER_WAY
from dispatch.planning.problem import PlanningError as PlanningError
from dispatch.planning.problem import build_problem as build_problem
