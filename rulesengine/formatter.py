"""``rulesengine fmt``: one canonical layout for rule files, every comment kept.

The layout is the one docs/language.md and the bundled packs use:

* one blank line between items, except that one-line value sets and ``disable`` lines
  written on consecutive lines stay together (a blank line you write between them is kept);
* a rule's clauses one a line, indented two spaces, in a fixed order: category, citation,
  effective, when, for each line, require, else;
* single spaces between words and around operators; ``a.b``, ``LOW..HIGH`` tight; texts
  re-escaped (only ``\\"`` and ``\\\\`` are escapes);
* a condition wider than WIDTH columns is broken before each ``and``/``or`` of its top
  level, one operand a line, indented two more; parentheses only where the meaning needs
  them, plus around an ``and`` inside an ``or`` so nobody has to remember precedence;
* code lists and table columns are filled to WIDTH, continuation lines aligned after
  ``{`` (or ``columns``); a line break you write between two entries is kept. A value set
  whose first code is on the line after ``{`` keeps its lines of codes as written,
  indented two spaces, each ending with a comma, and ``}`` on a line of its own;
* a comment on its own line(s) goes before the item or clause it precedes, a trailing
  comment stays at the end of its line (those on consecutive lines aligned).

A result is written only if it parses to the same rules as the original (positions and
clause order aside) and holds the same comments in the same order; otherwise the file is
left alone and the command exits 123, as black does for an internal error.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import functools
import os
import sys
import threading
from collections import defaultdict
from pathlib import Path

import click
from lark import Lark, Token, Tree

from . import ast
from .atomic import replacing
from .syntax import grammar_text, parse

WIDTH = 92  # columns a breakable line may take
INDENT = 2
EXIT_OK, EXIT_CHANGES, EXIT_ERROR, EXIT_INTERNAL = 0, 1, 2, 123


class SyntaxProblem(Exception):
    """The text does not parse; ``diagnostic`` says where and why."""

    def __init__(self, diagnostic):
        super().__init__(str(diagnostic.message))
        self.diagnostic = diagnostic


class InternalError(Exception):
    """The formatter's output failed its own checks: a bug, so nothing is written."""


# ---- documents: text with the places where a line may break (after Wadler and Prettier) ----

class _Line:  # a space, or a line break when its group does not fit
    pass


class _Hard:  # always a line break (two in a row make one)
    pass


class _Blank:  # one empty line
    pass


LINE, HARD, BLANK = _Line(), _Hard(), _Blank()


class _Nest:
    def __init__(self, parts, by=INDENT):
        self.parts, self.by = parts, by


class _Align:  # continuation lines start at the column where this begins
    def __init__(self, parts):
        self.parts = parts


class _Fill:  # [content, separator, content, ...]: break a separator only if the next does not fit
    def __init__(self, parts):
        self.parts = parts


class _FillFrom:
    def __init__(self, parts, index):
        self.parts, self.index = parts, index


class _Trail:  # a comment at the end of the current line
    def __init__(self, text):
        self.text = text


class _Own:  # a comment on a line of its own
    def __init__(self, text):
        self.text = text


class _Group:
    """Printed on one line if it fits, else with every LINE of its own broken."""

    def __init__(self, parts):
        self.parts = parts
        self.hard = _forces_break(parts)


def _leaves(doc):
    if isinstance(doc, list):
        for part in doc:
            yield from _leaves(part)
    elif isinstance(doc, (_Nest, _Align, _Fill, _Group)):
        yield from _leaves(doc.parts)
    else:
        yield doc


def _forces_break(doc) -> bool:
    # a trailing comment breaks its group only if something follows it inside the group
    trail = False
    for leaf in _leaves(doc):
        if isinstance(leaf, (_Hard, _Own, _Blank)) or (trail and leaf != ""):
            return True
        trail = trail or isinstance(leaf, _Trail)
    return False


FLAT, BREAK = 0, 1


