"""Parse rule files into the typed tree of ``ast``, or into plain-words syntax errors."""

from __future__ import annotations

import functools
from datetime import date
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from . import ast
from .diagnostics import Diagnostic

# What each token is, in the words of someone writing rules.
_TOKEN_WORDS = {
    "NAME": "a name in lower case (like vitd_support)",
    "RULE_ID": "a rule id in capitals (like MN-VITD)",
    "CODE": "a code (like E55.9, 82306 or 59)",
    "STRING": 'a text in double quotes',
    "DATE": "a date (like 2026-01-31)",
    "NUMBER": "a number",
    "ADJUSTMENT": "a group code and CARC (like CO-50)",
    "RARC": "a RARC (like N115)",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "DOT": "'.'",
    "EQUAL": "'='",
    "$END": "the end of the file",
}


def grammar_text() -> str:
    """The grammar, from inside the installed package or, in a source checkout, from grammar/."""
    packaged = resources.files(__package__) / "grammar" / "rules.lark"
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).parents[2] / "grammar" / "rules.lark").read_text(encoding="utf-8")


@functools.cache
def parser(strict: bool = False) -> Lark:
    """The LALR parser, built once per process (``strict`` turns grammar conflicts into errors)."""
    return Lark(grammar_text(), parser="lalr", propagate_positions=True, strict=strict,
                maybe_placeholders=False)


#: how deep a rule file's parse tree may nest (the bundled packs reach 10): every later
#: stage (building, checking, compiling) walks it by recursion, which a file of 1,000
#: 'not's would take past Python's limit
MAX_NESTING = 100


