"""A rule file's parse tree with its comments, each comment given to one token.

The grammar ignores comments, so this parse keeps them aside (with every punctuation
token, whose lines the layout needs). A comment on the line where a token ends trails that
token; any other comment leads the token after it. A few are then settled onto a
neighbouring token, so that a comment lands in the same place on every run whether the
bracket it touched is kept, dropped or moved. ``CommentedTokens`` hands each comment out
once, as a document part; the layout (layout) counts them all back in.
"""

from __future__ import annotations

import bisect
import functools
import threading
from collections import defaultdict

from lark import Lark, Token, Tree

from rulesengine.language.syntax import _text, grammar_text

from .document import Own, Trail

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


def parse_with_comments(text: str) -> tuple[Tree, list[Token]]:
    """The full parse tree of a rule file (every token kept) and its comments, in order."""
    _comment_sink.comments = []
    try:
        tree = _parser().parse(text)
        return tree, _comment_sink.comments
    finally:
        _comment_sink.comments = []


def comments_of(text: str) -> list[str]:
    """The comments of a rule file, in order, without trailing spaces."""
    return [str(c).rstrip() for c in parse_with_comments(text)[1]]


def tokens_of(node):
    """Every token under a node, in tree order."""
    if isinstance(node, Token):
        yield node
    else:
        for child in node.children:
            yield from tokens_of(child)


def first_token(node) -> Token:
    return node if isinstance(node, Token) else first_token(node.children[0])


def last_token(node) -> Token:
    return node if isinstance(node, Token) else last_token(node.children[-1])


def is_exploded(code_list: Tree) -> bool:
    """A value set's list written with its first code on the line after ``{``."""
    return first_token(code_list.children[1]).line > code_list.children[0].line


def _quote(token: Token) -> str:
    # decode with the parser's own function (so the two cannot drift), then escape only what must be
    value = _text(token)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class CommentedTokens:
    """The comments of a tree by the token they belong to, each handed out once.

    ``count`` is how many there are and ``emitted`` how many have been handed out: a
    layout that leaves one out is a bug."""

    def __init__(self, tree: Tree, comments: list[Token]):
        self.tree = tree
        tokens = sorted(tokens_of(tree), key=lambda t: t.start_pos)
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
                 and is_exploded(item.children[-1])}  # '}' on a line of its own

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

    def take_leading(self, token: Token) -> list:
        found = self.leading.pop(token.start_pos, [])
        self.emitted += len(found)
        return [Own(str(c).rstrip()) for c in found]

    def take_trailing(self, token: Token) -> list:
        found = self.trailing.pop(token.start_pos, None)
        if found is None:
            return []
        self.emitted += 1
        return [Trail(str(found).rstrip())]

    def tok(self, token: Token, lead: bool = True) -> list:
        text = _quote(token) if token.type == "STRING" else str(token)
        return [*(self.take_leading(token) if lead else []), text, *self.take_trailing(token)]

    def drop(self, token: Token) -> list:
        """A token not written (a redundant parenthesis, a trailing comma): only its comments."""
        return [*self.take_leading(token), *self.take_trailing(token)]

    def has_comments(self, node) -> bool:
        return any(t.start_pos in self.leading or t.start_pos in self.trailing
                   for t in tokens_of(node))