class _Printer:
    """Lines of (code, trailing comment); a comment always ends its line."""

    def __init__(self):
        self.lines: list[tuple[str, str | None]] = []
        self.code, self.comment = "", None

    def _empty(self) -> bool:
        return not self.code.strip() and self.comment is None

    def newline(self, indent):
        if not self._empty():
            self.lines.append((self.code.rstrip(), self.comment))
        self.code, self.comment = " " * indent, None

    def blank(self, indent):
        self.newline(indent)
        if self.lines and self.lines[-1] != ("", None):
            self.lines.append(("", None))

    def text(self, text, indent):
        if self.comment is not None:  # the comment ends the line; a space does not start one
            self.newline(indent)
            text = text.lstrip(" ")
        self.code += text

    def trail(self, text, indent):
        if self.comment is not None:  # never two comments on one line
            self.newline(indent)
        if self.code.strip():
            self.comment = text
        else:
            self.own(text, indent)

    def own(self, text, indent):
        self.newline(indent)
        self.code = " " * indent + text
        self.newline(indent)

    def finish(self):
        self.newline(0)
        return self.lines


def _render(doc) -> list[tuple[str, str | None]]:
    out = _Printer()
    stack = [(0, BREAK, doc)]
    while stack:
        indent, mode, d = stack.pop()
        if isinstance(d, str):
            if d:
                out.text(d, indent)
        elif isinstance(d, list):
            stack.extend((indent, mode, part) for part in reversed(d))
        elif isinstance(d, _Nest):
            stack.append((indent + d.by, mode, d.parts))
        elif isinstance(d, _Align):
            stack.append((len(out.code), mode, d.parts))
        elif isinstance(d, _Group):
            flat = mode == FLAT or (not d.hard and
                                    _fits([(indent, FLAT, d.parts)], stack, WIDTH - len(out.code)))
            stack.append((indent, FLAT if flat else BREAK, d.parts))
        elif isinstance(d, _Line):
            if mode == FLAT and out.comment is None:
                out.text(" ", indent)
            else:
                out.newline(indent)
        elif isinstance(d, _Hard):
            out.newline(indent)
        elif isinstance(d, _Blank):
            out.blank(indent)
        elif isinstance(d, _Trail):
            out.trail(d.text, indent)
        elif isinstance(d, _Own):
            out.own(d.text, indent)
        elif isinstance(d, _Fill):
            if mode == FLAT:
                stack.append((indent, FLAT, list(d.parts)))
            else:
                stack.append((indent, BREAK, _FillFrom(d.parts, 1)))
                stack.append((indent, FLAT, d.parts[0]))
        elif isinstance(d, _FillFrom) and d.index < len(d.parts):
            separator, content = d.parts[d.index], d.parts[d.index + 1]
            if (isinstance(separator, _Hard) or out.comment is not None
                    or not _fits([(indent, FLAT, content)], [], WIDTH - len(out.code) - 1)):
                out.newline(indent)
            else:
                out.text(" ", indent)
            stack.append((indent, BREAK, _FillFrom(d.parts, d.index + 2)))
            stack.append((indent, FLAT, content))
    return out.finish()


def _fits(todo, rest, width) -> bool:
    """Whether ``todo``, flat, and what follows it up to the next line break fit in width."""
    todo, rest_index, in_rest = list(todo), len(rest), False
    while width >= 0:
        if not todo:
            if rest_index == 0:
                return True
            rest_index -= 1
            todo.append(rest[rest_index])
            in_rest = True
            continue
        indent, mode, d = todo.pop()
        if isinstance(d, str):
            width -= len(d)
        elif isinstance(d, list):
            todo.extend((indent, mode, part) for part in reversed(d))
        elif isinstance(d, _Group):
            todo.append((indent, BREAK if d.hard else mode, d.parts))
        elif isinstance(d, (_Nest, _Align)):
            todo.append((indent, mode, d.parts))
        elif isinstance(d, _Fill):
            todo.append((indent, mode, list(d.parts)))
        elif isinstance(d, _Line):
            if mode == BREAK:
                return True
            width -= 1
        elif isinstance(d, _Own):
            return in_rest
        else:  # a line break, a trailing comment or the rest of a fill: the line ends here
            return True
    return False


