"""Changes from the phone: committed as a whole, and applied once however often they are sent.

A phone on a weak signal cannot tell a lost request from a lost answer, so it sends the
change again with the same ``Idempotency-Key``. The first answer is stored in the
change's own transaction and replayed to every repeat (``Idempotent-Replayed: true``);
the same key with a different request is refused (422). The key is claimed by inserting
its row before the change runs: a concurrent repeat waits on that row and then replays
the answer instead of applying the change a second time. Refusals are not stored, so a
client may fix what it sends under the same key. Keys are the user's own.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from flask import Response, g, make_response, request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from dispatch.db import savepoint
from dispatch.field_models import IdempotencyRecord
from mobile_api.http import problem_response

HEADER = "Idempotency-Key"
#: A key as the IETF draft's clients make them (UUIDs, mostly): visible ASCII, 1 to 255.
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")
REPLAYED_HEADER = "Idempotent-Replayed"


class ChangeHeaders(BaseModel):
    """The header a change may carry, for the API's document (checked by :func:`change`)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    idempotency_key: str | None = Field(
        None,
        alias="Idempotency-Key",
        pattern=KEY_PATTERN.pattern,
        description="Send the change again with the same key: it is applied once and "
        "answered as the first time (a UUID made when the change was made, say).",
    )


def change(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run a view that changes data: commit on success, roll back on a refusal, and
    answer repeats of an ``Idempotency-Key`` with the first answer."""

    @functools.wraps(view)
    def wrapped(**kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return _commit_if_ok(make_response(view(**kwargs)))
        if not KEY_PATTERN.fullmatch(key):
            return problem_response(
                400, "Bad Request", f"{HEADER} must be 1 to 255 visible ASCII characters"
            )
        fingerprint = _fingerprint()
        stored = g.db.get(IdempotencyRecord, (g.user.id, key)) or _claim(key, fingerprint)
        if stored is not None:
            return _replay(stored, fingerprint)
        response = make_response(view(**kwargs))
        if response.status_code >= 400:
            g.db.rollback()  # the claim goes with the refusal
            return response
        record = g.db.get_one(IdempotencyRecord, (g.user.id, key))
        record.status_code = response.status_code
        record.content_type = response.content_type or ""
        record.body = response.get_data(as_text=True)
        g.db.commit()
        return response

    return wrapped


def _commit_if_ok(response: Response) -> Response:
    if response.status_code < 400:
        g.db.commit()
    else:
        g.db.rollback()
    return response


def _claim(key: str, fingerprint: str) -> IdempotencyRecord | None:
    """Insert the key's row (its answer filled in later, in the same transaction); if a
    concurrent request holds the key, wait for it and return its stored answer."""
    try:
        with savepoint(g.db):
            g.db.add(
                IdempotencyRecord(
                    user_id=g.user.id,
                    key=key,
                    fingerprint=fingerprint,
                    status_code=0,
                    content_type="",
                    body="",
                )
            )
            g.db.flush()
    except IntegrityError:
        g.db.rollback()
        return g.db.get_one(IdempotencyRecord, (g.user.id, key))
    return None


def _replay(stored: IdempotencyRecord, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        return problem_response(
            422,
            "Unprocessable Content",
            f"this {HEADER} was used for a different request; use a new key for a new change",
        )
    response = Response(stored.body, status=stored.status_code, content_type=stored.content_type)
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _fingerprint() -> str:
    """The request as sent: method, path, query and body (JSON compared by content)."""
    body = request.get_data()
    if request.is_json:
        try:
            body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
        except (ValueError, RecursionError):
            pass  # the view refuses it; the raw bytes still identify it
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.path.encode(), request.query_string, body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()
