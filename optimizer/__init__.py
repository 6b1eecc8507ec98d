"""The planning engine: one immutable problem in, one plan out.

A pure library: it imports neither Flask nor the database nor the other packages.
"""

from optimizer.problem import Break as Break
from optimizer.problem import InvalidProblem as InvalidProblem
from optimizer.problem import Job as Job
from optimizer.problem import Location as Location
from optimizer.problem import Priority as Priority
from optimizer.problem import Problem as Problem
from optimizer.problem import Technician as Technician
from optimizer.problem import TimeWindow as TimeWindow
from optimizer.problem import Warehouse as Warehouse
from optimizer.solution import Reason as Reason
from optimizer.solution import Route as Route
from optimizer.solution import Solution as Solution
from optimizer.solution import Stop as Stop
from optimizer.solution import StopKind as StopKind
from optimizer.solution import Unassigned as Unassigned
from optimizer.travel import EuclideanTravel as EuclideanTravel
from optimizer.travel import GeodesicTravel as GeodesicTravel
from optimizer.travel import TravelModel as TravelModel
