"""rulesengine: a declarative payer-rules engine for US medical claims.

    import rulesengine
    pack = rulesengine.load_pack("payer_rules/medicare")
    for item in rulesengine.read_claims("examples/claims/clean.json"):
        print(pack.check(item).to_dict())
"""

from .claims_io import ClaimError, read_claims
from .diagnostics import Diagnostic, PackError
from .history import HistoryRequired, MemoryHistory, SQLiteHistory
from .model import Claim, Line
from .pack import CompiledPack, load_pack
from .results import Finding, Result
from .x12_837 import read_837

__version__ = "0.1.0"

__all__ = [
    "Claim", "ClaimError", "CompiledPack", "Diagnostic", "Finding", "HistoryRequired", "Line",
    "MemoryHistory", "PackError", "SQLiteHistory",
    "Result", "load_pack", "read_837", "read_claims", "__version__",
]
