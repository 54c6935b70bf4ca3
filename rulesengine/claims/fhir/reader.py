"""FHIR R4 Claim resources, Bundles and NDJSON exports into normalised claims.

Input is FHIR JSON: one Claim, a Bundle of any type whose entries hold Claims (entries of
other resource types are skipped, but Patients, Coverages, Organizations, Practitioners
and Conditions in it are used to resolve the Claims' references), or FHIR NDJSON (bulk
data export: one resource per line). Each Claim becomes a plain claim dict, which goes
through :func:`rulesengine.claims.build.claim_from_data` like any JSON claim, so it is
validated the same way; a problem is reported as a ClaimError whose ``path`` is the FHIR
path of the element at fault, e.g. ``Bundle.entry[2].resource.item[0].servicedDate``.

The JSON is read directly rather than through fhir.resources: see docs/claim-formats.md
for the element-by-element mapping and for why.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..build import ClaimError
from ..model import Claim
from .resource import ClaimResource

__all__ = ["claims_from_fhir", "is_fhir", "read_fhir_claims"]


def is_fhir(data: Any) -> bool:
    """Whether parsed JSON is a FHIR resource (it names its ``resourceType``)."""
    return isinstance(data, dict) and isinstance(data.get("resourceType"), str)


def read_fhir_claims(source_file: str | Path | IO[str], source: str | None = None
                     ) -> Iterator[Claim | ClaimError]:
    """The Claims in a FHIR JSON or NDJSON file (a path or an open text stream), in order."""
    if isinstance(source_file, (str, Path)):
        source = source or str(source_file)
        with open(source_file, encoding="utf-8-sig") as stream:
            text = stream.read()
    else:
        source = source or getattr(source_file, "name", "<input>")
        text = source_file.read()
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # NDJSON: one resource per line
            yield from _read_ndjson(text, source)
        else:
            yield ClaimError(source, 0, None, "", f"not valid JSON at line {exc.lineno}, "
                             f"column {exc.colno}: {exc.msg}")
        return
    except ValueError as exc:
        yield ClaimError(source, 0, None, "", f"not valid JSON: {exc}")
        return
    yield from claims_from_fhir(data, source)


def _read_ndjson(text: str, source: str) -> Iterator[Claim | ClaimError]:
    for number, line in enumerate(io.StringIO(text), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line, parse_constant=_no_constant)
        except ValueError as exc:
            yield ClaimError(source, number, None, "", f"not valid JSON: {exc}", "line")
            continue
        yield from claims_from_fhir(data, source, number, "line")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def claims_from_fhir(data: Any, source: str = "<input>", position: int | None = None,
                     unit: str = "claim") -> Iterator[Claim | ClaimError]:
    """The Claims in one parsed FHIR resource: a Claim, or a Bundle's Claim entries.

    Claims are numbered 1, 2, ... in the order met (``position`` overrides, for NDJSON
    lines); other resources are skipped.
    """
    if not is_fhir(data):
        yield ClaimError(source, position or 0, None, "",
                         "not a FHIR resource: expected an object with a resourceType", unit)
        return
    kind = data["resourceType"]
    if kind == "Claim":
        yield ClaimResource(data, "Claim", {}).read(source, position or 1, unit)
        return
    if kind != "Bundle":
        if position is None:  # a file of one resource that is no claim: nothing to check
            yield ClaimError(source, 0, None, "resourceType",
                             f"a FHIR {kind} resource: expected a Claim or a Bundle of Claims")
        return  # a Patient, Coverage... on its own line of an NDJSON export
    entries = data.get("entry") or []
    if not isinstance(entries, list):
        yield ClaimError(source, position or 0, None, "Bundle.entry", "expected an array", unit)
        return
    index = _bundle_index(entries)
    count = 0
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if is_fhir(resource) and resource["resourceType"] == "Claim":
            count += 1
            reader = ClaimResource(resource, f"Bundle.entry[{i}].resource", index)
            yield reader.read(source, position or count, unit)
    if not count:
        yield ClaimError(source, position or 0, None, "Bundle.entry",
                         "the Bundle holds no Claim resource", unit)


def _bundle_index(entries: list) -> dict[str, tuple[dict, str]]:
    """Each resource in a Bundle by its fullUrl and by ``Type/id``, with its FHIR path."""
    index: dict[str, tuple[dict, str]] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not is_fhir(entry.get("resource")):
            continue
        resource, path = entry["resource"], f"Bundle.entry[{i}].resource"
        if isinstance(entry.get("fullUrl"), str):
            index.setdefault(entry["fullUrl"], (resource, path))
        if isinstance(resource.get("id"), str):
            index.setdefault(f"{resource['resourceType']}/{resource['id']}", (resource, path))
    return index
