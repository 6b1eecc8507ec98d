"""The ``fieldops`` command: database set-up, data import and export, planning, accounts, serving,
the plan runs' worker.

Every command that uses the database uses the same one (``--database-url``, else
``DATABASE_URL``, else the SQLite file in the instance folder), says which on its first
line, and brings its schema to the newest version first. Each module below adds its
commands to the one group when imported.
"""

from web.cli import accounts as accounts
from web.cli import data as data
from web.cli import inventory as inventory
from web.cli import plan as plan
from web.cli import scheduler as scheduler
from web.cli import serving as serving
from web.cli import worker as worker
from web.cli._common import cli as cli
from web.cli._common import main as main
from web.cli.serving import DEMO_PASSWORD as DEMO_PASSWORD
from web.cli.serving import DEMO_TECHNICIAN_CODE as DEMO_TECHNICIAN_CODE
from web.cli.serving import DEMO_TECHNICIAN_USER as DEMO_TECHNICIAN_USER
