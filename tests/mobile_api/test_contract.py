"""The technician API against its own OpenAPI document, fuzzed by Schemathesis.

Signed in as a technician with a published day, every operation gets generated
requests, valid and not, on the technician's own jobs: none may answer 5xx, and every
answer must match the document (status code, content type, body schema).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.mobile_api.conftest import Phone, bearer

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
#: Generated requests per operation: enough to reach every refusal path, short enough for CI.
EXAMPLES = 15


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """The app with room for the fuzzer's many wrong passwords before the login throttle."""
    return make_app(
        LOGIN_FAILURES_PER_ACCOUNT="100000/minute", LOGIN_FAILURES_PER_CLIENT="100000/minute"
    )


def test_no_answer_is_a_server_error_or_breaks_the_document(app: Flask, phone: Phone) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/mobile/v1/openapi.json", app)
    # An Err (an operation the document cannot describe) raises here and fails the test.
    everything = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    # A stream never ends (test_stream reads it).
    operations = [op for op in everything if not op.path.endswith("/events")]
    assert len(operations) >= 8
    mine = phone.jobs()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            headers = phone.headers
            if case.path.endswith("/auth/logout"):  # signs out: a phone of its own each time
                headers = bearer(phone.client, "tina")
            if "reference" in (case.path_parameters or {}):
                # Past the ownership check (the foreign-id walk covers that), into the work.
                case.path_parameters["reference"] = mine[len(str(case.body)) % len(mine)]
            case.call_and_validate(headers=headers, checks=CHECKS)

        fuzz()


def test_the_document_is_openapi_3_1_with_bearer_auth(app: Flask) -> None:
    document = app.test_client().get("/api/mobile/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    status = document["paths"]["/api/mobile/v1/jobs/{reference}/status"]["post"]
    assert "application/problem+json" in status["responses"]["409"]["content"]
