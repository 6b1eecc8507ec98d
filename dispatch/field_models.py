"""Persistent model of the work technicians do from the phone, and what carries it there.

Signed-in phones (``Device`` and their tokens), the durable ordered feed of changes
that delta sync and the live streams read (``FeedEvent``), answers kept for replayed
requests (``IdempotencyRecord``) and the field's own records: status reports, notes,
photos and signatures, parts used. Records sent from the field carry the id the phone
made for them (a UUID), so a record sent twice is stored once.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dbtypes import BigIntPK, str_enum
from dispatch.db import Base, utcnow
from dispatch.enums import JobStatus


class TokenKind(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


class ReportOutcome(StrEnum):
    """What a status report from the field did to its job."""

    APPLIED = "applied"
    # Recorded only: the job had already moved on (a newer report by device time, or a
    # later state), so applying it would move the job backwards.
    SUPERSEDED = "superseded"


class AttachmentKind(StrEnum):
    PHOTO = "photo"
    SIGNATURE = "signature"


class Device(Base):
    """A phone signed in as a user; revoking it ends every token it holds."""

    __tablename__ = "devices"
    __audited__ = False  # sign-ins are not domain changes

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(200))


class DeviceToken(Base):
    """One bearer token of a device, stored as its SHA-256 (a stolen database holds none).

    A refresh token is exchanged once: ``rotated_at`` marks it spent, and presenting a
    spent one again means it was copied, so the device is revoked.
    """

    __tablename__ = "device_tokens"
    __audited__ = False

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[TokenKind] = mapped_column(str_enum(TokenKind))
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]


class IdempotencyRecord(Base):
    """The first answer to a change sent with an ``Idempotency-Key``, replayed to repeats.

    Keyed by the user and the key, so one user's key never reveals another's answer;
    ``fingerprint`` (method, path and body) tells a repeat from a different change
    reusing the key.
    """

    __tablename__ = "idempotency_keys"
    __audited__ = False

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class FeedEvent(Base):
    """One entry of the ordered feed of changes: the sync cursor and the SSE event id.

    Written in the transaction of the change it reports; ids are handed out in commit
    order, so a reader that has seen id N has seen every change committed before it.
    ``technician_id`` names whose feed it belongs to (None: dispatchers only);
    dispatchers read every entry.
    """

    __tablename__ = "feed_events"
    __audited__ = False
    __table_args__ = (Index("ix_feed_events_technician_id_id", "technician_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    technician_id: Mapped[int | None]  # no FK: the feed outlives technicians
    kind: Mapped[str] = mapped_column(String(40))
    job_id: Mapped[int | None]
    service_date: Mapped[date | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatusReport(Base):
    """A status change sent from the field, kept whether or not it moved the job."""

    __tablename__ = "status_reports"
    __table_args__ = (
        CheckConstraint("latitude IS NULL OR latitude BETWEEN -90 AND 90", name="latitude_range"),
        CheckConstraint(
            "longitude IS NULL OR longitude BETWEEN -180 AND 180", name="longitude_range"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id"))
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus))
    device_time: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[ReportOutcome] = mapped_column(str_enum(ReportOutcome))


class JobNote(Base):
    """A note written on a job in the field."""

    __tablename__ = "job_notes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    author_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    device_time: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobAttachment(Base):
    """A photo or the customer's signature; the file lives in the upload folder by its id."""

    __tablename__ = "job_attachments"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="positive_size"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    kind: Mapped[AttachmentKind] = mapped_column(str_enum(AttachmentKind))
    content_type: Mapped[str] = mapped_column(String(50))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    device_time: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PartUsage(Base):
    """A line of parts used on a job as the technician reported it (the ledger has the stock)."""

    __tablename__ = "part_usages"
    __table_args__ = (CheckConstraint("quantity > 0", name="positive_quantity"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), index=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id"))
    sku: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int]
    device_time: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
