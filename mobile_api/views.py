"""The technician's endpoints: my route, a job, status, notes, parts used, attachments, my van.

Every view states its contract with :data:`mobile_api.spec.api`; every change runs through
:func:`mobile_api.idempotency.change` (one transaction, replayed by ``Idempotency-Key``).
A technician sees only jobs assigned to them: any other reference answers 404, exactly
as a reference that does not exist. Dispatchers may also fetch a job's attachments.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from flask import Response, current_app, g, jsonify, request
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    model_validator,
)
from sqlalchemy import select
from werkzeug.exceptions import Forbidden, NotFound

from dispatch.days import technician_of_user
from dispatch.db import savepoint
from dispatch.enums import JobStatus, Role
from dispatch.field_models import AttachmentKind, JobAttachment, StatusReport
from dispatch.fieldwork import (
    FieldRefused,
    JobNotFound,
    Position,
    add_attachment,
    add_note,
    my_job,
    record_parts_used,
    report_status,
)
from dispatch.lifecycle import TransitionRefused
from dispatch.models import Job, Technician
from dispatch.technician_day import job_cards, zone_of
from inventory.ledger import InventoryError
from inventory.service import van_stock
from mobile_api.blueprint import bp
from mobile_api.http import login_required, problem_response, user_may
from mobile_api.idempotency import ChangeHeaders, change
from mobile_api.route_cache import route_cache
from mobile_api.spec import api, responses

#: Written text: line breaks and tabs, but no other control characters (PostgreSQL refuses NUL).
_WRITTEN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000, pattern=_WRITTEN)
]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000, pattern=_WRITTEN)
]
Sku = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=_ONE_LINE)
]
JOB_REFERENCE_LENGTH = 64
JobReference = Annotated[
    str, StringConstraints(min_length=1, max_length=JOB_REFERENCE_LENGTH, pattern=_ONE_LINE)
]

#: Photos and signatures the phone may upload, by content type, with the bytes they start with.
IMAGE_SIGNATURES = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
}
DEFAULT_UPLOAD_MAX_BYTES = 10 * 1024 * 1024


# --- contract ------------------------------------------------------------------------------


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DayQuery(Strict):
    date: dt.date


class GeoPosition(Strict):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class StatusChange(Strict):
    """A status the technician reached, when (by the phone's clock) and where."""

    id: uuid.UUID
    status: Literal["en_route", "on_site", "paused", "completed", "cannot_complete"]
    device_time: AwareDatetime
    position: GeoPosition | None = None
    reason: Reason | None = None

    @model_validator(mode="after")
    def _reason_when_not_done(self) -> StatusChange:
        if self.status == "cannot_complete" and self.reason is None:
            raise ValueError("say why the job cannot be completed (reason)")
        return self


class NoteIn(Strict):
    id: uuid.UUID
    body: Text
    device_time: AwareDatetime


class PartLine(Strict):
    id: uuid.UUID
    sku: Sku
    quantity: StrictInt = Field(ge=1, le=10_000)


class PartsUsed(Strict):
    lines: list[PartLine] = Field(min_length=1, max_length=100)
    device_time: AwareDatetime


class AttachmentQuery(Strict):
    kind: Literal["photo", "signature"]
    device_time: AwareDatetime


class StatusItem(StatusChange):
    type: Literal["status"]
    job: JobReference


class NoteItem(NoteIn):
    type: Literal["note"]
    job: JobReference


class PartsItem(PartsUsed):
    type: Literal["parts_used"]
    id: uuid.UUID
    job: JobReference


class Batch(Strict):
    """Changes queued on the phone while offline, in any order."""

    changes: list[Annotated[StatusItem | NoteItem | PartsItem, Field(discriminator="type")]] = (
        Field(min_length=1, max_length=200)
    )


class Site(BaseModel):
    name: str
    address: str
    latitude: float
    longitude: float
    access_notes: str


class Contact(BaseModel):
    name: str | None
    phone: str | None


class PartSource(BaseModel):
    location: str
    kind: str
    wanted: int
    held: int


class JobPartOut(BaseModel):
    sku: str
    quantity: int
    sources: list[PartSource]


class PastVisit(BaseModel):
    reference: str
    date: str | None
    status: str
    outcome_note: str | None
    technician: str | None


class NoteOut(BaseModel):
    id: str
    body: str
    device_time: str | None


class AttachmentOut(BaseModel):
    id: str
    kind: str
    content_type: str
    size_bytes: int


class JobCard(BaseModel):
    reference: str
    title: str
    description: str
    status: str
    priority: str
    service_date: str | None
    planned_start: str | None
    planned_end: str | None
    window_start: str | None
    window_end: str | None
    sla_due: str | None
    duration_min: int
    site: Site
    contact: Contact
    checklist: list[str]
    parts: list[JobPartOut]
    past_visits: list[PastVisit]
    notes: list[NoteOut]
    attachments: list[AttachmentOut]


class Warehouse(BaseModel):
    code: str
    name: str
    address: str | None
    latitude: float | None
    longitude: float | None


class Pickup(BaseModel):
    sku: str
    quantity: int


class Stop(BaseModel):
    type: Literal["job", "warehouse", "break"]
    sequence: int
    start: str | None
    end: str | None
    arrival: str | None = None
    eta: str | None = None
    job: JobCard | None = None
    warehouse: Warehouse | None = None
    pickup: list[Pickup] | None = None


class Route(BaseModel):
    technician: str
    date: str
    timezone: str
    version: int | None
    stops: list[Stop]


class StatusOut(BaseModel):
    id: str
    job: str
    status: str
    outcome: Literal["applied", "superseded"]
    job_status: str


class NotesOut(BaseModel):
    note: NoteOut


class PartUsageOut(BaseModel):
    id: str
    sku: str
    quantity: int


class PartsUsedOut(BaseModel):
    job: str
    lines: list[PartUsageOut]


class VanLine(BaseModel):
    sku: str
    name: str
    unit: str
    on_hand: int
    reserved: int
    available: int


class Van(BaseModel):
    van: str | None
    parts: list[VanLine]


class ItemResult(BaseModel):
    id: str
    type: str
    job: str
    result: Literal["applied", "superseded", "refused"]
    status: int
    detail: str | None = None


class BatchOut(BaseModel):
    results: list[ItemResult]


# --- views ---------------------------------------------------------------------------------


@bp.before_request
def _upload_limit() -> None:
    """Photos may be larger than the app's limit for other bodies (read before any view)."""
    if request.endpoint == "mobile_api.put_attachment":
        request.max_content_length = current_app.config.get(
            "UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_MAX_BYTES
        )


@bp.errorhandler(FieldRefused)
@bp.errorhandler(TransitionRefused)
def _refused(error: Exception) -> Response:
    return problem_response(409, "Conflict", str(error))


@bp.errorhandler(InventoryError)
def _bad_parts(error: InventoryError) -> Response:
    return problem_response(422, "Unprocessable Content", str(error))


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3.1 document of this API, generated from the models above."""
    return api.spec


@bp.get("/me/route")
@login_required(Role.TECHNICIAN)
@api.validate(query=DayQuery, resp=responses(Route, 403), tags=["route"])
def my_route(query: DayQuery) -> Any:
    """My route on a day: stops in order with planned arrival and estimate, and each job."""
    snapshot = route_cache().route(g.db, g.user.id, query.date)
    if snapshot is None:
        raise Forbidden(NOT_A_TECHNICIAN)
    # Serialized here: the contract's check then reads the JSON (fast), not the dicts.
    return jsonify(snapshot.at(dt.datetime.now(dt.UTC)))


@bp.get("/me/van")
@login_required(Role.TECHNICIAN)
@api.validate(resp=responses(Van, 403), tags=["parts"])
def my_van() -> Any:
    """What my van carries, and how much of it my jobs hold."""
    found = van_stock(g.db, me().id)
    if found is None:
        return {"van": None, "parts": []}
    van, lines = found
    return {
        "van": van.code,
        "parts": [
            {
                "sku": line.sku,
                "name": line.name,
                "unit": line.unit,
                "on_hand": line.on_hand,
                "reserved": line.reserved,
                "available": line.on_hand - line.reserved,
            }
            for line in lines
        ],
    }


@bp.get("/jobs/<reference>")
@login_required(Role.TECHNICIAN)
@api.validate(resp=responses(JobCard, 403, 404), tags=["jobs"])
def job_detail(reference: str) -> Any:
    """One of my jobs, with its site, contact, checklist, parts, past visits and notes."""
    job = _my_job(reference)
    return job_cards(g.db, [job], zone_of(g.db, job))[job.id]


@bp.post("/jobs/<reference>/status")
@login_required(Role.TECHNICIAN)
@change
@api.validate(
    json=StatusChange,
    headers=ChangeHeaders,
    resp=responses(StatusOut, 400, 403, 404, 409),
    tags=["jobs"],
)
def change_status(reference: str, json: StatusChange) -> Any:
    """Report a status reached on the phone; a report older than the job's state is kept
    but moves nothing (``outcome: superseded``)."""
    return _apply_status(_my_job(reference), json)


@bp.post("/jobs/<reference>/notes")
@login_required(Role.TECHNICIAN)
@change
@api.validate(
    json=NoteIn,
    headers=ChangeHeaders,
    resp=responses(NotesOut, 400, 403, 404, 409, status=201),
    tags=["jobs"],
)
def post_note(reference: str, json: NoteIn) -> Any:
    """Add a note to my job; the same note id sent again is stored once."""
    return _apply_note(_my_job(reference), json), 201


@bp.post("/jobs/<reference>/parts-used")
@login_required(Role.TECHNICIAN)
@change
@api.validate(
    json=PartsUsed,
    headers=ChangeHeaders,
    resp=responses(PartsUsedOut, 400, 403, 404, 409, status=201),
    tags=["parts"],
)
def post_parts_used(reference: str, json: PartsUsed) -> Any:
    """Record parts used from my van on the job; a line id sent again is used once."""
    return _apply_parts(_my_job(reference), json), 201


@bp.put("/jobs/<reference>/attachments/<uuid:attachment_id>")
@login_required(Role.TECHNICIAN)
@change
@api.validate(
    query=AttachmentQuery,
    headers=ChangeHeaders,
    resp=responses(AttachmentOut, 400, 403, 404, 409, 413, 415, status=201),
    tags=["jobs"],
)
def put_attachment(reference: str, attachment_id: uuid.UUID, query: AttachmentQuery) -> Any:
    """Upload a photo or the customer's signature (JPEG, PNG or WebP) as the request body."""
    job = _my_job(reference)
    content_type = request.mimetype
    data = request.get_data(cache=False)
    if content_type not in IMAGE_SIGNATURES or not data.startswith(IMAGE_SIGNATURES[content_type]):
        return problem_response(
            415,
            "Unsupported Media Type",
            f"send a JPEG, PNG or WebP image as the body; this is not {content_type or 'one'}",
        )
    attachment, new = add_attachment(
        g.db,
        job,
        attachment_id=attachment_id,
        kind=AttachmentKind(query.kind),
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by_id=g.user.id,
        device_time=query.device_time,
    )
    if new:
        _store(attachment.id, data)
    return {
        "id": str(attachment.id),
        "kind": attachment.kind.value,
        "content_type": attachment.content_type,
        "size_bytes": attachment.size_bytes,
    }, 201


@bp.get("/jobs/<reference>/attachments/<uuid:attachment_id>")
@login_required(Role.TECHNICIAN, Role.DISPATCHER)
@api.validate(resp=responses(None, 403, 404), tags=["jobs"])
def get_attachment(reference: str, attachment_id: uuid.UUID) -> Any:
    """An attachment's file, for the job's technician and for dispatchers."""
    if user_may(g.user, [Role.DISPATCHER]):  # admins too
        _check_reference(reference)
        job = g.db.scalar(select(Job).where(Job.reference == reference))
    else:
        job = _my_job(reference)
    attachment = g.db.get(JobAttachment, attachment_id)
    if job is None or attachment is None or attachment.job_id != job.id:
        raise NotFound("no such attachment on this job")
    # Read whole (at most UPLOAD_MAX_BYTES): the contract's checks read the body it answers.
    data = (_upload_folder() / str(attachment.id)).read_bytes()
    return Response(
        data, mimetype=attachment.content_type, headers={"Content-Disposition": "inline"}
    )


@bp.post("/batch")
@login_required(Role.TECHNICIAN)
@change
@api.validate(json=Batch, headers=ChangeHeaders, resp=responses(BatchOut, 400, 403), tags=["sync"])
def batch(json: Batch) -> Any:
    """Apply changes queued offline in the order they were made (by device time); each
    change is applied whole or refused with its reason, never in part."""
    ordered = sorted(enumerate(json.changes), key=lambda pair: (pair[1].device_time, pair[0]))
    results: dict[int, dict[str, Any]] = {}
    for index, item in ordered:
        outcome: dict[str, Any] = {"id": str(item.id), "type": item.type, "job": item.job}
        try:
            with savepoint(g.db):
                job = _my_job(item.job)
                if isinstance(item, StatusItem):
                    applied = _apply_status(job, item)
                    outcome.update(result=applied["outcome"], status=200)
                elif isinstance(item, NoteItem):
                    _apply_note(job, item)
                    outcome.update(result="applied", status=201)
                else:
                    _apply_parts(job, item)
                    outcome.update(result="applied", status=201)
        except NotFound as exc:
            outcome.update(result="refused", status=404, detail=exc.description)
        except (FieldRefused, TransitionRefused, InventoryError) as exc:
            outcome.update(result="refused", status=409, detail=str(exc))
        results[index] = outcome
    return {"results": [results[i] for i in range(len(json.changes))]}


# --- helpers -------------------------------------------------------------------------------


NOT_A_TECHNICIAN = "this account is not linked to a technician"


def me() -> Technician:
    technician = technician_of_user(g.db, g.user.id)
    if technician is None:
        raise Forbidden(NOT_A_TECHNICIAN)
    return technician


def _my_job(reference: str) -> Job:
    _check_reference(reference)
    try:
        return my_job(g.db, me(), reference)
    except JobNotFound as exc:
        raise NotFound(str(exc)) from None


def _check_reference(reference: str) -> None:
    """No job has a reference this long or with control characters (which PostgreSQL
    cannot even compare): answer as for any unknown job."""
    if len(reference) > JOB_REFERENCE_LENGTH or re.search(r"[\x00-\x1f\x7f]", reference):
        raise NotFound("no such job")


def _apply_status(job: Job, change: StatusChange) -> dict[str, Any]:
    report: StatusReport = report_status(
        g.db,
        me(),
        job,
        report_id=change.id,
        status=JobStatus(change.status),
        device_time=change.device_time,
        position=(
            Position(change.position.latitude, change.position.longitude)
            if change.position
            else None
        ),
        reason=change.reason,
    )
    return {
        "id": str(report.id),
        "job": job.reference,
        "status": report.status.value,
        "outcome": report.outcome.value,
        "job_status": job.status.value,
    }


def _apply_note(job: Job, note: NoteIn) -> dict[str, Any]:
    stored = add_note(
        g.db,
        job,
        note_id=note.id,
        author_user_id=g.user.id,
        body=note.body,
        device_time=note.device_time,
    )
    return {
        "note": {
            "id": str(stored.id),
            "body": stored.body,
            "device_time": stored.device_time.astimezone(zone_of(g.db, job)).isoformat(),
        }
    }


def _apply_parts(job: Job, used: PartsUsed) -> dict[str, Any]:
    lines = record_parts_used(
        g.db,
        me(),
        job,
        [(line.id, line.sku, line.quantity) for line in used.lines],
        device_time=used.device_time,
    )
    return {
        "job": job.reference,
        "lines": [{"id": str(u.id), "sku": u.sku, "quantity": u.quantity} for u in lines],
    }


def _upload_folder() -> Path:
    """Where photos and signatures are kept: ``UPLOAD_FOLDER``, or the instance folder's."""
    configured = current_app.config.get("UPLOAD_FOLDER")
    folder = Path(configured) if configured else Path(current_app.instance_path) / "uploads"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _store(attachment_id: uuid.UUID, data: bytes) -> None:
    """Write the file whole or not at all: to a temporary name, then renamed into place."""
    folder = _upload_folder()
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, folder / str(attachment_id))
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
