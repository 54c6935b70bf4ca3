"""The packs room: a rule pack on disk, read, checked and compiled into a ``CompiledPack``.

Holds pack.yaml and the layers of packs built on packs (``layers``, with ``pack.schema.json``
and YAML read with positions by ``yaml_source``); the files a pack keeps beside its rules:
tables (``tables``), value-set files (``valueset_files``) and ICD-10-CM code sets
(``codeset_files``), none of them outside the pack's folder (``confinement``); ``load``:
``load_pack``, which runs every stage in order and returns the ``CompiledPack`` claims are
checked with, and ``PackSet``, which routes each claim to the pack of its payer; and
``many``: ``check_files``, claim files checked on every core, the outcomes in file order;
``cache``: ``load_cached``, a pack whose files have not changed loaded from plain data.

May import: ``rulesengine.engine``, ``rulesengine.language``, ``rulesengine.claims``,
``rulesengine.codes``. Imported by reports, authoring, cms and cli.
"""

from .load import CompiledPack, PackSet, load_pack
from .many import check_files

__all__ = ["CompiledPack", "PackSet", "check_files", "load_pack"]