def _join(lines) -> str:
    """The text; trailing comments on consecutive lines of one indentation aligned (within WIDTH)."""
    def indent(code):
        return len(code) - len(code.lstrip(" "))

    out, i = [], 0
    while i < len(lines):
        j = i
        while (j < len(lines) and lines[j][1] is not None
               and indent(lines[j][0]) == indent(lines[i][0])):
            j += 1
        if j == i:
            out.append(lines[i][0])
            i += 1
            continue
        column = max(len(code) for code, _ in lines[i:j]) + 2
        for code, comment in lines[i:j]:
            pad = column - len(code) if column <= WIDTH else 2
            out.append(code + " " * pad + comment)
        i = j
    return "\n".join(out) + "\n" if out else ""


# ---- parsing with comments ---------------------------------------------------------------

_comment_sink = threading.local()


def _collect_comment(token: Token) -> Token:
    _comment_sink.comments.append(token)
    return token


@functools.cache
def _parser() -> Lark:
    # syntax.parser()'s options, plus every punctuation token (the layout needs their lines)
    # and the comments, which the grammar %ignores
    return Lark(grammar_text(), parser="lalr", propagate_positions=True, maybe_placeholders=False,
                keep_all_tokens=True, lexer_callbacks={"COMMENT": _collect_comment})


def _parse_with_comments(text: str) -> tuple[Tree, list[Token]]:
    _comment_sink.comments = []
    try:
        tree = _parser().parse(text)
        return tree, _comment_sink.comments
    finally:
        _comment_sink.comments = []


def comments_of(text: str) -> list[str]:
    """The comments of a rule file, in order, without trailing spaces."""
    return [str(c).rstrip() for c in _parse_with_comments(text)[1]]


def _tokens(node):
    if isinstance(node, Token):
        yield node
    else:
        for child in node.children:
            yield from _tokens(child)


def _first(node) -> Token:
    return node if isinstance(node, Token) else _first(node.children[0])


def _last(node) -> Token:
    return node if isinstance(node, Token) else _last(node.children[-1])


