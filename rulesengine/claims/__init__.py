"""The claims room: the normalised claim and every reader that produces it.

Holds the claim model (``model``: ``Claim``, ``Line``) and its JSON Schema
(``claim.schema.json``, the public contract), the one place a claim's data is validated and
built (``build``: ``claim_from_data``, ``ClaimError``), and the readers, one module or
folder a format: ``json`` (JSON and JSON Lines), ``csv``, ``fhir``, ``x12/`` (the X12
envelope and the 837 loops); ``files`` sends a file or folder to its reader.

May import: ``rulesengine.codes`` (code normal forms) and nothing else of rulesengine.
Every other room may import this one.
"""

from .build import CLAIM_SCHEMA, ClaimError, claim_from_data, validate_claim
from .files import (
           CLAIM_FILE_SUFFIXES,
           ClaimFile,
           iter_claim_files,
           read_claims,
           read_claims_from_binary,
           read_claims_from_stream,
           read_claims_from_text,
)
from .model import Claim, Line
from .x12.reader import read_837

__all__ = ["CLAIM_FILE_SUFFIXES", "CLAIM_SCHEMA", "Claim", "ClaimError", "ClaimFile", "Line",
           "claim_from_data", "iter_claim_files", "read_837", "read_claims", "read_claims_from_binary",
           "read_claims_from_stream",
           "read_claims_from_text", "validate_claim"]
