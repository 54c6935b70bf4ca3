"""What a server is started with: its packs, history, keys, limits and decision log."""

from __future__ import annotations

from dataclasses import dataclass, field

from .checking import Limits
from .keys import KeyRing

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class ServiceConfig:
    pack_dirs: list[str]
    cache: str | None = None
    history: str | None = None  # a SQLite path or a postgresql:// URL
    keys: KeyRing = field(default_factory=lambda: KeyRing([]))
    keys_required: bool = False
    limits: Limits = field(default_factory=Limits)
    decision_log: str | None = None  # the file, when this process writes it itself
    decision_socket: str | None = None  # the serve process's writer, when it has one
    reload_on_hup: bool = False  # SIGHUP reloads the packs in this process