def _quote(token: Token) -> str:
    # decode as syntax._text does, then escape only what must be
    value = token[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---- the tree as a document ---------------------------------------------------------------

_CLAUSE_ORDER = {"category": 0, "citation": 1, "effective": 2, "guard": 3}
_TIGHT = {"field", "code_range"}  # written without spaces: claim.plan, 70551..70553
_CONDITIONS = {"any_of", "all_of", "negation", "not_condition", "comparison", "presence",
               "membership", "quantified"}


class _Builder:
    def __init__(self, tree: Tree, comments: list[Token]):
        self.tree = tree
        tokens = sorted(_tokens(tree), key=lambda t: t.start_pos)
        starts = [t.start_pos for t in tokens]
        self.leading: dict[int, list[Token]] = defaultdict(list)
        self.trailing: dict[int, Token] = {}
        self.tail: list[Token] = []  # after the last token
        for comment in comments:
            i = bisect.bisect_left(starts, comment.start_pos)
            before = tokens[i - 1] if i else None
            if before is not None and before.end_line == comment.line:
                self.trailing[before.start_pos] = comment
            elif i < len(tokens):
                self.leading[tokens[i].start_pos].append(comment)
            else:
                self.tail.append(comment)
        self._settle(tokens)
        self.count = len(comments)
        self.emitted = 0

    def _settle(self, tokens):
        """Move comments off closing brackets so they land in the same place on every run,
        whether a bracket is kept, dropped or moved to another line."""
        stays = {item.children[-1].children[-1].start_pos for item in self.tree.children
                 if item.data == "valueset" and isinstance(item.children[-1], Tree)
                 and _exploded(item.children[-1])}  # '}' on a line of its own

        def bare(token):
            return token.start_pos not in self.leading and token.start_pos not in self.trailing

        # a trailing comment follows the brackets closed on the lines after it: `B  # c` `)`
        for i, token in enumerate(tokens):
            if token.start_pos not in self.trailing:
                continue
            j = i
            while (j + 1 < len(tokens) and tokens[j + 1].type in ("RPAR", "RBRACE")
                   and tokens[j + 1].start_pos not in stays and bare(tokens[j + 1])):
                j += 1
            if j > i:
                self.trailing[tokens[j].start_pos] = self.trailing.pop(token.start_pos)
        # comments on their own lines before ')', or after a ')' standing on a line of its
        # own, go with the token after the parenthesis
        for i, token in enumerate(tokens):
            if token.type != "RPAR" or i == 0:
                continue
            lone = token.start_pos in self.trailing and tokens[i - 1].start_pos in self.trailing
            if token.start_pos in self.leading or lone:
                moved = self.leading.pop(token.start_pos, [])
                moved += [self.trailing.pop(token.start_pos)] if token.start_pos in self.trailing else []
                if i + 1 < len(tokens):
                    self.leading[tokens[i + 1].start_pos][:0] = moved
                else:
                    self.tail[:0] = moved

    # -- comments
    def take_leading(self, token: Token) -> list:
        found = self.leading.pop(token.start_pos, [])
        self.emitted += len(found)
        return [_Own(str(c).rstrip()) for c in found]

    def take_trailing(self, token: Token) -> list:
        found = self.trailing.pop(token.start_pos, None)
        if found is None:
            return []
        self.emitted += 1
        return [_Trail(str(found).rstrip())]

    def tok(self, token: Token, lead: bool = True) -> list:
        text = _quote(token) if token.type == "STRING" else str(token)
        return [*(self.take_leading(token) if lead else []), text, *self.take_trailing(token)]

    def drop(self, token: Token) -> list:
        """A token not written (a redundant parenthesis, a trailing comma): only its comments."""
        return [*self.take_leading(token), *self.take_trailing(token)]

    # -- the file
    def file(self) -> list:
        doc, previous, last_line = [], None, None
        for item in self.tree.children:
            first = _first(item)
            comments = self.leading.pop(first.start_pos, [])
            self.emitted += len(comments)
            tight = _short(previous) and _short(item)
            for comment in comments:
                if last_line is not None:
                    gap = comment.line - last_line
                    doc.append(BLANK if gap > 1 or (comment is comments[0] and not tight) else HARD)
                doc.append(_Own(str(comment).rstrip()))
                last_line = comment.line
            if last_line is not None:
                gap = first.line - last_line
                doc.append(BLANK if gap > 1 or (not comments and not tight) else HARD)
            doc.append(getattr(self, item.data)(item))
            previous, last_line = item, _last(item).end_line
        for comment in self.tail:
            if last_line is not None:
                doc.append(BLANK if comment.line - last_line > 1 else HARD)
            doc.append(_Own(str(comment).rstrip()))
            last_line = comment.line
        self.emitted += len(self.tail)
        return doc

    def words(self, node) -> list:
        """A node's tokens and parts separated by single spaces."""
        parts = []
        for child in node.children:
            if parts:
                parts.append(" ")
            parts.append(self.part(child))
        return parts

    def part(self, node) -> list:
        if isinstance(node, Token):
            return self.tok(node)
        if node.data in _TIGHT:
            return [self.part(child) for child in node.children]
        if node.data == "code_list":
            return self.code_list(node, explode=False)
        if node.data in _CONDITIONS:
            return self.condition(node, "top")
        return self.words(node)

    # -- items
    def valueset(self, node) -> list:
        parts = []
        for child in node.children:
            if parts:
                parts.append(" ")
            if isinstance(child, Tree) and child.data == "code_list":
                parts.append(self.code_list(child, explode=True))
            else:
                parts.append(self.part(child))
        return parts

    def disable(self, node) -> list:
        return self.words(node)

    def table(self, node) -> list:
        children = list(node.children)
        index = next(i for i, c in enumerate(children) if isinstance(c, Token) and c == "columns")
        head, word, rest = children[:index], children[index], children[index + 1:]
        columns = [c for c in rest if not (isinstance(c, Tree) and c.data == "row_dates")]
        body = [HARD, *self.take_leading(word),
                _Nest([self.tok(word), " ", _Align(self.listing(columns, None))])]
        for dates in (c for c in rest if isinstance(c, Tree) and c.data == "row_dates"):
            body += [HARD, self.clause(dates)]
        return [self.words(Tree("head", head)), _Nest(body)]

    def rule(self, node) -> list:
        children = list(node.children)
        start = 4 if isinstance(children[0], Tree) else 3  # override? rule ID "title"
        head, clauses = children[:start], children[start:]
        order = sorted(range(len(clauses)),
                       key=lambda i: (_CLAUSE_ORDER.get(clauses[i].data, 9), i))
        commented = [i for i in range(len(clauses)) if self.has_comments(clauses[i])]
        if [i for i in order if i in commented] != commented:
            order = range(len(clauses))  # moving them would reorder their comments
        body = []
        for i in order:
            body += [HARD, self.clause(clauses[i])]
        return [self.words(Tree("head", head)), _Nest(body)]

    def has_comments(self, node) -> bool:
        return any(t.start_pos in self.leading or t.start_pos in self.trailing
                   for t in _tokens(node))

    def clause(self, node) -> list:
        # comments before a clause stand at its indentation; its own breaks go two further
        return [*self.take_leading(_first(node)), _Nest(self.words(node))]

    def close(self, before: list, closing: Token | None, text: str) -> list:
        """``closing`` after an entry, ``before`` the comments written between the two.

        One trailing comment goes after the closing bracket, where it stays on the next run;
        with more comments the bracket goes after them, on a line of its own."""
        if closing is not None:
            before = before + self.take_leading(closing)
            after = self.take_trailing(closing)
        else:
            after = []
        if not after and len(before) <= 1 and all(isinstance(c, _Trail) for c in before):
            return [text, *before]
        return [*before, text, *after]

    # -- code lists and table columns
    def code_list(self, node, explode: bool) -> list:
        opening, closing = node.children[0], node.children[-1]
        inner = node.children[1:-1]
        if explode and _exploded(node):
            return self.exploded(opening, inner, closing)
        return [self.tok(opening), _Align(self.listing(inner, closing))]

    def _rows(self, inner):
        """Entries (with the comma after each, if any), grouped by the line they start on."""
        entries, rows = [], []
        for child in inner:
            if isinstance(child, Token) and child.type == "COMMA":
                entries[-1][1] = child
            else:
                entries.append([child, None])
        for entry, comma in entries:
            if rows and _first(entry).line <= (rows[-1][-1][1] or _last(rows[-1][-1][0])).end_line:
                rows[-1].append((entry, comma))
            else:
                rows.append([(entry, comma)])
        return rows

    def listing(self, inner, closing: Token | None) -> _Fill:
        """Entries filled to WIDTH, the author's line breaks kept, ``closing`` after the last."""
        parts, rows = [], self._rows(inner)
        for r, row in enumerate(rows):
            for e, (entry, comma) in enumerate(row):
                last = r == len(rows) - 1 and e == len(row) - 1
                moved = self.take_trailing(_last(entry))
                content = [self.part(entry)]
                if not last:
                    content += self.close(moved, comma, ",")
                else:
                    moved += self.drop(comma) if comma is not None else []
                    content += self.close(moved, closing, "}") if closing is not None else moved
                if parts:
                    parts.append(HARD if e == 0 else LINE)
                parts.append(content)
        return _Fill(parts)

    def exploded(self, opening: Token, inner, closing: Token) -> list:
        body, end_line = [], opening.line
        for row in self._rows(inner):
            first = _first(row[0][0])
            start = min([c.line for c in self.leading.get(first.start_pos, [])] + [first.line])
            body.append(BLANK if start - end_line > 1 and body else HARD)
            parts = []
            for entry, comma in row:
                moved = self.take_trailing(_last(entry))
                if parts:
                    parts.append(LINE)
                parts.append([self.part(entry), *self.close(moved, comma, ",")])
            body.append(_Fill(parts))
            end_line = _last(row[-1][1] or row[-1][0]).end_line
        body += self.take_leading(closing)
        return [self.tok(opening), _Nest(body), HARD, self.tok(closing, lead=False)]

    # -- conditions
    def condition(self, node, context: str) -> list:
        """``context``: "top", or the operator the condition is an operand of ("or", "and", "not")."""
        node, opens, closes = _unwrap(node)
        kind = node.data
        needs = ((context == "not" and kind in ("any_of", "all_of"))
                 or (context == "and" and kind == "any_of")
                 or (context == "or" and kind == "all_of"))
        opening = (self.tok(opens.pop()) if opens else "(") if needs else ""
        moved = self.take_trailing(_last(node)) if needs else []
        if kind in ("any_of", "all_of"):
            body = self.chain(node)
        elif kind == "negation":
            body = [self.tok(node.children[0]), " ", self.condition(node.children[1], "not")]
        else:
            body = self.words(node)
        if not needs:
            return [*map(self.drop, opens), body, *map(self.drop, closes)]
        # keep the innermost written parentheses (and their comments), or write new ones
        closing = self.close(moved, closes.pop(0) if closes else None, ")")
        return [*map(self.drop, opens), opening, _Nest(body), closing, *map(self.drop, closes)]

    def chain(self, node) -> _Group:
        """``a and b and c`` (or ``or``): one group, broken before every operator or none."""
        sequence = []
        self._flatten(node, node.data, sequence)
        operator = "or" if node.data == "any_of" else "and"
        parts = []
        for kind, item in sequence:
            if kind == "drop":
                parts.append(self.drop(item))
            elif kind == "operator":
                lead = self.take_leading(item)
                word = self.tok(item, lead=False)
                parts.append([LINE, lead, word, " "])
            else:
                if (parts and isinstance(parts[-1], list) and parts[-1][0] is LINE
                        and not any(isinstance(x, _Trail) for x in parts[-1][2])):
                    # comments between an operator and its operand go before the operator
                    for token in _opening(item):
                        parts[-1][1] += self.take_leading(token)
                        if token.start_pos in self.trailing:
                            break
                parts.append(self.condition(item, operator))
        return _Group(parts)

    def _flatten(self, node, data, sequence):
        """The operands and operators of a chain, nested chains of the same operator spliced
        in (their parentheses dropped), as ("operand" | "operator" | "drop", item)."""
        inner, opens, closes = _unwrap(node)
        if inner.data != data:
            sequence.append(("operand", node))
            return
        sequence.extend(("drop", t) for t in opens)
        left, operator, right = inner.children
        self._flatten(left, data, sequence)
        sequence.append(("operator", operator))
        self._flatten(right, data, sequence)
        sequence.extend(("drop", t) for t in closes)


def _unwrap(condition):
    """A condition without its parentheses, and those: (inner, opening ones, closing ones)."""
    opens, closes = [], []
    while isinstance(condition, Tree) and condition.data == "not_condition":  # ( condition )
        opens.append(condition.children[0])
        closes.insert(0, condition.children[2])
        condition = condition.children[1]
    return condition, opens, closes


def _opening(condition):
    """The parentheses that open a condition, and its first token after them."""
    inner, opens, _ = _unwrap(condition)
    return [*opens, _first(inner)]


def _exploded(code_list: Tree) -> bool:
    """A value set's list written with its first code on the line after ``{``."""
    return _first(code_list.children[1]).line > code_list.children[0].line


def _short(item) -> bool:
    """Items that may stay on consecutive lines: disables and value sets not written one
    line of codes per line."""
    if item is None or item.data not in ("valueset", "disable"):
        return False
    return not any(isinstance(c, Tree) and c.data == "code_list" and _exploded(c)
                   for c in item.children)


def _layout(text: str) -> str:
    tree, comments = _parse_with_comments(text)
    builder = _Builder(tree, comments)
    doc = builder.file()
    lines = _render(doc)
    if builder.emitted != builder.count:
        raise InternalError(f"{builder.count - builder.emitted} comment(s) were not placed")
    return _join(lines)


# ---- checking a result before it is written ----------------------------------------------

def _shape(value):
    """A node as nested tuples, without positions; a rule's clauses in canonical order."""
    if isinstance(value, ast.Pos):
        return None
    if isinstance(value, ast.Rule):
        value = dataclasses.replace(value, headers=tuple(sorted(
            value.headers, key=lambda h: ["category", "citation", "effective", "when",
                                          "scope"].index(h.keyword))))
    if dataclasses.is_dataclass(value):
        return (type(value).__name__,
                *((f.name, _shape(getattr(value, f.name))) for f in dataclasses.fields(value)))
    if isinstance(value, (tuple, list)):
        return tuple(_shape(v) for v in value)
    return value


def format_text(text: str, path: str = "<text>") -> str:
    """The canonical layout of a rule file's text.

    Raises ``SyntaxProblem`` when the text does not parse, and ``InternalError`` when the
    result would not mean the same rules or would lose a comment (a formatter bug).
    """
    text = text.replace("\r\n", "\n")
    original, problems = parse(text, path)
    if original is None:
        raise SyntaxProblem(problems[0])
    formatted = _layout(text)
    again, problems = parse(formatted, path)
    if again is None:
        raise InternalError(f"the formatted text does not parse: {problems[0].message} "
                            f"(line {problems[0].pos.line})")
    if _shape(again) != _shape(original):
        raise InternalError("the formatted text does not parse to the same rules")
    if comments_of(formatted) != comments_of(text):
        raise InternalError("the formatted text does not keep the same comments in order")
    return formatted


# ---- the command ----------------------------------------------------------------------------

def rule_files(paths) -> list[Path]:
    """The files named, and the *.rules files in the folders named (not under tests/ or .hidden)."""
    found = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*.rules")
                if p.is_file() and not any(part == "tests" or part.startswith(".")
                                           for part in p.relative_to(path).parts[:-1]))
        else:
            found.append(path)
    unique = {}
    for path in found:
        unique.setdefault(os.path.normpath(path), path)
    return list(unique.values())


