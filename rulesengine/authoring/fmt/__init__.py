"""``rulesengine fmt``: one canonical layout for rule files, every comment kept.

Three steps: parse with the comments (``comments``), lay the tree out as a document
(``layout``), print it within the width (``document``); ``format`` runs them and refuses a
result whose syntax tree or comments differ from the input's.
"""

from .format import InternalError, SyntaxProblem, format_text, rule_files

__all__ = ["InternalError", "SyntaxProblem", "format_text", "rule_files"]
