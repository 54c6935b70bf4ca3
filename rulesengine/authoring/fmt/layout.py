"""The canonical layout of a rule file, as a document for document.render to print.

The layout is the one docs/language.md and the bundled packs use:

* one blank line between items, except that one-line value sets and ``disable`` lines
  written on consecutive lines stay together (a blank line you write between them is kept);
* a rule's clauses one a line, indented two spaces, in a fixed order: category, citation,
  effective, when, for each line, require, else;
* single spaces between words and around operators; ``a.b``, ``LOW..HIGH`` tight; texts
  re-escaped (only ``\\"`` and ``\\\\`` are escapes);
* a condition wider than WIDTH columns is broken before each ``and``/``or`` of its top
  level, one operand a line, indented two more; parentheses only where the meaning needs
  them, plus around an ``and`` inside an ``or``, and around a quantifier over lines that is
  an operand of ``and``, ``or`` or ``not``, so nobody has to remember precedence or how far
  a ``where`` reaches;
* code lists and table columns are filled to WIDTH, continuation lines aligned after
  ``{`` (or ``columns``); a line break you write between two entries is kept. A value set
  whose first code is on the line after ``{`` keeps its lines of codes as written,
  indented two spaces, each ending with a comma, and ``}`` on a line of its own;
* a comment on its own line(s) goes before the item or clause it precedes, a trailing
  comment stays at the end of its line (those on consecutive lines aligned).

``RuleFileLayout`` walks the full parse tree (every token kept) and places each comment
it was given by comments.
"""

from __future__ import annotations

from lark import Token, Tree

from .comments import CommentedTokens, first_token, is_exploded, last_token
from .document import BLANK, HARD, LINE, Align, Fill, Group, Nest, Own, Trail

_CLAUSE_ORDER = {"category": 0, "citation": 1, "effective": 2, "guard": 3}
_TIGHT = {"field", "code_range", "lookup"}  # without spaces: claim.plan, 70551..70553, t[k].c
_CONDITIONS = {"any_of", "all_of", "negation", "not_open", "not_closed", "comparison", "presence",
               "membership", "quantified", "line_quantifier", "date_window"}
_PARENTHESIZED = {"not_open", "not_closed"}  # a condition in parentheses, as the parser keeps it