def _nested_past(tree: Tree, limit: int) -> Tree | None:
    """The first subtree deeper than ``limit`` levels, found without recursion; else None."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return node
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return None


def parse(text: str, path: str) -> tuple[ast.RuleFile | None, list[Diagnostic]]:
    """Parse one rule file; on a syntax error return no tree and one diagnostic."""
    try:
        tree = parser().parse(text)
    except UnexpectedInput as error:
        return None, [_syntax_diagnostic(error, text, path)]
    deep = _nested_past(tree, MAX_NESTING)
    if deep is not None:
        line, column = getattr(deep.meta, "line", 1), getattr(deep.meta, "column", 1)
        return None, [Diagnostic("too-deep", ast.Pos(path, line, column),
                                 f"this nests more than {MAX_NESTING} levels deep (a rule's "
                                 f"conditions are a few levels deep)",
                                 "write it flatter: 'not not x' is x, and a long chain of "
                                 "'and' needs no parentheses")]
    items = _Builder(path).transform(tree)
    return ast.RuleFile(
        path=path,
        valuesets=tuple(i for i in items if isinstance(i, ast.ValueSet)),
        tables=tuple(i for i in items if isinstance(i, ast.Table)),
        rules=tuple(i for i in items if isinstance(i, ast.Rule)),
        disables=tuple(i for i in items if isinstance(i, ast.Disable)),
    ), []


# ---- syntax errors in plain words ---------------------------------------------------------

def _describe(name: str) -> str:
    if name in _TOKEN_WORDS:
        return _TOKEN_WORDS[name]
    terminal = next((t for t in parser().terminals if t.name == name), None)
    if terminal is not None and terminal.pattern.type == "str":
        return f"'{terminal.pattern.value}'"
    return name.lower()


#: the tokens a value starts with: said together, as one thing the rule writer can put there
_VALUE_STARTS = {"CLAIM", "LINE", "PATIENT", "PARAM", "OTHER", "EARLIER", "COUNT", "SUM", "NAME",
                 "NUMBER", "DATE", "STRING"}
_A_VALUE = ("a value (a field like patient.sex, a number, a date, a text in quotes, "
            "a table lookup, or a count or sum of lines)")


def _expected(names) -> str:
    names = set(names)
    words = set()
    if {"CLAIM", "LINE", "PATIENT", "NUMBER"} <= names:
        names -= _VALUE_STARTS
        words.add(_A_VALUE)
    # what usually ends a rule comes first, so a cut list never hides it
    first = ("'else'", "'where'")
    words = sorted(words | {_describe(n) for n in names},
                   key=lambda w: (first.index(w) if w in first else len(first), w))
    if len(words) > 6:
        words = words[:6] + ["..."]
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1]


def _syntax_diagnostic(error: UnexpectedInput, text: str, path: str) -> Diagnostic:
    line, column = error.line, error.column
    if isinstance(error, UnexpectedCharacters):
        bad = text[error.pos_in_stream] if error.pos_in_stream < len(text) else ""
        if bad == '"':
            return Diagnostic("syntax", ast.Pos(path, line, column), "this text has no closing '\"'",
                              "a text in double quotes must end on the line where it starts")
        message = f"'{bad}' cannot start anything here"
        expected = error.allowed or set()
    elif isinstance(error, UnexpectedEOF):
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        message = "the file ends in the middle of a rule"
        expected = set(error.expected)
    else:
        assert isinstance(error, UnexpectedToken)
        token = error.token
        if token.type == "$END":
            lines = text.splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
            message = "the file ends in the middle of a rule"
        else:
            message = f"unexpected '{token}'"
        expected = set(error.expected)
    if "ACROSS" in expected and not any(word in " ".join(text.splitlines()[max(0, line - 4):line])
                                        for word in ("bundled", "within")):
        expected.discard("ACROSS")  # LALR shares lookaheads: only a table check ends with it
    hint = _hint_for(expected, error)
    token = getattr(error, "token", None)
    if token is not None and token == "=" and text[token.start_pos - 1:token.start_pos] == "=":
        hint = "compare with a single '='"
    if expected:
        message += "; expected " + _expected(expected)
    return Diagnostic("syntax", ast.Pos(path, line, column), message, hint)


def _hint_for(expected: set[str], error: UnexpectedInput) -> str | None:
    """Advice for the mistakes rule writers make most."""
    token = getattr(error, "token", None)
    text = str(token) if token is not None else ""
    if expected == {"LPAR"}:  # after "count of ... lines where" / "sum of ... where"
        return ("the condition of 'count of ... where' or 'sum of ... where' goes in parentheses, "
                "like: count of other lines where (other.procedure = line.procedure)")
    if "WHERE" in expected and text in ("other", "earlier", "line", "claim", "patient"):
        return "a quantifier over lines says its condition after 'where', like: any other line where other.units > 1"
    if text == "-" and "ONLY" in expected:  # right after a code: a range written with a dash
        return "a range of codes is written with two dots, like 15820..15823"
    if "ADJUSTMENT" in expected:
        return "write the group code, a dash and the CARC, like CO-50 or PR-204"
    if "RULE_ID" in expected:
        return "rule ids are capitals, digits and dashes, like MN-VITD or NCCI-PTP"
    if "ELSE" in expected and text not in ("else",):
        return "every rule ends with an action, like: else deny line CO-50 \"message\""
    if token is not None and "NAME" in expected and text.isidentifier() and text.islower():
        return f"'{text}' is a word of the rule language and cannot be a name; try {text}_date or my_{text}"
    if token is not None and token.type == "CODE" and "NAME" in expected:
        return "names of value sets and fields are lower case"
    return None


# ---- tree building ------------------------------------------------------------------

def _text(token: Token) -> str:
    # strings are written with double quotes and backslash escapes for \" and \\
    return token[1:-1].replace('\\"', '"').replace("\\\\", "\\")


@v_args(meta=True)
class _Builder(Transformer):
    """Turns Lark's tree into ``ast`` nodes, giving each its file position."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def _pos(self, meta) -> ast.Pos:
        return ast.Pos(self.path, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tpos(self, token: Token) -> ast.Pos:
        return ast.Pos(self.path, token.line, token.column, token.end_line, token.end_column)

    def start(self, meta, items):
        return items

    # sets and literals
    def code(self, meta, c):
        return ast.Code(str(c[0]), self._tpos(c[0]), exact=len(c) > 1)

    def code_range(self, meta, c):
        return ast.CodeSpan(ast.Code(str(c[0]), self._tpos(c[0])),
                            ast.Code(str(c[1]), self._tpos(c[1])), self._pos(meta))

    def string(self, meta, c):
        return ast.Text(_text(c[0]), self._tpos(c[0]))

    def code_list(self, meta, items):
        return ast.CodeList(tuple(items), self._pos(meta))

    def set_name(self, meta, c):
        return ast.SetName(str(c[0]), self._tpos(c[0]))

    # expressions
    def field(self, meta, c):
        name = c[-1].children[0] if hasattr(c[-1], "children") else c[-1]
        return ast.Field(str(c[0].children[0]), str(name), self._pos(meta))

    def lookup(self, meta, c):
        table, *rest = c
        column = rest[-1].children[0] if hasattr(rest[-1], "children") else rest[-1]
        key = rest[0] if len(rest) == 2 else None
        return ast.Lookup(str(table), self._tpos(table), key, str(column),
                          self._tpos(column), self._pos(meta))

    def line_set(self, meta, c):
        return str(c[0]), self._pos(meta)

    def aggregate(self, meta, c):
        first, *rest = c
        condition = rest[0] if rest else None
        if isinstance(first, ast.Field):  # sum of other.units
            return ast.Aggregate("sum", first.root, first, condition, self._pos(meta))
        return ast.Aggregate("count", first[0], None, condition, self._pos(meta))

    def arithmetic(self, meta, c):
        expr = c[0]
        for i in range(1, len(c), 2):
            expr = ast.Arithmetic(expr, str(c[i].children[0]), c[i + 1], self._pos(meta))
        return expr

    def number(self, meta, c):
        text = str(c[0])
        return ast.Number(float(text) if "." in text else int(text), self._tpos(c[0]))

    def date(self, meta, c):
        return ast.DateValue(str(c[0]), self._tpos(c[0]))

    def date_shift(self, meta, c):
        operand, sign, amount, unit = c
        negative = sign.children[0] == "-"
        if isinstance(amount, ast.Field):  # a pack parameter, checked and signed later
            return ast.DateShift(operand, amount, str(unit.children[0]), self._pos(meta), negative)
        number = float(amount)
        value = (int(number) if number.is_integer() else number) * (-1 if negative else 1)
        return ast.DateShift(operand, value, str(unit.children[0]), self._pos(meta))

    # conditions
    def comparison(self, meta, c):
        return ast.Comparison(c[0], str(c[1].children[0]), c[2], self._pos(meta))

    def presence(self, meta, c):
        negated = len(c) == 3
        word = str(c[-1].children[0])
        return ast.Presence(c[0], (word == "present") != negated, self._pos(meta))

    def membership(self, meta, c):
        return ast.Membership(c[0], len(c) == 3, c[-1], self._pos(meta))

    def quantified(self, meta, c):
        return ast.Quantified(str(c[0].children[0]), c[1], c[2], self._pos(meta))

    def line_quantifier(self, meta, c):
        quantifier, (scope, _), condition = c
        return ast.LineQuantifier(str(quantifier.children[0]), scope, condition, self._pos(meta))

    def date_window(self, meta, c):
        subject, low, high, unit, direction, reference = c
        words = [str(t) for t in unit.children]
        unit = " ".join(words) if words[0] == "calendar" else str(unit.children[0].children[0])
        return ast.DateWindow(subject, _number(low), _number(high), unit,
                              str(direction.children[0]), reference, self._pos(meta))

    def validity(self, meta, c):
        return ast.Validity(c[0], len(c) == 1, self._pos(meta))

    def quantified_validity(self, meta, c):
        return ast.Validity(c[1], len(c) == 2, self._pos(meta), str(c[0].children[0]))

    def _flatten(self, cls, items):
        flat = []
        for item in items:
            flat.extend(item.items if isinstance(item, cls) else [item])
        return tuple(flat)

    def all_of(self, meta, c):
        return ast.AllOf(self._flatten(ast.AllOf, c), self._pos(meta))

    def any_of(self, meta, c):
        return ast.AnyOf(self._flatten(ast.AnyOf, c), self._pos(meta))

    def negation(self, meta, c):
        return ast.Not(c[0], self._pos(meta))

    # value sets and tables
    def valueset(self, meta, c):
        override = bool(c) and hasattr(c[0], "data") and c[0].data == "override"
        name, kind, codes = c[1:] if override else c
        source = None
        if isinstance(codes, Token):  # from "file": the layer reads it (valueset_files.py)
            source = ast.Text(_text(codes), self._tpos(codes))
            codes = ast.CodeList((), self._tpos(codes))
        return ast.ValueSet(str(name), str(kind), self._tpos(kind), codes, self._pos(meta),
                            override, source)

    def disable(self, meta, c):
        rule_id, reason = c
        return ast.Disable(str(rule_id), ast.Text(_text(reason), self._tpos(reason)), self._tpos(rule_id))

    def column(self, meta, c):
        return ast.Column(str(c[0]), str(c[1]), self._tpos(c[1]), self._pos(meta))

    def row_dates(self, meta, c):
        return [ast.SetName(str(t), self._tpos(t)) for t in c]

    def table(self, meta, c):
        name, path, *rest = c
        dates = rest.pop() if rest and isinstance(rest[-1], list) else [None, None]
        dates = dates + [None] * (2 - len(dates))
        return ast.Table(str(name), ast.Text(_text(path), self._tpos(path)), tuple(rest),
                         dates[0], dates[1], self._pos(meta))

    # rules
    def category(self, meta, c):
        return ("category", ast.SetName(str(c[0]), self._tpos(c[0])), self._pos(meta))

    def citation(self, meta, c):
        return ("citation", ast.Text(_text(c[0]), self._tpos(c[0])), self._pos(meta))

    def effective(self, meta, c):
        dates = [ast.DateValue(str(t), self._tpos(t)) for t in c]
        return ("effective", (dates[0], dates[1] if len(dates) > 1 else None), self._pos(meta))

    def guard(self, meta, c):
        return ("when", c[0], self._pos(meta))

    def scope(self, meta, c):
        return ("scope", c[0] if c else None, self._pos(meta))

    def require(self, meta, c):
        return ast.Require(c[0], self._pos(meta))

    def require_unbundled(self, meta, c):
        across = c[-1] is _ACROSS
        parts = c[:-1] if across else c
        return ast.RequireUnbundled(str(parts[0]), self._tpos(parts[0]),
                                    parts[1] if len(parts) > 1 else None, self._pos(meta), across)

    def bypass(self, meta, c):
        return c[0]

    def across(self, meta, c):
        return _ACROSS

    def require_units(self, meta, c):
        return ast.RequireUnits(str(c[0]), self._tpos(c[0]), self._pos(meta), c[-1] is _ACROSS)

    def require_frequency(self, meta, c):
        limit, (amount, unit), *counting = c
        number = float(limit)
        return ast.RequireFrequency(int(number) if number.is_integer() else number, self._tpos(limit),
                                    amount, unit, self._pos(meta), counting[0] if counting else None)

    def counting(self, meta, c):
        return c[0]

    def period(self, meta, c):
        if not c:  # per lifetime
            return None, None
        number = float(c[0])
        return (int(number) if number.is_integer() else number), str(c[1].children[0])

    def require_no_duplicate(self, meta, c):
        return ast.RequireNoDuplicate(self._pos(meta))

    def action(self, meta, c):
        severity, scope, adjustment, *rest = c
        message = None
        if rest and rest[-1].type == "STRING":
            message = ast.Text(_text(rest[-1]), self._tpos(rest[-1]))
            rest = rest[:-1]
        return ast.Action(
            severity=str(severity.children[0]), scope=str(scope.children[0]),
            adjustment=str(adjustment), adjustment_pos=self._tpos(adjustment),
            rarcs=tuple(ast.Code(str(t), self._tpos(t)) for t in rest),
            message=message, pos=self._pos(meta))

    def rule(self, meta, c):
        override = hasattr(c[0], "data") and c[0].data == "override"
        rule_id, title, *parts = c[1:] if override else c
        check, action = parts[-2], parts[-1]
        fields: dict = {}
        headers = []
        for keyword, value, pos in (p for p in parts[:-2]):
            headers.append(ast.Header(keyword, pos))
            if keyword == "category":
                fields.setdefault("category", value)
            elif keyword == "citation":
                fields.setdefault("citation", value)
            elif keyword == "effective":
                fields.setdefault("effective_from", value[0])
                fields.setdefault("effective_through", value[1])
            elif keyword == "when":
                fields.setdefault("guard", value)
            elif keyword == "scope":
                fields["per_line"] = True
                fields["where"] = value
        return ast.Rule(id=str(rule_id), title=_text(title), pos=self._tpos(rule_id),
                        check=check, action=action, headers=tuple(headers), override=override,
                        **fields)


_ACROSS = object()  # "across claims" as the builder hands it to the check it ends


def _number(token: Token) -> int | float:
    number = float(token)
    return int(number) if number.is_integer() else number


def parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
