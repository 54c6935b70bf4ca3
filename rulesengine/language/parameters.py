"""Pack parameters: named values in pack.yaml that rules read as ``param.NAME``.

A base pack says ``parameters: {filing_limit_days: 365}`` and its rules write
``+ param.filing_limit_days days``; a pack that extends it changes the value, not the
rule. Parameters are constants, so they are bound into the tree before the checker
sees it: ``param.x`` becomes the literal it stands for, and the evaluators never know
parameters existed.
"""

from __future__ import annotations

import dataclasses
import re

from . import ast
from .diagnostics import Diagnostic, did_you_mean

_PLACEHOLDER = re.compile(r"\{\s*param\.([a-z0-9_]+)\s*\}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def bind(rules: list[ast.Rule], parameters: dict) -> tuple[list[ast.Rule], list[Diagnostic]]:
    problems: list[Diagnostic] = []

    def literal(node: ast.Field):
        if node.name not in parameters:
            problems.append(Diagnostic("unknown-parameter", node.pos, f"pack.yaml has no parameter '{node.name}'",
                                       did_you_mean(node.name, parameters)
                                       or "declare it under parameters: in pack.yaml"))
            return ast.Number(0, node.pos)
        value = parameters[node.name]
        if isinstance(value, bool):
            value = str(value).lower()
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            return ast.DateValue(value, node.pos)
        if isinstance(value, (int, float)):
            return ast.Number(value, node.pos)
        return ast.Text(str(value), node.pos)

    def walk(node, what="the text"):
        if isinstance(node, ast.Field):
            return literal(node) if node.root == "param" else node
        if isinstance(node, ast.DateShift) and isinstance(node.amount, ast.Field):
            amount = literal(node.amount)
            if not isinstance(amount, ast.Number):
                problems.append(Diagnostic("type-mismatch", node.amount.pos,
                                           f"param.{node.amount.name} must be a number to move a date"))
                amount = ast.Number(0, node.pos)
            value = -amount.value if node.negative else amount.value
            return dataclasses.replace(node, operand=walk(node.operand), amount=value, negative=False)
        if isinstance(node, ast.Text):
            return dataclasses.replace(node, value=_fill(node.value, node.pos, what, parameters, problems))
        if isinstance(node, tuple):
            return tuple(walk(item, what) for item in node)
        if dataclasses.is_dataclass(node) and not isinstance(node, ast.Pos):
            changes = {f.name: walk(getattr(node, f.name), _TEXTS.get(f.name, what))
                       for f in dataclasses.fields(node)}
            return dataclasses.replace(node, **changes)
        return node

    bound = []
    for rule in rules:
        rule = walk(rule)
        title = _fill(rule.title, rule.pos, "the title", parameters, problems)
        bound.append(rule if title == rule.title else dataclasses.replace(rule, title=title))
    return bound, problems


#: what a text of a rule is, by the field that holds it, for messages about it
_TEXTS = {"message": "the message", "citation": "the citation"}


def _fill(text: str, pos: ast.Pos, what: str, parameters: dict, problems: list) -> str:
    """``{param.x}`` in a message, citation or title is written in once, like any other
    constant: "ACME provider manual: {param.filing_limit_days}-day limit"."""
    if "param." not in text:
        return text

    def fill(match):
        value = parameters.get(match.group(1))
        if value is None:
            problems.append(Diagnostic("unknown-parameter", pos,
                                       f"{what} names param.{match.group(1)}, which pack.yaml does not declare",
                                       did_you_mean(match.group(1), parameters)))
            return match.group(1)
        return str(value)
    return _PLACEHOLDER.sub(fill, text)
