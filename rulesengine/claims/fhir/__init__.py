"""FHIR R4 Claims to normalised claims: ``reader`` takes a Claim, a Bundle or an NDJSON
export apart, ``resource`` maps one Claim resource, ``elements`` reads single elements
and knows the code systems."""

from .reader import claims_from_fhir, is_fhir, read_fhir_claims

__all__ = ["claims_from_fhir", "is_fhir", "read_fhir_claims"]
