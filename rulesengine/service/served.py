"""The packs a server checks with, and reloading them without a pause.

The packs in service are one immutable ``Served`` value: a request takes it once, at its
start, and checks every claim with it, so a reload that lands mid-request changes nothing
for that request. A reload compiles the new packs off to the side (through the pack cache,
so an unchanged pack costs a read), and only when every one compiles is the new value put
in place, one assignment; a pack that fails leaves the old ones serving and its errors are
kept, to be reported by the reload call, ``/readyz`` and the log.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rulesengine.language.diagnostics import PackError
from rulesengine.packs import CompiledPack, PackSet, load_pack
from rulesengine.packs.cache import load_cached


@dataclass(frozen=True)
class Served:
    """One generation of packs: what a request checks with from start to end."""

    packs: PackSet
    generation: int

    def describe(self) -> list[dict]:
        return [pack.info.to_dict() for pack in self.packs.packs]


class ReloadFailed(Exception):
    """A pack did not compile: the packs serving were kept. ``errors`` are its messages."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


class ServedPacks:
    """The packs in service (``current``), loaded from ``folders``, and their reloads."""

    def __init__(self, folders: list[str], cache: str | None):
        self.folders, self.cache = list(folders), cache
        self.last_errors: list[str] = []  # of the last reload that failed, until one succeeds
        self._reloading = threading.Lock()  # one reload at a time; checks never wait on it
        self.current = Served(self._compile(), generation=1)

    def reload(self) -> Served:
        """Compile the packs again and put them in service; ReloadFailed, with the old packs
        still serving, when one does not compile."""
        with self._reloading:
            try:
                packs = self._compile()
            except ReloadFailed as failed:
                self.last_errors = failed.errors
                raise
            self.current = Served(packs, self.current.generation + 1)
            self.last_errors = []
            return self.current

    def _compile(self) -> PackSet:
        loaded, errors = [], []
        for folder in self.folders:
            try:
                loaded.append(self._load(folder))
            except PackError as error:
                errors.append(f"{folder}: {error.render()}")
            except OSError as error:
                errors.append(f"{folder}: {error.strerror or error}")
        if errors:
            raise ReloadFailed(errors)
        return PackSet(loaded)

    def _load(self, folder: str) -> CompiledPack:
        return load_cached(folder, self.cache) if self.cache else load_pack(folder)
