"""The technician API's contract: one SpecTree that validates requests and writes the OpenAPI.

Every view of ``/api/mobile/v1`` is decorated with :data:`api` ``.validate(...)``: the
same Pydantic models check what comes in, check what goes out, and become the OpenAPI
3.1 document served at ``/api/mobile/v1/openapi.json``. A request the models refuse is
answered 422 in ``application/problem+json`` with one entry per bad field.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response as FlaskResponse
from pydantic import BaseModel, ConfigDict
from spectree import Response as Responses
from spectree import SecurityScheme, SecuritySchemeData, SpecTree
from spectree.models import SecureType

#: Name of the bearer scheme in the document; views that need no token pass ``security={}``.
BEARER = "bearer"


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem: what went wrong, for people (``detail``) and programs."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


def _problem_on_refusal(
    _request: Any, response: FlaskResponse | None, error: Exception | None, *_: Any
) -> None:
    """Turn SpecTree's list of validation errors into a problem+json body (422)."""
    if error is None or response is None:
        return
    errors = [
        {"field": ".".join(str(part) for part in item.get("loc", ())), "message": item["msg"]}
        for item in json.loads(response.get_data())
    ]
    body = {
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": response.status_code,
        "detail": "the request does not match the API's contract; see errors",
        "errors": errors,
    }
    response.set_data(json.dumps(body))
    response.mimetype = "application/problem+json"


api = SpecTree(
    "flask",
    mode="strict",
    title="fieldops technician API",
    version="1",
    description=(
        "What a technician's phone reads and sends. Sign in at /auth/login and send the "
        "access token as `Authorization: Bearer`. Changes accept an `Idempotency-Key`."
    ),
    before=_problem_on_refusal,
    validation_error_status=422,
    security_schemes=[
        SecurityScheme(
            name=BEARER, data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer")
        ),
    ],
    security={BEARER: []},
)


class _Responses(Responses):
    """SpecTree's responses, with errors documented as ``application/problem+json``."""

    def generate_spec(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        spec: dict[str, Any] = super().generate_spec(*args, **kwargs)
        for code, answer in spec.items():
            if int(code) >= 400 and "content" in answer:
                answer["content"] = {"application/problem+json": answer["content"].popitem()[1]}
        return spec


def responses(ok: type[BaseModel] | None = None, *errors: int, status: int = 200) -> Responses:
    """SpecTree's responses: ``ok`` for success and a :class:`Problem` for each error
    status (401 always: any token may expire; 422 always: any body may be refused)."""
    codes = sorted({401, 422, *errors})
    documented: dict[str, Any] = {f"HTTP_{code}": Problem for code in codes}
    documented[f"HTTP_{status}"] = ok
    return _Responses(**documented)
