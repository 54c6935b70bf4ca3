"""API keys: who may call the service, and with which scope.

A key is a random token handed to one calling system; the server keeps only its SHA-256
(a key is 256 random bits, so a fast hash cannot be walked back as a password could), in
a file or in ``$RULESENGINE_API_KEYS``, one key a line::

    # name      scopes        hash
    billing-app check         sha256:9f86d081884c7d65...
    ops         check,admin   sha256:60303ae22b998861...

``check`` may check and explain claims and read the packs and metrics; ``admin`` may also
reload the packs. A caller sends ``Authorization: Bearer <key>`` (or ``X-API-Key``).
``rulesengine api-key new`` makes a key and the line to keep.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

SCOPES = ("check", "admin")
ENV_VAR = "RULESENGINE_API_KEYS"
_PREFIX = "sha256:"


class KeyFileError(Exception):
    """The key file or variable has a line that is not a key: which, and why."""


@dataclass(frozen=True)
class Key:
    name: str
    scopes: frozenset[str]
    digest: str  # hex SHA-256 of the key


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key(name: str, scopes: tuple[str, ...]) -> tuple[str, str]:
    """(the key to give the caller, the line for the key file)."""
    key = "rk_" + secrets.token_urlsafe(32)
    return key, f"{name} {','.join(scopes)} {_PREFIX}{digest(key)}"


def parse_keys(text: str, source: str) -> list[Key]:
    keys = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        where = f"{source}: line {number}"
        if len(parts) != 3 or not parts[2].startswith(_PREFIX):
            raise KeyFileError(f"{where}: expected 'NAME SCOPES sha256:HASH' (make one with "
                               f"'rulesengine api-key new NAME')")
        name, scopes, hashed = parts
        unknown = set(scopes.split(",")) - set(SCOPES)
        if unknown:
            raise KeyFileError(f"{where}: unknown scope {', '.join(sorted(unknown))} (scopes: "
                               f"{', '.join(SCOPES)})")
        hexdigest = hashed[len(_PREFIX):].lower()
        if len(hexdigest) != 64 or any(c not in "0123456789abcdef" for c in hexdigest):
            raise KeyFileError(f"{where}: the hash is not 64 hexadecimal digits; the file holds "
                               f"hashes of keys, never the keys themselves")
        keys.append(Key(name, frozenset(scopes.split(",")), hexdigest))
    return keys


class KeyRing:
    """The keys a server accepts."""

    def __init__(self, keys: list[Key]):
        self._by_digest = {k.digest: k for k in keys}

    @classmethod
    def read(cls, path: str | None, environ_text: str | None) -> KeyRing:
        keys = []
        if path:
            keys += parse_keys(Path(path).read_text(encoding="utf-8"), path)
        if environ_text:
            keys += parse_keys(environ_text.replace(";", "\n"), f"${ENV_VAR}")
        return cls(keys)

    def __len__(self) -> int:
        return len(self._by_digest)

    def find(self, presented: str | None) -> Key | None:
        """The key presented, or None for none or a wrong one."""
        if not presented:
            return None
        wanted = digest(presented)
        key = self._by_digest.get(wanted)
        return key if key is not None and hmac.compare_digest(key.digest, wanted) else None


def presented_key(headers) -> str | None:
    """The key a request carries: ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``."""
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return headers.get("x-api-key")
