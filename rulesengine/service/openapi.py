"""The OpenAPI 3.1 document: the endpoints, with the project's own JSON Schemas as its
components (the claim and result schemas as they ship, not a copy). ``docs/openapi.json``
is this document as shipped; a test holds the two equal."""

from __future__ import annotations

import functools
import json
from importlib import resources

from rulesengine.version import __version__

_PROBLEM = {"description": "A problem (RFC 9457)",
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
_BODIES = {media: {"schema": schema} for media, schema in [
    ("application/json", {"oneOf": [{"$ref": "#/components/schemas/Claim"},
                                    {"type": "array", "items": {"$ref": "#/components/schemas/Claim"}},
                                    {"type": "object", "required": ["claims"]},
                                    {"description": "a FHIR R4 Claim or Bundle", "type": "object"}]}),
    ("application/fhir+json", {"description": "a FHIR R4 Claim or Bundle", "type": "object"}),
    ("application/x-ndjson", {"description": "JSON Lines: a claim a line", "type": "string"}),
    ("application/edi-x12", {"description": "an X12 837P or 837I interchange", "type": "string"}),
    ("text/csv", {"description": "claims as CSV rows (docs/claim-formats.md)", "type": "string"}),
]}
_PROBLEM_SCHEMA = {
    "type": "object", "required": ["type", "title", "status", "detail"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"},
                   "request_id": {"type": "string"},
                   "limit": {"type": "object", "properties": {"name": {"type": "string"}, "value": {}}},
                   "errors": {"type": "array"}}}


def _schema(package: str, name: str) -> dict:
    schema = json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))
    schema.pop("$schema", None)
    return schema


def _op(summary: str, ok: dict, body: bool = False, secured: bool = True, **responses) -> dict:
    op = {"summary": summary, "responses": {"200": ok, **responses,
                                            "default": _PROBLEM}}
    if body:
        op["requestBody"] = {"required": True, "content": _BODIES}
    if not secured:
        op["security"] = []
    return op


@functools.cache
def openapi_document() -> dict:
    result = {"$ref": "#/components/schemas/Result"}
    batch = {"type": "object", "required": ["packs", "results", "errors", "summary"],
             "properties": {"packs": {"type": "array"}, "results": {"type": "array", "items": result},
                            "errors": {"type": "array"}, "summary": {"type": "object"},
                            "problem": {"$ref": "#/components/schemas/Problem"}}}
    json_ok = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    check_ok = {"description": "One claim: its result. A batch: the CLI's JSON document, or its "
                               "JSON Lines when the request accepts application/x-ndjson.",
                "content": {"application/json": {"schema": {"oneOf": [result, batch]}},
                            "application/x-ndjson": {"schema": {"type": "string"}}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "rulesengine", "version": __version__,
                 "description": "Claims checked against payer rule packs (docs/service.md)."},
        "security": [{"apiKey": []}],
        "paths": {
            "/v1/check": {"post": _op("Check claims", check_ok, body=True)},
            "/v1/explain": {"post": _op("Why each rule fired or passed", {
                "description": "JSON explanations, or the CLI's text with Accept: text/plain",
                "content": {"application/json": {"schema": {"type": "object"}},
                            "text/plain": {"schema": {"type": "string"}}}}, body=True)},
            "/v1/packs": {"get": _op("The packs in service, their rules, citations and windows", json_ok)},
            "/v1/admin/reload": {"post": _op("Compile the packs again and swap them in (admin scope)", json_ok)},
            "/metrics": {"get": _op("Prometheus metrics", {"description": "OK", "content": {
                "text/plain": {"schema": {"type": "string"}}}})},
            "/healthz": {"get": _op("The process is up", json_ok, secured=False)},
            "/readyz": {"get": _op("The packs are compiled and serving", json_ok, secured=False)},
        },
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Claim": _schema("rulesengine.claims", "claim.schema.json"),
                        "Result": _schema("rulesengine.engine", "result.schema.json"),
                        "Problem": _PROBLEM_SCHEMA},
        },
    }
