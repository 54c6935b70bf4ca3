"""The language room: the rule language itself, from text to a checked syntax tree.

Holds the typed syntax tree, every node with its place (``ast``); the parser over the Lark
grammar, with plain-words syntax errors (``syntax``); the one shape of every problem
(``diagnostics``: ``Diagnostic``, ``PackError``); the claim fields a rule can name
(``fields``); calendar arithmetic for ``+ 90 days`` and ages (``dates``); pack parameters
bound into the tree (``parameters``); when a version of a rule applies (``windows``); and
the named checking stages (``checker``: names, types, code shapes, actions).

May import: ``rulesengine.claims`` (the claim model the fields read) and
``rulesengine.codes``. Imported by the engine and every room above it.
"""

from .checker import CATEGORIES, GROUP_CODES, bypass_modifiers, check
from .diagnostics import Diagnostic, PackError, did_you_mean
from .fields import FIELDS, FieldSpec
from .syntax import parse

__all__ = ["CATEGORIES", "FIELDS", "GROUP_CODES", "Diagnostic", "FieldSpec", "PackError",
           "bypass_modifiers", "check", "did_you_mean", "parse"]
