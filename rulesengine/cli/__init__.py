"""The cli room, at the top of the house: the ``rulesengine`` command, thin.

One module a command or command group (``check`` and ``compile``, ``explain``, ``lint``,
``fmt``, ``packtest``, ``diff``, ``history``, ``imports``), each parsing its options,
calling the room that does the work and mapping the outcome to an exit code; ``main`` is
the group, ``common`` what the commands share.

May import: every room. Nothing imports this room.
"""

from .main import main

__all__ = ["main"]
