"""The service catalog: loading it from a ``fieldops-catalog/1`` document.

Loading is an upsert by code, so the same file can be applied again after an
edit; items missing from the file are left as they are (retire them by setting
``active`` to false). Typical parts must already be in the parts table, so a
typing error in a SKU is caught here rather than when a job needs the part.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.enums import Priority
from dispatch.models import CatalogItem, SlaTarget
from dispatch.validation import Code, Name, NoNul, PositiveDbInt, Skill
from inventory.models import Part

#: Width of the ``category`` column.
_CATEGORY_LENGTH = 80
ChecklistStep = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul
]

_STRICT = ConfigDict(extra="forbid")


class SlaInput(BaseModel):
    model_config = _STRICT

    response_minutes: PositiveDbInt
    resolution_minutes: PositiveDbInt

    @model_validator(mode="after")
    def _resolution_after_response(self) -> SlaInput:
        if self.resolution_minutes < self.response_minutes:
            raise ValueError("resolution_minutes must not be shorter than response_minutes")
        return self


class CatalogItemInput(BaseModel):
    model_config = _STRICT

    code: Code
    name: Annotated[Name, StringConstraints(min_length=1)]
    category: Annotated[str, StringConstraints(min_length=1, max_length=_CATEGORY_LENGTH), NoNul]
    default_duration_min: PositiveDbInt
    required_skills: list[Skill] = []
    typical_parts: dict[Code, PositiveDbInt] = {}
    requires_approval: bool = False
    manual_triage: bool = False
    active: bool = True
    sla: dict[Priority, SlaInput] = {}
    # Steps the technician works through on site, shown on the phone in this order.
    checklist: Annotated[list[ChecklistStep], Field(max_length=50)] = []


class CatalogInput(BaseModel):
    model_config = _STRICT

    format: Literal["fieldops-catalog/1"]
    items: list[CatalogItemInput]

    @model_validator(mode="after")
    def _unique_codes(self) -> CatalogInput:
        codes = [item.code for item in self.items]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"duplicate codes: {', '.join(duplicates)}")
        return self


class CatalogError(ValueError):
    """The catalog document is invalid; ``problems`` names each bad field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def load_catalog(session: Session, document: Any) -> int:
    """Validate ``document`` and upsert its items; returns how many items it held.

    Raises
    ------
    CatalogError
        Listing every invalid field and every typical part that is not in the
        parts table; nothing is written.
    """
    try:
        catalog = CatalogInput.model_validate(document)
    except ValidationError as exc:
        raise CatalogError(
            [
                f"{'.'.join(str(p) for p in e['loc']) or 'document'}: {e['msg']}"
                for e in exc.errors()
            ]
        ) from None
    unknown_parts = _unknown_parts(session, catalog.items)
    if unknown_parts:
        raise CatalogError(unknown_parts)
    existing = {
        item.code: item
        for item in session.scalars(
            select(CatalogItem).where(CatalogItem.code.in_([i.code for i in catalog.items]))
        )
    }
    for entry in catalog.items:
        item = existing.get(entry.code) or CatalogItem(code=entry.code)
        item.name, item.category = entry.name, entry.category
        item.default_duration_min = entry.default_duration_min
        item.required_skills = list(dict.fromkeys(entry.required_skills))
        item.typical_parts = dict(entry.typical_parts)
        item.requires_approval, item.active = entry.requires_approval, entry.active
        item.manual_triage = entry.manual_triage
        item.checklist = list(entry.checklist)
        item.sla_targets = [
            SlaTarget(
                priority=priority,
                response_minutes=sla.response_minutes,
                resolution_minutes=sla.resolution_minutes,
            )
            for priority, sla in entry.sla.items()
        ]
        session.add(item)
    session.flush()
    return len(catalog.items)


def offered_items(session: Session) -> Sequence[CatalogItem]:
    """The active catalog items, by name: what a requester may choose from."""
    return session.scalars(
        select(CatalogItem).where(CatalogItem.active).order_by(CatalogItem.name)
    ).all()


def _unknown_parts(session: Session, items: list[CatalogItemInput]) -> list[str]:
    """One problem per item whose typical parts name SKUs the parts table does not have."""
    wanted = {sku for item in items for sku in item.typical_parts}
    known = set(session.scalars(select(Part.sku).where(Part.sku.in_(sorted(wanted)))))
    problems = [
        f"items.{position}.typical_parts: unknown part SKU(s)"
        f" {', '.join(sorted(set(item.typical_parts) - known))} (item {item.code})"
        for position, item in enumerate(items)
        if not set(item.typical_parts) <= known
    ]
    if problems:
        problems.append(
            "typical parts must be in the parts table first: import a scenario whose"
            " parts list has them (`fieldops import-scenario FILE`)"
        )
    return problems
