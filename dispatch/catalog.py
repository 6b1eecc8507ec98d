"""The service catalog: loading it from a ``fieldops-catalog/1`` document.

Loading is an upsert by code, so the same file can be applied again after an
edit; items missing from the file are left as they are (retire them by setting
``active`` to false).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.enums import Priority
from dispatch.models import CatalogItem, SlaTarget

_STRICT = ConfigDict(extra="forbid")


class SlaInput(BaseModel):
    model_config = _STRICT

    response_minutes: PositiveInt
    resolution_minutes: PositiveInt

    @model_validator(mode="after")
    def _resolution_after_response(self) -> SlaInput:
        if self.resolution_minutes < self.response_minutes:
            raise ValueError("resolution_minutes must not be shorter than response_minutes")
        return self


class CatalogItemInput(BaseModel):
    model_config = _STRICT

    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=80)
    default_duration_min: PositiveInt
    required_skills: list[str] = []
    typical_parts: dict[str, PositiveInt] = {}
    requires_approval: bool = False
    active: bool = True
    sla: dict[Priority, SlaInput] = {}


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
        Listing every invalid field; nothing is written.
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
