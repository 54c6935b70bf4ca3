"""The service room: the engine over HTTP, for billing systems that are not Python.

``app`` is the Starlette application (one handler an endpoint), ``checking`` reads and
checks one request's claims within the ``Limits``, ``served`` holds the packs in service
and swaps in reloaded ones, ``keys`` the API keys, ``problems`` the RFC 9457 errors,
``metrics`` what Prometheus reads, ``decisions`` the audit log's one writer, ``openapi``
the document, ``server`` runs it all on uvicorn. See docs/service.md.

May import: every room below the CLI. Imported by the CLI only.
"""

from .app import create_app
from .config import ServiceConfig

__all__ = ["ServiceConfig", "create_app"]
