"""Intake: how a service request enters the system, whatever the channel.

``schemas`` says what a submission may contain (and maps the flat fields of
forms and CSV files onto it), ``triage`` classifies it (priority, SLA dues,
parts), and ``service`` records it. Dispatchers then confirm or correct the
classification with ``triage``.
"""

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
