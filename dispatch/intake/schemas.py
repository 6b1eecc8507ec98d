"""What a service-request submission may contain, and how flat fields map onto it.

``IntakeInput`` is the nested shape the JSON API sends. The web form and CSV
files send flat fields (``requester_name``, ``address``); ``FORM_FIELDS`` says
where each goes and what a person calls it, in both directions: ``flat_submission``
nests a flat mapping, ``flat_name`` names the flat field of an error's path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dispatch.enums import Channel, Level
from dispatch.validation import (
    CODE_LENGTH,
    EMAIL_LENGTH,
    DbInt,
    LongText,
    Name,
    NoNul,
    Phone,
    UtcInstant,
)


def _blank_to_none(value: Any) -> Any:
    """Forms and CSV cells send "" for a field left empty; that means "not given"."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


_Blank = BeforeValidator(_blank_to_none)
CatalogCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=CODE_LENGTH), NoNul
]
CATALOG_CODE = TypeAdapter(CatalogCode)
_SHAPE = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RequesterInput(BaseModel):
    """Who asked for the work."""

    model_config = _SHAPE

    name: Name = Field(min_length=1)
    email: Annotated[Annotated[EmailStr, Field(max_length=EMAIL_LENGTH)] | None, _Blank] = None
    phone: Annotated[Phone | None, _Blank] = None


class SiteInput(BaseModel):
    """Where the work is: an address to geocode, or coordinates (which win if both are given)."""

    model_config = _SHAPE

    address: Annotated[Name | None, _Blank] = None
    latitude: Annotated[float | None, _Blank] = Field(default=None, ge=-90, le=90)
    longitude: Annotated[float | None, _Blank] = Field(default=None, ge=-180, le=180)
    access_notes: LongText = ""
    contact_name: Annotated[Name | None, _Blank] = None
    contact_phone: Annotated[Phone | None, _Blank] = None

    @model_validator(mode="after")
    def _locatable(self) -> Self:
        if (self.latitude is None) != (self.longitude is None):
            raise PydanticCustomError(
                "coordinates_incomplete", "give both latitude and longitude, or neither"
            )
        if self.address is None and self.latitude is None:
            raise PydanticCustomError(
                "site_not_locatable", "give an address, or latitude and longitude"
            )
        return self


class IntakeInput(BaseModel):
    """A service request as submitted, before any database check."""

    model_config = _SHAPE

    channel: Channel
    requester: RequesterInput
    customer_name: Annotated[Name | None, _Blank] = None
    site: SiteInput
    catalog_code: CatalogCode
    title: Annotated[Name | None, _Blank] = None
    description: LongText = ""
    impact: Level
    urgency: Level
    window_start: Annotated[UtcInstant | None, _Blank] = None
    window_end: Annotated[UtcInstant | None, _Blank] = None
    service_date: Annotated[date | None, _Blank] = None
    requester_user_id: DbInt | None = Field(default=None, gt=0)

    # A field validator rather than a model validator: it still runs when other
    # fields are invalid, so a wrong window is reported together with them.
    @field_validator("window_end")
    @classmethod
    def _window_ordered(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("window_start")
        if end is not None and start is not None and end <= start:
            raise PydanticCustomError("window_order", "window_end must be after window_start")
        return end


@dataclass(frozen=True)
class FieldError:
    """One problem with a submission.

    ``field`` is the dotted path of the input field (``"site.latitude"``,
    ``"requester.email"``); a problem with a whole part names the part
    (``"site"``).
    """

    field: str
    message: str


class IntakeError(ValueError):
    """A submission was refused; ``errors`` lists every problem found."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


@dataclass(frozen=True)
class FlatField:
    """A form field or CSV column: its name, where it goes in ``IntakeInput``, its label."""

    name: str
    path: str
    label: str


#: Every flat field, in the order a form shows them.
FORM_FIELDS = (
    FlatField("catalog_code", "catalog_code", "Catalog item"),
    FlatField("title", "title", "Title"),
    FlatField("description", "description", "Description"),
    FlatField("impact", "impact", "Impact"),
    FlatField("urgency", "urgency", "Urgency"),
    FlatField("address", "site.address", "Site address"),
    FlatField("latitude", "site.latitude", "Latitude"),
    FlatField("longitude", "site.longitude", "Longitude"),
    FlatField("access_notes", "site.access_notes", "Access notes"),
    FlatField("contact_name", "site.contact_name", "On-site contact"),
    FlatField("contact_phone", "site.contact_phone", "Contact phone"),
    FlatField("requester_name", "requester.name", "Requester name"),
    FlatField("requester_email", "requester.email", "Requester e-mail"),
    FlatField("requester_phone", "requester.phone", "Requester phone"),
    FlatField("customer_name", "customer_name", "Company or household"),
    FlatField("window_start", "window_start", "Window start"),
    FlatField("window_end", "window_end", "Window end"),
    FlatField("service_date", "service_date", "Service date"),
    FlatField("channel", "channel", "Channel"),
)
FLAT_FIELDS = frozenset(field.name for field in FORM_FIELDS)
#: Errors about a whole part name the part; these are the labels of such parts.
PART_LABELS = {"site": "Site location", "requester": "Requester"}
_BY_PATH = {field.path: field for field in FORM_FIELDS}


def flat_submission(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Flat fields (a web form, a CSV row) in the nested shape ``IntakeInput`` reads.

    Blank fields are left out; names not in ``FLAT_FIELDS`` are ignored.
    """
    nested: dict[str, Any] = {"requester": {}, "site": {}}
    for field in FORM_FIELDS:
        value = fields.get(field.name)
        if isinstance(value, str) and value.strip():
            part, _, key = field.path.rpartition(".")
            target = nested[part] if part else nested
            target[key] = value
    return nested


def flat_name(path: str) -> str:
    """The flat field (form field, CSV column) an error's ``path`` refers to.

    Paths with no flat field of their own (a whole part such as ``"site"``) are
    returned as they are.
    """
    field = _BY_PATH.get(path)
    return field.name if field is not None else path


def label_of(path: str) -> str:
    """What a person calls the field at ``path``: ``"site.address"`` is "Site address"."""
    field = _BY_PATH.get(path)
    if field is not None:
        return field.label
    return PART_LABELS.get(path, path)