class RuleFileLayout(CommentedTokens):
    """A rule file's tree as a document in the canonical layout (``file()``)."""

    # -- the file
    def file(self) -> list:
        doc, previous, last_line = [], None, None
        for item in self.tree.children:
            first = first_token(item)
            comments = self.leading.pop(first.start_pos, [])
            self.emitted += len(comments)
            tight = _short(previous) and _short(item)
            for comment in comments:
                if last_line is not None:
                    gap = comment.line - last_line
                    doc.append(BLANK if gap > 1 or (comment is comments[0] and not tight) else HARD)
                doc.append(Own(str(comment).rstrip()))
                last_line = comment.line
            if last_line is not None:
                gap = first.line - last_line
                doc.append(BLANK if gap > 1 or (not comments and not tight) else HARD)
            doc.append(getattr(self, item.data)(item))
            previous, last_line = item, last_token(item).end_line
        for comment in self.tail:
            if last_line is not None:
                doc.append(BLANK if comment.line - last_line > 1 else HARD)
            doc.append(Own(str(comment).rstrip()))
            last_line = comment.line
        self.emitted += len(self.tail)
        return doc

    def words(self, node, explode: bool = False) -> list:
        """A node's tokens and parts separated by single spaces; ``explode``: a code list
        among them keeps its lines of codes as written, if its first code is on the line after ``{``."""
        parts = []
        for child in node.children:
            if parts:
                parts.append(" ")
            if explode and isinstance(child, Tree) and child.data == "code_list":
                parts.append(self.code_list(child, explode=True))
            else:
                parts.append(self.part(child))
        return parts

    def part(self, node) -> list:
        if isinstance(node, Token):
            return self.tok(node)
        if node.data in _TIGHT:
            return [self.part(child) for child in node.children]
        if node.data == "code_list":
            return self.code_list(node, explode=False)
        if node.data == "aggregate":
            return self.aggregate(node)
        if node.data == "arithmetic":
            return self.arithmetic(node)
        if node.data in _CONDITIONS:
            return self.condition(node, "top")
        return self.words(node)

    # -- items
    def valueset(self, node) -> list:
        return self.words(node, explode=True)

    def disable(self, node) -> list:
        return self.words(node)

    def table(self, node) -> list:
        children = list(node.children)
        index = next(i for i, c in enumerate(children) if isinstance(c, Token) and c == "columns")
        head, word, rest = children[:index], children[index], children[index + 1:]
        columns = [c for c in rest if not (isinstance(c, Tree) and c.data == "row_dates")]
        body = [HARD, *self.take_leading(word),
                Nest([self.tok(word), " ", Align(self.listing(columns, None))])]
        for dates in (c for c in rest if isinstance(c, Tree) and c.data == "row_dates"):
            body += [HARD, self.clause(dates)]
        return [self.words(Tree("head", head)), Nest(body)]

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
        return [self.words(Tree("head", head)), Nest(body)]


    def clause(self, node) -> list:
        # comments before a clause stand at its indentation; its own breaks go two further
        return [*self.take_leading(first_token(node)), Nest(self.words(node))]

    def close(self, before: list, closing: Token | None, text: str) -> list:
        """``closing`` after an entry, ``before`` the comments written between the two.

        One trailing comment goes after the closing bracket, where it stays on the next run;
        with more comments the bracket goes after them, on a line of its own."""
        if closing is not None:
            before = before + self.take_leading(closing)
            after = self.take_trailing(closing)
        else:
            after = []
        if not after and len(before) <= 1 and all(isinstance(c, Trail) for c in before):
            return [text, *before]
        return [*before, text, *after]

    def aggregate(self, node) -> list:
        """``count of other lines where (...)``: its condition tight inside the parentheses."""
        children = list(node.children)
        if len(children) < 4:  # no where
            return self.words(node)
        opening, closing = children[-3], children[-1]
        head = self.words(Tree("head", children[:-3]))
        body = self.condition(children[-2], "top")
        return [head, " ", self.tok(opening), Nest(body), *self.close([], closing, ")")]

    def arithmetic(self, node) -> Group:
        """``a + b - c``: on one line if it fits, else broken before each sign."""
        first, *rest = node.children
        parts = [self.part(first)]
        for sign, operand in zip(rest[::2], rest[1::2]):
            parts.append(Nest([LINE, self.part(sign), " ", self.part(operand)]))
        return Group(parts)

    # -- code lists and table columns
    def code_list(self, node, explode: bool) -> list:
        opening, closing = node.children[0], node.children[-1]
        inner = node.children[1:-1]
        if explode and is_exploded(node):
            return self.exploded(opening, inner, closing)
        return [self.tok(opening), Align(self.listing(inner, closing))]

    def _rows(self, inner):
        """Entries (with the comma after each, if any), grouped by the line they start on."""
        entries, rows = [], []
        for child in inner:
            if isinstance(child, Token) and child.type == "COMMA":
                entries[-1][1] = child
            else:
                entries.append([child, None])
        for entry, comma in entries:
            if rows and first_token(entry).line <= (rows[-1][-1][1] or last_token(rows[-1][-1][0])).end_line:
                rows[-1].append((entry, comma))
            else:
                rows.append([(entry, comma)])
        return rows

    def listing(self, inner, closing: Token | None) -> Fill:
        """Entries filled to WIDTH, the author's line breaks kept, ``closing`` after the last."""
        parts, rows = [], self._rows(inner)
        for r, row in enumerate(rows):
            for e, (entry, comma) in enumerate(row):
                last = r == len(rows) - 1 and e == len(row) - 1
                moved = self.take_trailing(last_token(entry))
                content = [self.part(entry)]
                if not last:
                    content += self.close(moved, comma, ",")
                else:
                    moved += self.drop(comma) if comma is not None else []
                    content += self.close(moved, closing, "}") if closing is not None else moved
                if parts:
                    parts.append(HARD if e == 0 else LINE)
                parts.append(content)
        return Fill(parts)

    def exploded(self, opening: Token, inner, closing: Token) -> list:
        body, end_line = [], opening.line
        for row in self._rows(inner):
            first = first_token(row[0][0])
            start = min([c.line for c in self.leading.get(first.start_pos, [])] + [first.line])
            body.append(BLANK if start - end_line > 1 and body else HARD)
            parts = []
            for entry, comma in row:
                moved = self.take_trailing(last_token(entry))
                if parts:
                    parts.append(LINE)
                parts.append([self.part(entry), *self.close(moved, comma, ",")])
            body.append(Fill(parts))
            end_line = last_token(row[-1][1] or row[-1][0]).end_line
        body += self.take_leading(closing)
        return [self.tok(opening), Nest(body), HARD, self.tok(closing, lead=False)]

    # -- conditions
    def condition(self, node, context: str) -> list:
        """``context``: "top", or the operator the condition is an operand of ("or", "and", "not")."""
        node, opens, closes = _unwrap(node)
        kind = node.data
        needs = ((context == "not" and kind in ("any_of", "all_of"))
                 or (context == "and" and kind == "any_of")
                 or (context == "or" and kind == "all_of")
                 or (context != "top" and kind == "line_quantifier"))
        opening = (self.tok(opens.pop()) if opens else "(") if needs else ""
        moved = self.take_trailing(last_token(node)) if needs else []
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
        return [*map(self.drop, opens), opening, Nest(body), closing, *map(self.drop, closes)]

    def chain(self, node) -> Group:
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
                        and not any(isinstance(x, Trail) for x in parts[-1][2])):
                    # comments between an operator and its operand go before the operator
                    for token in _opening(item):
                        parts[-1][1] += self.take_leading(token)
                        if token.start_pos in self.trailing:
                            break
                parts.append(self.condition(item, operator))
        return Group(parts)

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
    while isinstance(condition, Tree) and condition.data in _PARENTHESIZED:  # ( condition )
        opens.append(condition.children[0])
        closes.insert(0, condition.children[2])
        condition = condition.children[1]
    return condition, opens, closes


def _opening(condition):
    """The parentheses that open a condition, and its first token after them."""
    inner, opens, _ = _unwrap(condition)
    return [*opens, first_token(inner)]


def _short(item) -> bool:
    """Items that may stay on consecutive lines: disables and value sets not written one
    line of codes per line."""
    if item is None or item.data not in ("valueset", "disable"):
        return False
    return not any(isinstance(c, Tree) and c.data == "code_list" and is_exploded(c)
                   for c in item.children)

