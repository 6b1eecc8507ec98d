"""Loading the service catalog: what it refuses, and that the demo's catalog loads."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatch.catalog import CatalogError, load_catalog
from dispatch.models import CatalogItem
from dispatch.validation import Skill
from inventory.models import Part


def _data(name: str) -> Any:
    return json.loads(resources.files("dispatch").joinpath(f"data/{name}").read_text())


def catalog(**changes: Any) -> dict[str, Any]:
    """A one-item catalog whose item is changed by ``changes``."""
    item = {
        "code": "BOILER-SVC",
        "name": "Boiler service",
        "category": "heating",
        "default_duration_min": 60,
        "required_skills": ["gas"],
        "typical_parts": {"GAS-VLV-15": 1},
        "sla": {"high": {"response_minutes": 60, "resolution_minutes": 240}},
        **changes,
    }
    return {"format": "fieldops-catalog/1", "items": [item]}


@pytest.fixture
def parts(session: Session) -> None:
    """The parts the demo day stocks, as its import would leave them."""
    session.add_all(Part(sku=p["sku"], name=p["name"]) for p in _data("demo-day.json")["parts"])
    session.flush()


def items(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CatalogItem)) or 0


def test_demo_catalog_loads_after_the_demo_days_parts(session: Session, parts: None) -> None:
    """Every typical part and skill of the shipped catalog passes the checks."""
    document = _data("catalog.json")

    assert load_catalog(session, document) == len(document["items"])
    session.commit()
    assert items(session) == len(document["items"])


def test_demo_days_skills_are_well_formed_skill_names() -> None:
    """The demo day's technicians and jobs use skill names the catalog would accept."""
    day = _data("demo-day.json")
    skills = {s for t in day["technicians"] for s in t.get("skills", [])}
    skills |= {s for j in day["jobs"] for s in j.get("skills", j.get("required_skills", []))}

    assert skills and all(TypeAdapter(Skill).validate_python(s) == s for s in skills)


def test_unknown_part_is_refused_with_a_hint_and_nothing_written(
    session: Session, parts: None
) -> None:
    """A typical part that is not in the parts table names item and SKU, and says what to do."""
    with pytest.raises(CatalogError) as refused:
        load_catalog(session, catalog(typical_parts={"GAS-VLV-15": 1, "GAS-VLV-51": 2}))

    first, hint = refused.value.problems
    assert first.startswith("items.0.typical_parts: unknown part SKU(s) GAS-VLV-51")
    assert "BOILER-SVC" in first and "import-scenario" in hint
    assert items(session) == 0


@pytest.mark.parametrize(
    "skill", ["Heat Pump", "GAS", "-gas", "g" * 41, "", "gas\x00", "gas;drop"]
)
def test_absurd_skill_name_is_refused(session: Session, parts: None, skill: str) -> None:
    """Skill names are short lowercase words with digits, '-' and '_'; anything else is refused."""
    with pytest.raises(CatalogError) as refused:
        load_catalog(session, catalog(required_skills=["gas", skill]))

    [problem] = refused.value.problems
    assert problem.startswith("items.0.required_skills.1: a skill name is")
    assert items(session) == 0


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"name": "n" * 201}, "items.0.name"),
        ({"code": "C" * 41}, "items.0.code"),
        ({"category": "c" * 81}, "items.0.category"),
        ({"name": "Boiler\x00service"}, "items.0.name"),
        ({"category": "heat\x00ing"}, "items.0.category"),
        ({"typical_parts": {"GAS\x00VLV": 1}}, "items.0.typical_parts.GAS\x00VLV.[key]"),
        ({"default_duration_min": 2**31}, "items.0.default_duration_min"),
        ({"typical_parts": {"GAS-VLV-15": 2**31}}, "items.0.typical_parts.GAS-VLV-15"),
        (
            {"sla": {"high": {"response_minutes": 60, "resolution_minutes": 2**31}}},
            "items.0.sla.high.resolution_minutes",
        ),
    ],
    ids=[
        "long-name",
        "long-code",
        "long-category",
        "nul-name",
        "nul-category",
        "nul-sku",
        "huge-duration",
        "huge-quantity",
        "huge-sla",
    ],
)
def test_value_the_database_cannot_hold_is_refused(
    session: Session, parts: None, changes: dict[str, Any], path: str
) -> None:
    """Over-long text, NUL and integers beyond PostgreSQL's ``integer`` are refused on both."""
    with pytest.raises(CatalogError) as refused:
        load_catalog(session, catalog(**changes))

    assert [p.split(": ")[0] for p in refused.value.problems] == [path]
    assert items(session) == 0


def test_values_at_the_limits_are_stored(session: Session, parts: None) -> None:
    """Names as wide as their columns and the largest ``integer`` fit on both databases."""
    document = catalog(
        code="C" * 40,
        name="n" * 200,
        category="c" * 80,
        default_duration_min=2**31 - 1,
        required_skills=["s" * 40],
    )

    load_catalog(session, document)
    session.commit()

    stored = session.scalars(select(CatalogItem)).one()
    assert (len(stored.name), stored.default_duration_min) == (200, 2**31 - 1)


def test_skill_type_rejects_with_a_readable_message() -> None:
    """The skill check explains the rule instead of quoting a regular expression."""
    with pytest.raises(ValidationError) as refused:
        TypeAdapter(Skill).validate_python("Heat Pump")
    assert "lowercase letters, digits, '-' or '_'" in str(refused.value)


def test_a_checklist_loads_in_order_and_a_bad_step_is_refused(
    session: Session, parts: None
) -> None:
    steps = ["Check the flue", "Clean the burner", "Test safety devices"]
    load_catalog(session, catalog(checklist=steps))
    session.commit()
    item = session.scalars(select(CatalogItem)).one()
    assert item.checklist == steps
    for bad in ([""], ["x" * 201], ["nul \x00"], ["step"] * 51, "one step"):
        with pytest.raises(CatalogError, match="checklist"):
            load_catalog(session, catalog(checklist=bad))
    assert session.scalars(select(CatalogItem)).one().checklist == steps
