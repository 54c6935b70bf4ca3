"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the service answers has a ``type`` naming its kind (``urn:rulesengine:problem:
...``, listed in docs/service.md), the HTTP ``status``, a ``title`` and a ``detail`` in
plain words; a limit names itself in ``limit`` (name and value), and claims that could not
be read carry the CLI's positioned messages in ``errors`` (claim position, JSON path,
X12 segment and element).
"""

from __future__ import annotations

import json

from starlette.responses import Response

MEDIA_TYPE = "application/problem+json"

TITLES = {
    "unauthorized": "An API key is needed",
    "forbidden": "This key may not do this",
    "not-found": "No such endpoint",
    "method-not-allowed": "Method not allowed",
    "unsupported-media-type": "This content type is not taken",
    "body-too-large": "The request body is over the limit",
    "too-many-claims": "The request has more claims than the limit",
    "unreadable-claim": "The claim could not be read",
    "not-checked": "The claim was not checked",
    "timeout": "The request took longer than the limit",
    "reload-failed": "The packs did not reload; the packs serving were kept",
    "internal": "Internal error",
}


def problem(kind: str, status: int, detail: str, request_id: str | None = None, **extra) -> dict:
    body = {"type": f"urn:rulesengine:problem:{kind}", "title": TITLES[kind], "status": status,
            "detail": detail}
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return body


def problem_response(kind: str, status: int, detail: str, request_id: str | None = None,
                     headers: dict | None = None, **extra) -> Response:
    body = problem(kind, status, detail, request_id, **extra)
    return Response(json.dumps(body), status, headers=headers, media_type=MEDIA_TYPE)


def limit(name: str, value) -> dict:
    """The ``limit`` member: which limit, and its value (as the server option sets it)."""
    return {"limit": {"name": name, "value": value}}

