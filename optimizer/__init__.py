"""The planning engine: one immutable problem in, one plan out.

A pure library: it imports neither Flask nor the database nor the other packages.
Everything below is its public surface; modules whose names start with ``_`` are
not, and may change without notice.
"""

from optimizer._candidates import Candidate as Candidate
from optimizer._candidates import apply_candidate as apply_candidate
from optimizer._candidates import insertion_candidates as insertion_candidates
from optimizer._candidates import why_no_candidate as why_no_candidate
from optimizer._network import TravelMatrix as TravelMatrix
from optimizer._network import travel_matrix as travel_matrix
from optimizer.check import CheckReport as CheckReport
from optimizer.check import Violation as Violation
from optimizer.check import check as check
from optimizer.check import check_plan_document as check_plan_document
from optimizer.eligibility import may_serve as may_serve
from optimizer.io import SCENARIO_FORMAT as SCENARIO_FORMAT
from optimizer.io import read_problem as read_problem
from optimizer.io import scenario_problem as scenario_problem
from optimizer.io import solomon_problem as solomon_problem
from optimizer.plan_io import PLAN_FORMAT as PLAN_FORMAT
from optimizer.plan_io import PlanReader as PlanReader
from optimizer.plan_io import plan_document as plan_document
from optimizer.problem import Break as Break
from optimizer.problem import InvalidProblem as InvalidProblem
from optimizer.problem import Job as Job
from optimizer.problem import Location as Location
from optimizer.problem import Priority as Priority
from optimizer.problem import Problem as Problem
from optimizer.problem import Technician as Technician
from optimizer.problem import TimeWindow as TimeWindow
from optimizer.problem import Warehouse as Warehouse
from optimizer.retime import retime_route as retime_route
from optimizer.solution import Reason as Reason
from optimizer.solution import Route as Route
from optimizer.solution import Solution as Solution
from optimizer.solution import Stop as Stop
from optimizer.solution import StopKind as StopKind
from optimizer.solution import Unassigned as Unassigned
from optimizer.solve import ProgressCallback as ProgressCallback
from optimizer.solve import SolveParams as SolveParams
from optimizer.solve import solve as solve
from optimizer.stability import assigned_technicians as assigned_technicians
from optimizer.stability import moved_jobs as moved_jobs
from optimizer.travel import EuclideanTravel as EuclideanTravel
from optimizer.travel import GeodesicTravel as GeodesicTravel
from optimizer.travel import TravelModel as TravelModel
