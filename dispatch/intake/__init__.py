"""Intake: how a service request enters the system, whatever the channel.

``schemas`` says what a submission may contain (and maps the flat fields of
forms and CSV files onto it), ``triage`` classifies it (priority, SLA dues,
parts), and ``service`` records it, triaged when its catalog item allows. The
others wait in ``queue``, the triage queue, for a dispatcher to triage by hand.
"""

from dispatch.intake.queue import QueuedJob as QueuedJob
from dispatch.intake.queue import approve as approve
from dispatch.intake.queue import triage_by_hand as triage_by_hand
from dispatch.intake.queue import triage_queue as triage_queue
from dispatch.intake.schemas import FLAT_FIELDS as FLAT_FIELDS
from dispatch.intake.schemas import FORM_FIELDS as FORM_FIELDS
from dispatch.intake.schemas import FieldError as FieldError
from dispatch.intake.schemas import FlatField as FlatField
from dispatch.intake.schemas import IntakeError as IntakeError
from dispatch.intake.schemas import IntakeInput as IntakeInput
from dispatch.intake.schemas import RequesterInput as RequesterInput
from dispatch.intake.schemas import SiteInput as SiteInput
from dispatch.intake.schemas import flat_name as flat_name
from dispatch.intake.schemas import flat_submission as flat_submission
from dispatch.intake.schemas import label_of as label_of
from dispatch.intake.service import submit_request as submit_request
from dispatch.intake.service import visible_request as visible_request
from dispatch.intake.triage import priority_for as priority_for
from dispatch.intake.triage import triage as triage
from dispatch.intake.triage import triage_gaps as triage_gaps
