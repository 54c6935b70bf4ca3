"""rulesengine: a declarative payer-rules engine for US medical claims.

    import rulesengine
    pack = rulesengine.load_pack("payer_rules/medicare")
    for item in rulesengine.read_claims("examples/claims/clean.json"):
        print(pack.check(item).to_dict())

The package is a house of rooms, one a stage, each importing only the rooms below it
(docs/architecture.md): cli -> authoring, cms -> reports -> packs -> engine -> language
-> claims -> codes. This page is the public API.
"""

from .claims import Claim, ClaimError, Line, read_837, read_claims
from .engine import Finding, HistoryRequired, MemoryHistory, Result, SQLiteHistory
from .language import Diagnostic, PackError
from .packs import CompiledPack, PackSet, check_files, load_pack
from .version import __version__

__all__ = [
    "Claim", "ClaimError", "CompiledPack", "Diagnostic", "Finding", "HistoryRequired", "Line",
    "MemoryHistory", "PackError", "PackSet", "SQLiteHistory",
    "Result", "check_files", "load_pack", "read_837", "read_claims", "__version__",
]