@click.command("fmt")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--check", is_flag=True,
              help="Change nothing: list the files that would change; exit 1 if any would.")
@click.option("--diff", is_flag=True,
              help="Change nothing: print a unified diff of what would change.")
def command(paths, check, diff):
    """Rewrite rule files (PATHS: *.rules files or folders of them) in the canonical layout.

    Files are replaced whole, and only when their text changes. A file that does not
    parse is reported and left alone. Exit codes: 0 done (or, with --check, nothing to
    change); 1 with --check, some file would change; 2 a file does not parse or cannot be
    read; 123 an internal error (the formatter would have changed a file's meaning).
    """
    changed = unchanged = errors = internal = 0
    for path in rule_files(paths):
        try:
            raw = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            click.echo(f"{path}: cannot read: {error}", err=True)
            errors += 1
            continue
        text = raw.replace("\r\n", "\n")
        try:
            formatted = format_text(text, str(path))
        except SyntaxProblem as problem:
            lines = text.splitlines()
            line = problem.diagnostic.pos.line
            click.echo(problem.diagnostic.render(lines[line - 1] if 0 < line <= len(lines) else None),
                       err=True)
            errors += 1
            continue
        except Exception as error:  # noqa: BLE001 -- a bug: report it, never write
            click.echo(f"{path}: internal error, file left unchanged: {error}", err=True)
            internal += 1
            continue
        if formatted == text:
            unchanged += 1
            continue
        changed += 1
        if diff:
            click.echo("".join(difflib.unified_diff(
                text.splitlines(keepends=True), formatted.splitlines(keepends=True),
                f"{path}", f"{path} (formatted)")), nl=False)
        elif check:
            click.echo(f"would reformat {path}")
        else:
            with replacing(path) as handle:  # whole or not at all, permissions kept
                handle.write(formatted.replace("\n", "\r\n") if "\r\n" in raw else formatted)
            click.echo(f"reformatted {path}")
    would = check or diff
    click.echo(_summary(changed, unchanged, errors + internal, would), err=True)
    if internal:
        sys.exit(EXIT_INTERNAL)
    if errors:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CHANGES if check and changed else EXIT_OK)


def _summary(changed, unchanged, failed, would) -> str:
    def files(n):
        return f"{n} file{'s' if n != 1 else ''}"
    parts = [f"{files(changed)} {'would be reformatted' if would else 'reformatted'}",
             f"{files(unchanged)} {'would be left' if would else 'left'} unchanged"]
    if failed:
        parts.append(f"{files(failed)} failed")
    return ", ".join(parts) + "."
