"""The whole job by hand: what a developer writes to check a day's claims without a rule
engine. Read JSON Lines, validate the fields the policies read, build light objects,
check them with ``handwritten.HandChecker``, write a JSON line per claim.

    python benchmarks/handwritten_job.py SPEC.pickle PACK_DIR CLAIMS.jsonl OUT.jsonl

SPEC.pickle is the workload's policies (``workload.Spec``), written by
``benchmarks/whole_job.py``: the program's policies are its own code, so they are not
part of its running time to read, as a pack's compile is for the engine (timed apart).
A claim that fails validation is written as {"error": ...} and the rest go on.
"""

from __future__ import annotations

import json
import pickle
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import handwritten  # noqa: E402

REQUIRED = ("claim_id", "claim_type", "patient", "diagnoses", "lines", "payer")


class Line:
    __slots__ = ("line_number", "procedure", "modifiers", "units", "service_date",
                 "place_of_service", "prior_authorization", "ndc", "diagnoses")

    def __init__(self, raw: dict, claim_dx: tuple):
        self.line_number = raw["line_number"]
        self.procedure = (raw.get("procedure") or "").strip().upper() or None
        self.modifiers = tuple(m.strip().upper() for m in raw.get("modifiers") or ())
        self.units = raw.get("units", 1)
        self.service_date = date.fromisoformat(raw["service_date"])
        self.place_of_service = raw.get("place_of_service")
        self.prior_authorization = raw.get("prior_authorization") or None
        self.ndc = raw.get("ndc")
        pointers = raw.get("diagnosis_pointers")
        self.diagnoses = tuple(claim_dx[p - 1] for p in pointers if 0 < p <= len(claim_dx)) \
            if pointers else claim_dx


class Claim:
    __slots__ = ("claim_id", "claim_type", "plan", "frequency_code", "received_date",
                 "birth_date", "sex", "diagnoses", "lines", "place_of_service",
                 "prior_authorization", "first_service_date", "last_service_date")

    def __init__(self, data: dict):
        missing = [k for k in REQUIRED if k not in data]
        if missing or not isinstance(data["lines"], list) or not data["lines"]:
            raise ValueError(f"missing or empty: {missing or ['lines']}")
        self.claim_id = str(data["claim_id"])
        self.claim_type = data["claim_type"]
        self.plan = (data.get("payer") or {}).get("plan")
        self.frequency_code = data.get("frequency_code")
        received = data.get("received_date")
        self.received_date = date.fromisoformat(received) if received else None
        patient = data["patient"]
        self.birth_date = date.fromisoformat(patient["birth_date"]) if patient.get("birth_date") else None
        self.sex = patient.get("sex")
        self.diagnoses = tuple(d.strip().upper() for d in data["diagnoses"])
        self.lines = tuple(Line(raw, self.diagnoses) for raw in data["lines"])
        self.place_of_service = data.get("place_of_service")
        self.prior_authorization = data.get("prior_authorization") or None
        self.first_service_date = min(ln.service_date for ln in self.lines)
        self.last_service_date = max(ln.service_date for ln in self.lines)


def main(spec_file: str, pack_dir: str, claims_file: str, out_file: str) -> int:
    with open(spec_file, "rb") as handle:
        spec = pickle.load(handle)  # the benchmark's own file, written a moment ago
    checker = handwritten.HandChecker(spec, Path(pack_dir))
    dumps = json.dumps
    with open(claims_file, encoding="utf-8") as claims, open(out_file, "w", encoding="utf-8") as out:
        for number, text in enumerate(claims, 1):
            try:
                claim = Claim(json.loads(text))
            except (ValueError, KeyError, TypeError) as error:
                out.write(dumps({"error": {"position": number, "message": str(error)}}) + "\n")
                continue
            found = checker.check(claim)
            out.write(dumps({
                "claim_id": claim.claim_id, "status": "denied" if found else "clean",
                "findings": [{"rule_id": rule, "line_number": line, "adjustment": code, "message": message}
                             for rule, line, code, message in found]}, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
